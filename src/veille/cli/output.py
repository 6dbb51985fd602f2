"""How commands print: plain lines, JSON Lines (``--json``), relative times."""

from __future__ import annotations

import sys
from typing import Any

import orjson

from veille.util.dates import relative

__all__ = ["json_line", "out", "relative"]


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    _text_pending[id(sys.stdout)] = True


def json_line(obj: dict[str, Any]) -> None:
    """One JSON object per line, UTF-8 (orjson: `items --json` writes 100,000)."""
    line = orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a test's capture, a text-only stream
        stream.write(line.decode())
        return
    if _text_pending.get(id(stream), True):
        stream.flush()  # keep order with anything printed as text before
        _text_pending[id(stream)] = False
    buffer.write(line)


_text_pending: dict[int, bool] = {}
