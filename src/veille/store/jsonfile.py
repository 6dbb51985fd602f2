"""JSON files of the store: fast (orjson) and tolerant of a damaged file.

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
