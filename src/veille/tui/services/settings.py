"""Noticing that config.toml changed on disk, so a running app sees an account
added from the command line without a restart.

A stat per check (size, mtime, inode): cheap enough for a timer.
"""

from __future__ import annotations

import os
from pathlib import Path

from veille.config import Config, load_config


class ConfigWatcher:
    """``poll()`` returns the new Config when the file changed (raises ConfigError
    when the new file is bad), else None."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._sig = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def poll(self) -> Config | None:
        sig = self._stat()
        if sig == self._sig or self.path is None:
            return None
        self._sig = sig
        return load_config(self.path)
