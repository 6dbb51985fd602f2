"""`?`: every key of the app, what it does, and the action name to rebind it with.

The names in the third column are the ones ``[keys]`` in config.toml takes
(``toggle_read = "m,r"``); the keys shown are the ones in force after rebinding,
written as Textual writes them everywhere else (``{``, ``^s``).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from veille.tui.keys import (
    APP_KEYS,
    FEEDS_KEYS,
    MAIN_KEYS,
    RULES_KEYS,
    SHARES_KEYS,
    KeyDef,
    effective_keys,
)


def key_display(app: App[Any], keys: str) -> str:
    """ "left_curly_bracket,ctrl+s" as the user types them: "{, ^s"."""
    shown = []
    for key in keys.split(","):
        key = key.strip()
        if key:
            shown.append(app.get_key_display(Binding(key, "", show=False)))
    return ", ".join(shown)


def keys_table(app: App[Any], keymap: dict[str, str], keys: list[KeyDef]) -> Table:
    table = Table(box=None, show_header=True, pad_edge=False, expand=True)
    table.add_column(Text("keys"), style="bold", no_wrap=True, ratio=2)
    table.add_column(Text("what it does"), ratio=5)
    # The names are typed into config.toml: never cut, whatever the width.
    table.add_column(
        Text("[keys] name"), style="dim", no_wrap=True, min_width=max(len(k.id) for k in keys)
    )
    for kd in keys:
        table.add_row(
            Text(key_display(app, effective_keys(keymap, kd))), Text(kd.description), Text(kd.id)
        )
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss(None)", "Close", show=False),
    ]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        app = self.app
        with VerticalScroll(id="help-box"):
            yield Static(
                Text('veille — keys  (rebind in config.toml: [keys] then name = "key,key")'),
                id="help-title",
            )
            yield Static(keys_table(app, self.keymap, [*MAIN_KEYS, *APP_KEYS]), id="help-table")
            yield Static(Text("1–9 then o: open link number N of the item"), id="help-digits")
            yield Static(Text("\nIn the Shares view (S)", style="bold"))
            yield Static(keys_table(app, self.keymap, SHARES_KEYS), id="help-shares")
            yield Static(Text("\nIn the feeds pane (F)", style="bold"))
            yield Static(keys_table(app, self.keymap, FEEDS_KEYS), id="help-feeds")
            yield Static(Text("\nIn the rules view (M)", style="bold"))
            yield Static(keys_table(app, self.keymap, RULES_KEYS), id="help-rules")
            yield Static(Text("esc closes", style="dim"))
