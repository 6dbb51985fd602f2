"""JSON files of the store: fast (orjson) and honest about a damaged file.

After ``kill -9`` at any moment a file holds either its old or its new content,
never half of each (every write is temp file + fsync + rename).  A file that
still fails to parse, or parses to the wrong shape (disk trouble, a hand edit,
a file cut in half by a full disk), is moved aside with its bytes intact and
reported as :class:`Damaged`, so the store can say so and recover what it can
instead of carrying on as if the file had been empty.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from veille.util.atomicfile import fsync_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Damaged:
    """A file that could not be read; its bytes were kept at ``aside``."""

    path: Path
    aside: Path | None
    reason: str

    def line(self) -> str:
        kept = f"; its bytes are kept in {self.aside.name}" if self.aside else ""
        return f"{self.path.name} is damaged ({self.reason}){kept}"


def dump(data: Any) -> bytes:
    """JSON bytes of ``data``.  A lone surrogate (from a mis-decoded argument or
    file name) cannot be written as UTF-8: it becomes "?" rather than make
    every later write of the file fail."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        return orjson.dumps(_no_surrogates(data))


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_surrogates(v) for v in value]
    return value


def load(path: Path, *, table: str | None = None) -> dict[str, Any] | Damaged | None:
    """Parse a store file: None when missing or empty, :class:`Damaged` when unusable.

    ``table``: the TinyDB table the file must hold as a mapping of documents.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    if not raw.strip():
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _set_aside(path, f"not valid JSON: {str(exc).splitlines()[0]}")
    reason = _shape_problem(data, table)
    if reason:
        return _set_aside(path, reason)
    return data  # type: ignore[no-any-return]


def _shape_problem(data: Any, table: str | None) -> str:
    if not isinstance(data, dict):
        return f"expected an object, found {type(data).__name__}"
    if table is None or table not in data:
        return ""
    docs = data[table]
    if not isinstance(docs, dict):
        return f"'{table}' is {type(docs).__name__}, not an object"
    for key, doc in docs.items():
        if not isinstance(doc, dict):
            return f"'{table}' entry {key[:20]!r} is {type(doc).__name__}, not an object"
    return ""


def _set_aside(path: Path, reason: str) -> Damaged:
    aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        log.error("%s is damaged (%s) and could not be moved aside: %s", path, reason, exc)
        return Damaged(path, None, reason)
    log.warning("%s is damaged (%s); moved to %s", path, reason, aside.name)
    fsync_dir(path.parent)
    return Damaged(path, aside, reason)


def looks_whole(path: Path) -> bool:
    """A cheap check that a store file was written whole: it starts as every file
    veille writes does and ends its JSON object.  A lazily opened store runs it on
    the files it does not read yet, so a file cut in half is still noticed (and
    its feeds fetched again) by a command that never needs its items."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 16))
            tail = fh.read().rstrip()
    except OSError:
        return False
    return head.startswith(b'{"') and tail.endswith(b"}")
