"""Replace a file so readers (and a crash) see the old content or the new, never half.

Used for every file veille writes: store partitions, the shares' Atom feed,
config.toml edits, the app's UI state, exported OPML.

Where the name leads matters as much as how the bytes land:

* a symlink (dotfile managers link ``config.toml`` into a repository) is written
  through: its target is replaced atomically and the link stays a link;
* a FIFO or a character device (``/dev/stdout``, ``/dev/null``, a named pipe a script
  reads) is written straight into: a temp file and a rename would replace it;
* anything else that cannot be written (a missing or read-only folder, a full disk, a
  folder in the way) is a :class:`WriteError`, one line that says why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from veille.domain.errors import VeilleError
from veille.util.urls import shown

TMP_SUFFIX = ".tmp"
_TMP_PID = re.compile(r"\.(\d+)\.[^.]*\.tmp$")
_NAME_ROOM = 200  # temp names add ~20 characters; names are limited to 255


def _read_umask() -> int:
    """The process umask.  POSIX can only read it by setting it, so this is done once,
    at import (before veille starts threads): doing it per write, from the store's
    flusher thread, briefly left every other thread creating files with umask 0."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


class WriteError(VeilleError, OSError):
    """A file could not be written.  ``str()`` is one line, "cannot write PATH: why";
    ``strerror`` is the why alone (so ``except OSError`` callers keep working)."""

    def __init__(self, path: Path | str, reason: str, code: int = 0) -> None:
        super().__init__(code, reason, str(path))
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot write {shown(str(self.path), 300)}: {self.reason}"


# errno -> the OSError subclass Python itself would raise, so `except FileNotFoundError`
# and `except PermissionError` around a write keep meaning what they meant.
_SUBCLASS: dict[int, type[OSError]] = {
    errno.ENOENT: FileNotFoundError,
    errno.ENOTDIR: NotADirectoryError,
    errno.EISDIR: IsADirectoryError,
    errno.EACCES: PermissionError,
    errno.EPERM: PermissionError,
}
_KINDS: dict[type[OSError], type[WriteError]] = {}


def _error(path: Path | str, reason: str, code: int = 0) -> WriteError:
    """A WriteError that is also the OSError subclass matching ``code``."""
    base = _SUBCLASS.get(code)
    if base is None:
        return WriteError(path, reason, code)
    kind = _KINDS.get(base)
    if kind is None:
        kind = _KINDS[base] = type(f"WriteError({base.__name__})", (WriteError, base), {})
    return kind(path, reason, code)


def _reason(exc: OSError, folder: Path) -> str:
    """What went wrong, for a person: the folder named when it is the folder's fault."""
    where = shown(str(folder), 300)
    code = exc.errno
    if code == errno.ENOENT:
        return f"folder {where} does not exist"
    if code == errno.ENOTDIR:
        return f"{where} is not a folder"
    if code in (errno.EACCES, errno.EPERM):
        return f"no permission to write in {where}"
    if code == errno.EROFS:
        return f"{where} is on a read-only file system"
    if code == errno.ENOSPC:
        return "no space left on the device"
    if code == errno.EDQUOT:
        return "disk quota exceeded"
    if code == errno.ELOOP:
        return "too many levels of symbolic links"
    if code == errno.EPIPE:
        return "the reader closed the pipe"
    return (exc.strerror or type(exc).__name__).lower()


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
    """Write ``data`` to ``path`` so it holds the old bytes or the new, never a mix.

    A regular file (or a new one) is written to a temp file beside it, fsynced and
    renamed over; the new file keeps the old one's mode (or ``mode``; 0644 under the
    umask when new).  Symlinks are followed to their target, FIFOs and character
    devices written into directly (see the module docstring).  On any error the temp
    file is removed, ``path`` is untouched, and :class:`WriteError` says why.
    """
    path = Path(path)
    target = _target(path, data, mode)
    if target is None:
        return  # written into a FIFO or a device
    tmp = _write_temp(path, target, data)
    _rename(path, tmp, target[0])
    fsync_dir(target[0].parent)


