"""Smoke test in a real terminal: tmux runs `veille`, we read the panes back
with capture-pane and quit with q."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tui_helpers import build_store, make_paths

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is absent")


def _tmux(sock: str, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    # Our own server (-L) without the user's config (-f): a fixed size, no surprises.
    return subprocess.run(
        ["tmux", "-L", sock, "-f", "/dev/null", *args], capture_output=True, text=True, check=check
    )


def _capture(sock: str, session: str) -> str:
    return _tmux(sock, "capture-pane", "-p", "-t", session).stdout


def test_tmux_smoke(tmp_path: Path):
    paths = make_paths(tmp_path)
    build_store(paths.store).close()
    exe = Path(sys.executable).parent / "veille"
    cmd = str(exe) if exe.exists() else f"{sys.executable} -m veille.tui.app"
    session = f"veille-smoke-{tmp_path.name}"[:40]
    done = tmp_path / "exit-code"
    inner = f"unset COLUMNS LINES; VEILLE_HOME={tmp_path / 'home'} {cmd}; echo $? > {done}"
    sock = f"veille-test-{os.getpid()}"
    _tmux(sock, "new-session", "-d", "-s", session, "-x", "160", "-y", "50", inner, check=True)
    try:
        screen = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            screen = _capture(sock, session)
            wanted = ("Story 0 from feed 0", "Reshare with comment", "unread /", "Links:")
            if all(w in screen for w in wanted):  # a loaded CI machine paints in steps
                break
            time.sleep(0.2)
        assert "veille" in screen and "unread /" in screen  # status bar
        assert "Site 0" in screen  # stream: the source column
        assert "Reshare with comment" in screen  # composer
        assert "[@click=app.quit]Click[/]" in screen  # literal, not markup
        assert "Links:" in screen  # item pane with numbered links
        _tmux(sock, "send-keys", "-t", session, "j", check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "Story 0 from feed 1" in _capture(sock, session):
                break
            time.sleep(0.1)
        assert "Story 0 from feed 1" in _capture(sock, session)
        _tmux(sock, "send-keys", "-t", session, "q", check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not done.exists():
            time.sleep(0.1)
        assert done.read_text().strip() == "0"
    finally:
        _tmux(sock, "kill-server")
    saved = paths.state / "ui.json"
    assert saved.is_file()  # the layout is remembered on quit
