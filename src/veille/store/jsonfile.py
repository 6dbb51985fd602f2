"""Crash-safe JSON files: write to a temp file, fsync, rename over, fsync the folder.

After ``kill -9`` at any moment a file holds either its old or its new
content, never half of each.  A file that still fails to parse (disk trouble,
a hand edit) is moved aside and the store reopens without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def dump(data: Any) -> bytes:
    return orjson.dumps(data)


def load(path: Path) -> Any | None:
    """Parse a JSON file; None when missing or empty; a corrupt file is set aside."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        log.warning("%s is not valid JSON (%s); moved to %s", path, exc, aside.name)
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        return None


def remove_stale_temps(folder: Path) -> None:
    """Temp files left by a process killed mid-write are garbage: remove them."""
    for tmp in folder.glob(f".*{TMP_SUFFIX}"):
        try:
            pid = int(tmp.name.rsplit(".", 2)[-2])
        except (ValueError, IndexError):
            pid = -1
        if pid == os.getpid():
            continue
        if pid > 0 and _alive(pid):
            continue
        tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