def write_atomic_many(
    files: Sequence[tuple[Path, bytes]], *, threads: int = 8, durable: bool = True
) -> None:
    """:func:`write_atomic` for many files at once, at a fraction of the waiting.

    Each file is still replaced whole or not at all, but the slow parts are
    shared: the temp files are written and fsynced ``threads`` at a time (the
    disk takes concurrent flushes far faster than one after the other: 420
    store files went from 1.7 s to 0.3 s), then renamed, then each folder is
    fsynced once instead of once a file.  When this returns, every file is on
    disk, renames included; so a caller that writes a summary file next (the
    store's feeds file) keeps its crash order.

    If a temp file cannot be written, nothing is renamed and every temp file is
    removed (the old versions all stay); if a rename fails, the files before it
    are replaced and the rest are not.  Either way :class:`WriteError` says why.

    ``durable=False``: still whole or not at all for readers, but nothing is
    fsynced, so after a power cut a file may be empty or torn.  Only for files
    that are checked when read and rebuilt when wrong (the store's keys files):
    they were a third of the files a first refresh synced.
    """
    jobs: list[tuple[Path, tuple[Path, int], bytes]] = []
    for path, data in files:
        path = Path(path)
        target = _target(path, data, None)
        if target is not None:
            jobs.append((path, target, data))
    if len(jobs) <= 1 or not durable:
        for path, target, data in jobs:
            _rename(path, _write_temp(path, target, data, durable=durable), target[0])
        if durable:
            for folder in dict.fromkeys(target[0].parent for _, target, _ in jobs):
                fsync_dir(folder)
        return
    from concurrent.futures import ThreadPoolExecutor

    temps: list[Path | BaseException] = []

    def one(job: tuple[Path, tuple[Path, int], bytes]) -> Path | BaseException:
        try:
            return _write_temp(*job)
        except BaseException as exc:  # gathered: every temp must be known to clean up
            return exc

    with ThreadPoolExecutor(max_workers=min(threads, len(jobs))) as pool:
        temps = list(pool.map(one, jobs))
    failed = next((t for t in temps if isinstance(t, BaseException)), None)
    if failed is not None:
        for t in temps:
            if isinstance(t, Path):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(t)
        raise failed
    folders: dict[Path, None] = {}
    renamed = 0
    try:
        for (path, target, _), tmp in zip(jobs, temps, strict=True):
            assert isinstance(tmp, Path)
            _rename(path, tmp, target[0])  # on failure it removes its own temp file
            folders[target[0].parent] = None
            renamed += 1
    except BaseException:
        for tmp in temps[renamed + 1 :]:
            if isinstance(tmp, Path):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        raise
    finally:
        for folder in folders:
            fsync_dir(folder)


def _target(path: Path, data: bytes, mode: int | None) -> tuple[Path, int] | None:
    """Where the bytes of ``path`` go (symlinks followed) and the file's mode; None
    when ``path`` is a FIFO or a device, which is then written into at once."""
    try:
        st: os.stat_result | None = os.stat(path)  # follows links: what will be written
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _error(path, _reason(exc, path.parent), exc.errno or 0) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise _error(path, "it is a folder", errno.EISDIR)
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
            _write_stream(path, data)
            return None
        if not stat.S_ISREG(st.st_mode):
            raise _error(path, "it is not a regular file, a pipe or a terminal")
        if mode is None:
            mode = st.st_mode & 0o777
    # Through symlinks (chains too) to the file itself, so the rename replaces the
    # target and the link stays; a dangling link creates its target.
    if mode is None:
        mode = 0o644 & ~_UMASK
    return Path(os.path.realpath(path)), mode


def _write_temp(path: Path, target: tuple[Path, int], data: bytes, *, durable: bool = True) -> Path:
    """``data`` in a temp file beside the target (fsynced if ``durable``), with its mode."""
    real, mode = target
    folder = real.parent
    # The pid in the name lets a later process tell a dead writer's leftovers
    # from a live writer's file in progress (see remove_stale_temps).
    try:
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f".{real.name[:_NAME_ROOM]}.{os.getpid()}.", suffix=TMP_SUFFIX
        )
    except OSError as exc:
        raise _error(path, _reason(exc, folder), exc.errno or 0) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if durable:
                os.fsync(f.fileno())
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise _error(path, _reason(exc, folder), exc.errno or 0) from None
        raise
    return Path(tmp)


def _rename(path: Path, tmp: Path, real: Path) -> None:
    try:
        os.replace(tmp, real)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise _error(path, _reason(exc, real.parent), exc.errno or 0) from None
        raise


def _write_stream(path: Path, data: bytes) -> None:
    """Write into a FIFO or a character device, as a shell's ``>`` would (a FIFO waits
    for its reader).  There is nothing to replace and nothing to fsync."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise _error(path, _reason(exc, path.parent), exc.errno or 0) from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise _error(path, _reason(exc, path.parent), exc.errno or 0) from None
    finally:
        os.close(fd)


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
