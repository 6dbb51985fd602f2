"""`?`: every key of the app with what it does (after the user's rebinding)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from veille.tui.keys import APP_KEYS, MAIN_KEYS, effective_keys


def _pretty(keys: str) -> str:
    names = {
        "slash": "/", "question_mark": "?", "escape": "esc", "space": "space",
        "left_square_bracket": "[", "right_square_bracket": "]",
        "left_curly_bracket": "{", "right_curly_bracket": "}",
    }  # fmt: skip
    return ", ".join(names.get(k, k) for k in keys.split(","))


def keys_table(keymap: dict[str, str]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column("keys", style="bold", no_wrap=True, ratio=1)
    table.add_column("action", ratio=3)
    for kd in [*MAIN_KEYS, *APP_KEYS]:
        table.add_row(Text(_pretty(effective_keys(keymap, kd))), Text(kd.description))
    table.add_row(Text("1–9 o"), Text("Open link number N of the item"))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss(None)", "Close", show=False),
    ]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("veille — keys  (rebind in config.toml [keys])", style="bold"))
            yield Static(keys_table(self.keymap), id="help-table")
            yield Static(Text("esc to close", style="dim"))
