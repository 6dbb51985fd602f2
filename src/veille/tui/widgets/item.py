"""The item pane: header (title, source, author, date, tags, link), the body
rendered from HTML with numbered links, and the list of those links.

Everything shown is built as ``rich.text.Text`` from plain strings; nothing
from a feed is parsed as markup or reaches the terminal as escape codes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from veille.domain.records import Content, Item
from veille.render.hygiene import clean_line

try:  # the renderer is a sibling module; keep the app usable without it
    from veille.render.html import Link, link_list, render_html, render_plain
except ImportError:  # pragma: no cover - only while the module is being written
    render_html = render_plain = link_list = None  # type: ignore[assignment]
    Link = None  # type: ignore[assignment,misc]

CACHE_SIZE = 32


class ItemView(VerticalScroll, can_focus=True):
    """Scrollable view of one item."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.item_id: str | None = None
        self.links: list[Any] = []
        self.link: str = ""
        self._cache: OrderedDict[tuple[str, str, int], tuple[Text, list[Any]]] = OrderedDict()

    def compose(self):  # type: ignore[override]
        yield Static(id="item-header")
        yield Static(id="item-body")
        yield Static(id="item-links")

    def show_nothing(self, message: str = "") -> None:
        self.item_id = None
        self.links = []
        self.link = ""
        self.query_one("#item-header", Static).update(Text(message, style="dim"))
        self.query_one("#item-body", Static).update("")
        self.query_one("#item-links", Static).update("")

    def show(
        self,
        item: Item,
        content: Content,
        *,
        source: str,
        when: str,
    ) -> None:
        """Display ``item``; scrolls to the top when it is a different item."""
        changed = item.id != self.item_id
        self.item_id = item.id
        self.link = item.link
        self.query_one("#item-header", Static).update(self._header(item, source, when))
        body, links = self._body(item, content)
        self.links = links
        self.query_one("#item-body", Static).update(body)
        footer = link_list(links) if link_list is not None else Text()
        self.query_one("#item-links", Static).update(footer)
        if changed:
            self.scroll_home(animate=False, immediate=True)

    def _header(self, item: Item, source: str, when: str) -> Text:
        t = Text(end="")
        t.append(clean_line(item.display_title) or "(untitled)", style="bold")
        t.append("\n")
        t.append(clean_line(source), style="italic")
        author = clean_line(item.author)
        if author:
            t.append(" · ")
            t.append(author)
        if when:
            t.append(" · ")
            t.append(when, style="dim")
        # Fixed-width marks: toggling one never changes how the header wraps,
        # so the app can repaint it without a layout pass.
        marks = [
            "★ starred" if item.starred else " " * 9,
            "↗ shared" if item.shared else " " * 8,
            "● unread" if not item.read else " " * 8,
        ]
        t.append("  ")
        t.append("  ".join(marks), style="dim")
        tags = [clean_line(x) for x in item.tags]
        if tags:
            t.append("\nTags: ", style="dim")
            t.append(", ".join(tags))
        cats = [clean_line(x) for x in item.categories][:8]
        if cats:
            t.append("\nCategories: ", style="dim")
            t.append(", ".join(cats), style="dim")
        if self.link:
            t.append("\n")
            t.append(clean_line(self.link), style="underline")
        t.append("\n")
        return t

    def _body(self, item: Item, content: Content) -> tuple[Text, list[Any]]:
        width = max(20, self.size.width - 4)
        key = (item.id, item.content_hash, width)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        html = content.html
        if not html:
            html, kind = item.summary, "text"
        else:
            kind = content.type
        if render_html is None:
            result = (Text(html), [])
        else:
            rendered = (
                render_plain(html)
                if kind == "text"
                else render_html(html, base_url=content.base or item.link, width_hint=width)
            )
            links = list(rendered.links)
            for enc in content.enclosures:
                url = enc.url
                known = any(link.url == url for link in links)
                if url and url.lower().startswith(("http://", "https://")) and not known:
                    kind_name = (enc.type or "enclosure").split(";")[0]
                    links.append(Link(len(links) + 1, url, url, kind_name))
            text = rendered.text
            text.append("\n")
            result = (text, links)
        self._cache[key] = result
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return result
