"""The composer's live preview: each ticked destination's text exactly as it will be
posted, with a counter against that destination's limit.

The texts come from the outbox's own renderer (``outbox.build_share``), so what is
shown is what is sent; a reply or a quote says how each destination carries it
("a reply to @ann@a.example's post", "the post is linked instead"), or why it
cannot ("a reply goes to Bluesky only").  Everything is built as ``Text`` with
``append``: a comment, a title or a server's reason is never read as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from veille.render.hygiene import clean_line
from veille.tui.services.compose import PreviewEntry

KIND_LABELS = {
    "atom": "your Atom feed",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "micropub": "Micropub",
    "command": "command",
}


class SharePreview(VerticalScroll, can_focus=False):
    """A scrollable stack of previews, one per ticked destination."""

    COMPONENT_CLASSES = {"preview--name", "preview--count", "preview--over", "preview--empty"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[PreviewEntry] = []

    def compose(self) -> ComposeResult:
        yield Static(id="preview-body")

    def show(self, entries: list[PreviewEntry]) -> None:
        """Redraw; cheap enough to follow every keystroke."""
        self.entries = list(entries)
        self.query_one("#preview-body", Static).update(self.render_entries())

    def render_entries(self) -> Text:
        style = self.get_component_rich_style
        t = Text(end="")
        if not self.entries:
            t.append("No destination ticked (ctrl+o chooses).", style=style("preview--empty"))
            return t
        for i, e in enumerate(self.entries):
            if i:
                t.append("\n\n")
            t.append(clean_line(e.name), style=style("preview--name"))
            kind = KIND_LABELS.get(e.kind, e.kind)
            if kind and kind != e.name:
                t.append(f" ({kind})", style=style("preview--count"))
            t.append("  ")
            counter = ("✗ " if not e.ok else "") + clean_line(e.counter)
            t.append(counter, style=style("preview--over" if not e.ok else "preview--count"))
            if e.note and e.ok:  # how a reply or a quote goes here
                t.append("\n")
                t.append("↳ " + clean_line(e.note), style=style("preview--count"))
            t.append("\n")
            t.append(e.text or ("(not sent)" if not e.ok else "(empty)"))
        return t

    def text_of(self, name: str) -> str | None:
        """The previewed text for one destination (tests, and the send check)."""
        for e in self.entries:
            if e.name == name:
                return e.text
        return None
