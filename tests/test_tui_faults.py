"""Faults: a closed terminal, kill -9, a disk that refuses writes.  Real processes in
tmux where the fault is a process's (signals), Pilot where it is the disk's."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui_helpers import build_store, make_app, make_paths, started, wait_for
from veille.store.store import Store

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is absent")


def _tmux(sock: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tmux", "-L", sock, "-f", "/dev/null", *args], capture_output=True, text=True
    )


@contextlib.contextmanager
def veille_in_tmux(tmp_path: Path, width: int = 160, height: int = 50) -> Iterator[tuple[str, int]]:
    """`veille` as the pane's own process (exec): yields (tmux socket, its pid)."""
    exe = Path(sys.executable).parent / "veille"
    cmd = str(exe) if exe.exists() else f"{sys.executable} -m veille"
    sock = f"veille-faults-{os.getpid()}-{tmp_path.name}"[:60]
    inner = f"unset COLUMNS LINES; VEILLE_HOME={tmp_path / 'home'} exec {cmd}"
    _tmux(sock, "new-session", "-d", "-s", "v", "-x", str(width), "-y", str(height), inner)
    try:
        pid = int(_tmux(sock, "display", "-p", "-t", "v", "#{pane_pid}").stdout.strip())
        yield sock, pid
    finally:
        _tmux(sock, "kill-server")


def capture(sock: str) -> str:
    return _tmux(sock, "capture-pane", "-p", "-t", "v").stdout


def until(cond, timeout: float = 30.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never came true")
        time.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie of tmux's still counts as gone
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state == "Z"
    return False


def starred_on_disk(paths) -> set[str]:  # type: ignore[no-untyped-def]
    store = Store(paths.store, autoflush=False)
    try:
        return {i for i in store.ordered_ids() if store.get_item(i).starred}
    finally:
        store.close()


@needs_tmux
@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM"])
def test_closing_the_terminal_saves_every_mark(tmp_path: Path, how: str):
    """SIGHUP (the terminal closed) or SIGTERM right after the marks show: the
    store's background write (0.2 s later) has not run yet; the handler saves."""
    paths = make_paths(tmp_path)
    build_store(paths.store).close()
    with veille_in_tmux(tmp_path) as (sock, pid):
        until(lambda: "Story 0 from feed 0" in capture(sock) and "Links:" in capture(sock))
        _tmux(sock, "send-keys", "-t", "v", "s", "j", "s")
        until(lambda: capture(sock).count("★") >= 2, what="two stars on screen")
        if how == "SIGHUP":
            _tmux(sock, "kill-session", "-t", "v")  # what closing the terminal does
        else:
            os.kill(pid, signal.SIGTERM)
        until(lambda: gone(pid), what="veille exiting")
    assert len(starred_on_disk(paths)) == 2


@needs_tmux
def test_kill_9_one_second_after_marks_loses_nothing(tmp_path: Path):
    paths = make_paths(tmp_path)
    build_store(paths.store).close()
    with veille_in_tmux(tmp_path) as (sock, pid):
        until(lambda: "Story 0 from feed 0" in capture(sock) and "Links:" in capture(sock))
        _tmux(sock, "send-keys", "-t", "v", "s", "j", "s", "j", "x")
        until(lambda: capture(sock).count("★") >= 2, what="the marks on screen")
        time.sleep(1.0)  # the scenario: killed one second after the marks
        os.kill(pid, signal.SIGKILL)
        until(lambda: gone(pid))
    assert len(starred_on_disk(paths)) == 2
    store = Store(paths.store, autoflush=False)
    try:
        assert sum(store.get_item(i).hidden for i in store.ordered_ids()) == 1
    finally:
        store.close()


@contextlib.contextmanager
def refusing_writes(folders: list[Path]) -> Iterator[None]:
    """Folders where no file can be created, even by root (chattr +i then)."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a folder read-only")
        done = []
        try:
            for f in folders:
                if subprocess.run(["chattr", "+i", str(f)], capture_output=True).returncode:
                    pytest.skip("this file system does not take chattr +i")
                done.append(f)
            yield
        finally:
            for f in done:
                subprocess.run(["chattr", "-i", str(f)], capture_output=True)
    else:
        modes = {f: f.stat().st_mode for f in folders}
        try:
            for f in folders:
                f.chmod(0o555)
            yield
        finally:
            for f, mode in modes.items():
                f.chmod(mode)


async def test_a_refused_write_is_on_screen_until_it_heals(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    folders = [paths.store, paths.store / "items", paths.store / "content"]
    try:
        async with make_app(store, paths).run_test(size=(160, 50), notifications=True) as pilot:
            screen = await started(pilot)
            iid = screen.stream.current_id
            with refusing_writes(folders):
                await pilot.press("s")
                await wait_for(
                    pilot, lambda: "not saved:" in screen.status_text, what="the warning"
                )
                assert "retrying" in screen.status_text
                assert str(paths.store) in screen.status_text
            # writable again: the store's retry writes it, the warning goes
            await wait_for(pilot, lambda: "not saved" not in screen.status_text, timeout=30)
            assert iid in starred_on_disk(paths)
    finally:
        store.close()


async def test_quit_with_unsaved_changes_asks_once_and_never_raises(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    folders = [paths.store, paths.store / "items", paths.store / "content"]
    with refusing_writes(folders):
        app = make_app(store, paths)
        async with app.run_test(size=(160, 50), notifications=True) as pilot:
            screen = await started(pilot)
            await pilot.press("s")
            await pilot.press("q")
            await wait_for(pilot, lambda: "not saved:" in screen.status_text)
            from tests.tui_helpers import toasts

            await wait_for(pilot, lambda: any("Press q again" in t for t in toasts(app)))
            assert app.is_running
            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running)
        assert app.return_code == 0
    store.close()  # writable again: the star is written now
    assert len(starred_on_disk(paths)) == 1
