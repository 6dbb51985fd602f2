"""An inter-process lock (flock) around read-merge-write of store files.

Two veille processes (a cron ``veille refresh`` and the open app) may write the
same files; each takes this lock, re-reads what changed on disk, merges its own
pending changes in, and writes.  flock is released by the kernel when a process
dies, so a ``kill -9`` never leaves the store locked.

If the lock file cannot be opened (a read-only store, a full disk), entering
raises at once and leaves nothing held: a writer fails, it never hangs, and
readers never need this lock.
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
        try:
            if self._depth == 0:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)
        finally:
            self._thread_lock.release()
