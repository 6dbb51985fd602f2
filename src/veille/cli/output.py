"""How commands print: plain lines, JSON Lines (``--json``), relative times."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from typing import Any

import orjson

from veille.util.dates import relative

__all__ = ["json_line", "json_lines", "out", "relative"]


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    _text_pending[id(sys.stdout)] = True


def json_line(obj: dict[str, Any]) -> None:
    """One JSON object per line, UTF-8 (orjson: `items --json` writes 100,000)."""
    json_lines((obj,))


def json_lines(objs: Iterable[dict[str, Any]], *, chunk: int = 128) -> None:
    """JSON Lines of ``objs``, written ``chunk`` lines at a time as they come: one
    write per line was a tenth of `items --json` at 100,000 items, and one write
    of them all would hold the whole output (60 MB) in memory.  128 lines of an
    item (~80 KB) stay under malloc's mmap threshold: 256 cost 3 MB of RSS."""
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and _text_pending.get(id(stream), True):
        stream.flush()  # keep order with anything printed as text before
        _text_pending[id(stream)] = False
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    it = iter(objs)
    while lines := [dumps(obj, option=option) for obj in itertools.islice(it, chunk)]:
        data = b"".join(lines)
        if buffer is None:  # a test's capture, a text-only stream
            stream.write(data.decode())
        else:
            buffer.write(data)


_text_pending: dict[int, bool] = {}
