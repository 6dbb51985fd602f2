"""The composer: "reshare with comment", prefilled for the selected item.

Every edit is saved as a draft keyed by the item id; the durable write runs on
a thread so typing never waits for fsync, and it follows each edit within a
fraction of a second, so a ``kill -9`` loses at most that.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea

from veille.render.hygiene import clean_line


class Composer(Vertical):
    """A title line and a TextArea holding the share text."""

    class DraftChanged(Message):
        def __init__(self, item_id: str, text: str) -> None:
            super().__init__()
            self.item_id = item_id
            self.text = text

    def __init__(self, *, cursor_blink: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.item_id: str | None = None
        self.prefill = ""
        self._loaded = ""
        self._blink = cursor_blink

    def compose(self):  # type: ignore[override]
        yield Static(Text("Reshare with comment", style="bold"), id="composer-title")
        area = TextArea(id="composer-text", soft_wrap=True, show_line_numbers=False)
        area.cursor_blink = self._blink
        yield area

    @property
    def area(self) -> TextArea:
        return self.query_one("#composer-text", TextArea)

    @property
    def text(self) -> str:
        return self.area.text

    def load(self, item_id: str | None, prefill: str, draft: dict[str, Any] | None) -> None:
        """Show the draft of ``item_id`` (or the prefilled text when none)."""
        self.item_id = item_id
        self.prefill = prefill
        text = (draft or {}).get("text") if draft else None
        self._loaded = text if isinstance(text, str) else prefill
        self.area.load_text(self._loaded)
        self.area.move_cursor((0, 0))
        title = self.query_one("#composer-title", Static)
        label = Text("Reshare with comment", style="bold")
        if draft:
            label.append("  · draft saved", style="dim")
        title.update(label)
        self.area.disabled = item_id is None

    def mark_saved(self, saved: bool) -> None:
        label = Text("Reshare with comment", style="bold")
        if saved:
            label.append("  · draft saved", style="dim")
        self.query_one("#composer-title", Static).update(label)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        if self.item_id is None or self.area.text == self._loaded:
            return  # our own load_text, not an edit
        self._loaded = self.area.text
        self.post_message(self.DraftChanged(self.item_id, self.area.text))


def heading(title: str) -> Text:
    return Text(clean_line(title), style="bold")
