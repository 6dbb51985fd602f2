"""UI state remembered between runs (pane sizes, theme, view) in ``state/ui.json``.

Written atomically (temp file + fsync + rename) so a crash mid-write leaves the
previous state, never half a file; a damaged file just means defaults.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from veille.util.atomicfile import write_atomic

STREAM_WIDTH = (20, 80)  # percent of the screen width
COMPOSER_HEIGHT = (4, 30)  # rows


@dataclass
class UIState:
    stream_width: int = 45
    composer_height: int = 8
    theme: str = ""  # empty: the config's theme
    view: dict[str, str] = field(default_factory=lambda: {"kind": "all", "value": ""})

    def clamp(self) -> UIState:
        self.stream_width = max(STREAM_WIDTH[0], min(STREAM_WIDTH[1], int(self.stream_width)))
        self.composer_height = max(
            COMPOSER_HEIGHT[0], min(COMPOSER_HEIGHT[1], int(self.composer_height))
        )
        return self


def load_state(path: Path) -> UIState:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return UIState()
    if not isinstance(data, dict):
        return UIState()
    names = {f.name: f for f in fields(UIState)}
    kwargs: dict[str, Any] = {}
    defaults = UIState()
    for name, value in data.items():
        if name in names and isinstance(value, type(getattr(defaults, name))):
            kwargs[name] = value
    try:
        return UIState(**kwargs).clamp()
    except (TypeError, ValueError):
        return UIState()


def save_state(path: Path, state: UIState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(asdict(state), indent=2, sort_keys=True).encode()
    write_atomic(path, payload)
