"""Replace a file so readers (and a crash) see the old content or the new, never half.

Used for every file veille writes: store partitions, the shares' Atom feed,
config.toml edits, the app's UI state, exported OPML.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

TMP_SUFFIX = ".tmp"
_TMP_PID = re.compile(r"\.(\d+)\.[^.]*\.tmp$")


def fsync_dir(folder: Path) -> None:
    """Make a rename durable; not possible on every platform, so best effort."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync it, rename it over.

    On any error the temp file is removed and ``path`` is untouched.  The new
    file keeps the old one's mode (or ``mode``; 0644 under the umask when new).
    """
    path = Path(path)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o644 & ~umask
    # The pid in the name lets a later process tell a dead writer's leftovers
    # from a live writer's file in progress (see remove_stale_temps).
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX
    )
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def remove_stale_temps(folder: Path) -> None:
    """Temp files left by a process killed mid-write are garbage: remove them,
    but never the file another live process is writing right now."""
    for tmp in folder.glob(f".*{TMP_SUFFIX}"):
        m = _TMP_PID.search(tmp.name)
        pid = int(m.group(1)) if m else -1
        if pid == os.getpid() or (pid > 0 and _alive(pid)):
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
