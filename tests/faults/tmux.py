"""The real app in a real terminal: ``python -m veille`` in a tmux pane of our own.

tmux gives what a user would see (``capture-pane``: the screen as drawn), every byte
the app wrote to its terminal (``pipe-pane``, started before the app runs), keys typed
as a user types them (``send-keys``) and a terminal that can be closed under the app
(``kill-session``: the pty hangs up, the app gets SIGHUP).  Each :class:`TmuxApp` runs
its own tmux server (``-L``) with no user configuration (``-f /dev/null``), so tests
never touch a user's tmux and can run side by side.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from tests.faults.procs import veille_pids, wait_until


def have_tmux() -> bool:
    return shutil.which("tmux") is not None


class TmuxApp:
    """``veille ARGS`` (default: the app) in a tmux pane of ``cols`` x ``rows``.

    ``record``: a file that receives every byte the app writes to its terminal.
    ``env``: extra environment (``VEILLE_HOME`` is always ``home``).
    """

    _count = 0

    def __init__(
        self,
        home: Path,
        *args: str,
        cols: int = 160,
        rows: int = 50,
        env: dict[str, str] | None = None,
        record: Path | None = None,
    ) -> None:
        TmuxApp._count += 1
        self.home = home
        self.args = args
        self.cols, self.rows = cols, rows
        self.env = {"VEILLE_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        self.record = record
        self.socket = f"veille-faults-{os.getpid()}-{TmuxApp._count}"
        self.session = "app"
        self.done = home.parent / f".{self.socket}.exit"
        self._go = home.parent / f".{self.socket}.go"

    # -- tmux ------------------------------------------------------------------------
    def tmux(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
        )

    def start(self) -> TmuxApp:
        """Open the terminal, start recording, then start veille in it."""
        self.home.parent.mkdir(parents=True, exist_ok=True)
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        command = shlex.join([sys.executable, "-m", "veille", *self.args])
        # The pane waits for `go` so that pipe-pane is recording before veille's
        # first byte; the exit status lands in `done`.
        inner = (
            f"while [ ! -e {shlex.quote(str(self._go))} ]; do sleep 0.02; done; "
            f"unset COLUMNS LINES; export {exports}; {command}; "
            f"echo $? > {shlex.quote(str(self.done))}"
        )
        self.tmux(
            "new-session", "-d", "-s", self.session, "-x", str(self.cols), "-y", str(self.rows),
            inner, check=True,
        )  # fmt: skip
        if self.record is not None:
            self.tmux(
                "pipe-pane", "-o", "-t", self.session, f"cat >> {shlex.quote(str(self.record))}",
                check=True,
            )  # fmt: skip
        self._go.touch()
        return self

    def __enter__(self) -> TmuxApp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Close everything this terminal started, however the scenario ended."""
        self.tmux("kill-server")
        for pid in veille_pids(self.home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        self._go.unlink(missing_ok=True)

    # -- what a user sees and does ---------------------------------------------------
    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session).stdout

    def wait_for(self, wanted: str | Callable[[str], bool], seconds: float = 20.0) -> bool:
        """Wait until the screen shows ``wanted`` (a string, or a test of the screen)."""
        test = (lambda s: wanted in s) if isinstance(wanted, str) else wanted
        return wait_until(lambda: test(self.screen()), seconds, 0.05)

    def title(self) -> str:
        """The window title the app (or anything it printed) set: OSC 0 and 2 land here."""
        return self.tmux("display-message", "-p", "-t", self.session, "#{pane_title}").stdout

    def keys(self, *keys: str) -> None:
        """Type keys (tmux names: ``j``, ``Enter``, ``C-c``...), one send-keys each."""
        for k in keys:
            self.tmux("send-keys", "-t", self.session, k, check=True)

    def time_key(self, key: str, changed: Callable[[str], bool], seconds: float) -> float | None:
        """Seconds from typing ``key`` until the screen passes ``changed``; None if never."""
        began = time.monotonic()
        self.keys(key)
        if self.wait_for(changed, seconds):
            return time.monotonic() - began
        return None

    def pids(self) -> list[int]:
        """veille's processes (the app and any worker), found by their VEILLE_HOME."""
        return veille_pids(self.home)

    def app_pid(self) -> int | None:
        """The app itself: the veille process whose parent is not a veille process."""
        pids = self.pids()
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid not in pids:
                return pid
        return None

    def exit_code(self) -> int | None:
        try:
            return int(self.done.read_text().strip())
        except (OSError, ValueError):
            return None

    def close_terminal(self) -> None:
        """What closing the window does: the pty hangs up under the app (SIGHUP)."""
        self.tmux("kill-session", "-t", self.session)

    def recorded(self) -> bytes:
        if self.record is None or not self.record.exists():
            return b""
        return self.record.read_bytes()
