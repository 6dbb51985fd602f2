"""How commands print: plain lines, JSON Lines (``--json``), relative times."""

from __future__ import annotations

import json
import sys
from typing import Any

from veille.util.dates import age, now, parse_iso


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


def json_line(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def relative(ts: str | None) -> str:
    dt = parse_iso(ts)
    if dt is None:
        return "never"
    secs = (dt - now()).total_seconds()
    if secs > 0:
        from veille.refresh.schedule import describe_next

        return describe_next(dt, now())
    if secs > -60:
        return "just now"
    return f"{age(ts)} ago"
