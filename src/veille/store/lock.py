"""An inter-process lock (flock) around read-merge-write of store files.

Two veille processes (a cron ``veille refresh`` and the open TUI) may write
the same files; each takes this lock, re-reads what changed on disk, merges
its own pending changes in, and writes.  flock is released by the kernel when
a process dies, so a ``kill -9`` never leaves the store locked.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path


class ProcessLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._depth = 0
        self._thread_lock = threading.RLock()

    def __enter__(self) -> ProcessLock:
        self._thread_lock.acquire()
        if self._depth == 0:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._fd = fd
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._thread_lock.release()
