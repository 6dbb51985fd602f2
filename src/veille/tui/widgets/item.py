"""The item pane: header (title, source, author, date, marks, tags, link), the body
rendered from HTML with numbered links, and the list of those links.

A Line-API widget over rows wrapped by ``services.reading.wrap``: it draws only
the rows on screen, knows which character of the body each row starts with (so
``>`` quotes exactly the paragraph shown), and a huge body never blocks the app:
its first screenful is rendered at once and the rest on a thread.

Everything shown is built as ``rich.text.Text`` from plain strings; nothing
from a feed is parsed as markup or reaches the terminal as escape codes.

The body is the feed's text or, when the screen passes one, the item's full
article (same renderer, same numbered links; a header line says which).
Inline images, when an ImageLoader is set and wants them, are fetched,
decoded and encoded (off the UI thread) and drawn under their ``[img N: alt]``
line, which stays (alt text and numbered link are always there); an image
that cannot be shown gets a one-line note instead.  Nothing waits for an
image: the pane scrolls while they load.

An image is rows of the pane like any text (half blocks, or kitty's
placeholder cells), so it scrolls and clips with them.  The pixel protocols'
escapes go to the terminal through the app's writer (``VeilleApp.write_terminal``),
in order with Textual's frames, never inside them (Textual measures every
segment of a frame in cells, and would cut an escape): a kitty image once,
before the frame that shows its placeholders (the terminal keeps it); a
sixel or iTerm2 image after each frame that repaints the pane, over its rows,
while the whole image is on the active screen (a half-scrolled one shows its
half blocks).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from veille.domain.records import Content, Item
from veille.render.html import Link, Rendered, link_list
from veille.render.hygiene import clean_line
from veille.tui.services.reading import (
    PREVIEW_CHARS,
    Line,
    is_big,
    paragraph_at,
    render_body,
    wrap,
)
from veille.tui.widgets.sightings import SeenVia

if TYPE_CHECKING:  # Pillow and the image service load only when images are on
    from veille.render.images import DecodedImage
    from veille.tui.services.images import ImageLoader, Picture

CACHE_SIZE = 16  # rendered bodies kept (small ones; a big one is never cached)
RULE = "─"


class ItemView(ScrollView, can_focus=True):
    """Scrollable view of one item."""

    DEFAULT_CSS = """
    ItemView {
        overflow-x: hidden;
        scrollbar-gutter: stable;
    }
    ItemView > .item--note {
        color: $foreground-muted;
        text-style: italic;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"item--rule", "item--pending", "item--note"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.item_id: str | None = None
        self.links: list[Link] = []
        self.link: str = ""
        self.complete = True  # the whole body is rendered (False while a big one renders)
        self._item: Item | None = None
        self._content = Content()
        self._source = ""
        self._when = ""
        self._message = ""
        self._rendered: Rendered | None = None
        self._body: list[Line] = []
        self._header: list[Line] = []
        self._lines: list[Line] = []
        self._body_start = 0
        self._width = 0
        self._token = 0
        self._strips: dict[int, Strip] = {}
        self._cache: OrderedDict[tuple[str, str, int, str], tuple[Rendered, list[Line]]] = (
            OrderedDict()
        )
        self.shown = "feed"  # which body is shown: "feed" (its text) or "article"
        self.note = ""  # a line under the header: which body, or why there is no article
        self.image_loader: ImageLoader | None = None  # set by the screen: images on
        self._base_body: list[Line] = []  # the body's wrapped lines, without images
        self._images: dict[str, DecodedImage] = {}  # this item's, by URL, as they come
        self._pictures: dict[str, Picture] = {}  # and how each is drawn
        self._overlays: dict[int, Picture] = {}  # first pane row of each sixel/iTerm2 image
        self.seen_via = SeenVia()  # the "seen via" section after the body (widgets/sightings.py)

    # ------------------------------------------------------------- content
    def show_nothing(self, message: str = "") -> None:
        self._token += 1
        self.item_id = None
        self._item = None
        self._images = {}
        self._pictures = {}
        self.note = ""
        self.shown = "feed"
        self.links = []
        self.link = ""
        self.complete = True
        self._rendered = None
        self._message = message
        self._body = []
        self._relayout(header_only=False)

    def show(
        self,
        item: Item,
        content: Content,
        *,
        source: str,
        when: str,
        article: Content | None = None,
        note: str = "",
    ) -> None:
        """Display ``item``; scrolls to the top when it is a different item.

        ``article``: show this body (the full article) instead of the feed's;
        ``note``: one line under the header (which body is shown, or why the
        article is not)."""
        changed = item.id != self.item_id
        body = article if article is not None else content
        shown = "article" if article is not None else "feed"
        same_body = (
            not changed
            and self._item is not None
            and self._item.content_hash == item.content_hash
            and self._content == body
            and self.shown == shown
            and not self.seen_via.changed(item)
        )
        self.item_id = item.id
        self._item = item
        self._content = body
        self._source = source
        self._when = when
        self.link = item.link
        self.shown = shown
        self.note = note
        if same_body:
            self._relayout(header_only=True)
            return
        self._token += 1
        if changed:
            self._images = {}
            self._pictures = {}
        self._render_body()
        if changed or article is not None:
            self.scroll_to(y=0, animate=False, immediate=True, force=True)

    def update_marks(self, item: Item) -> None:
        """Same item, new read/star/tags: the header only (a row repaint, not a render)."""
        if item.id != self.item_id:
            return
        self._item = item
        self._relayout(header_only=True)

    def _text_width(self) -> int:
        return max(20, self.scrollable_content_region.width)

    def _render_body(self) -> None:
        item, content = self._item, self._content
        if item is None:
            return
        width = self._text_width()
        self._width = width
        key = (item.id, item.content_hash, width, self.shown)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self._set_body(*hit, complete=True)
            return
        if not is_big(item, content):
            rendered = render_body(item, content, width)
            lines = wrap(rendered.text, width)
            self._cache[key] = (rendered, lines)
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            self._set_body(rendered, lines, complete=True)
            return
        # A big body: its first screenfuls now, the whole of it from a thread.
        preview = render_body(item, content, width, limit=PREVIEW_CHARS)
        self._set_body(preview, wrap(preview.text, width), complete=False)
        self._render_rest(self._token, item, content, width)

    @work(thread=True, exclusive=True, group="item-body", exit_on_error=False)
    def _render_rest(self, token: int, item: Item, content: Content, width: int) -> None:
        rendered = render_body(item, content, width)
        if token != self._token:
            return
        lines = wrap(rendered.text, width)
        if token == self._token:
            self.app.call_from_thread(self._rest_ready, token, rendered, lines)

    def _rest_ready(self, token: int, rendered: Rendered, lines: list[Line]) -> None:
        if token == self._token:
            self._set_body(rendered, lines, complete=True)

    def _set_body(self, rendered: Rendered, lines: list[Line], *, complete: bool) -> None:
        self._rendered = rendered
        self._base_body = lines
        self.links = list(rendered.links)
        self.complete = complete
        self._body = self._with_images(lines)
        self._relayout(header_only=False)
        if complete:
            self._want_images()

    # -------------------------------------------------------------- images
    @property
    def image_urls(self) -> list[str]:
        return [link.url for link in self.links if link.kind == "image"]

    def _box(self) -> tuple[int, int]:
        from veille.tui.services.images import MAX_ROWS

        return (max(4, min(self._text_width(), 80)), MAX_ROWS)

    def set_image_loader(self, loader: ImageLoader) -> None:
        """Images on (set after the first paint): the item shown gets its images now."""
        self.image_loader = loader
        if self.complete:
            self._want_images()

    def _want_images(self) -> None:
        loader = self.image_loader
        urls = [u for u in self.image_urls if u not in self._images]
        if loader is None or not urls or not loader.enabled:
            return
        self._load_images(self._token, urls, self._box())

    @work(exclusive=True, group="item-images", exit_on_error=False)
    async def _load_images(self, token: int, urls: list[str], box: tuple[int, int]) -> None:
        """Fetch and decode this item's images (the network on the app's loop,
        decoding in a thread); the pane keeps scrolling meanwhile."""
        loader = self.image_loader
        if loader is None:
            return
        done = await loader.load(urls, box)
        if token != self._token:
            return
        width = box[0]
        pictures = await asyncio.to_thread(
            lambda: {u: loader.picture(u, d, width) for u, d in done.items()}
        )
        if token != self._token:
            return
        self._images.update(done)
        for picture in pictures.values():
            if picture is not None and not picture.overlay:
                self._write(loader.escape(picture))  # kitty: before any frame shows it
        self._pictures.update({u: p for u, p in pictures.items() if p is not None})
        self._body = self._with_images(self._base_body)
        self._relayout(header_only=False)

    def _with_images(self, lines: list[Line]) -> list[Line]:
        """The body with each loaded image's rows (or its one-line note) under the
        ``[img N...]`` line that names it."""
        if not self._images:
            return lines
        width = self._text_width()
        after: dict[int, list[Line]] = {}
        for link in self.links:
            decoded = self._images.get(link.url) if link.kind == "image" else None
            if decoded is None:
                continue
            marker = f"[img {link.number}"
            at = next(
                (
                    i
                    for i, line in enumerate(lines)
                    if marker + ":" in line.text.plain or marker + "]" in line.text.plain
                ),
                None,
            )
            if at is None:
                continue
            offset = lines[at].offset
            picture = self._pictures.get(link.url)
            if picture is not None:
                extra = [Line(row, offset) for row in picture.rows]
            else:
                why = decoded.error or "it cannot be drawn here"
                note = Text(f"(image {link.number} not shown: {clean_line(why)})", end="")
                note.stylize(self._style("item--note"))
                extra = wrap(note, width)
            after.setdefault(at, []).extend(extra)
        if not after:
            return lines
        out: list[Line] = []
        for i, line in enumerate(lines):
            out.append(line)
            out.extend(after.get(i, ()))
        return out

    # -------------------------------------------------------------- layout
    def _relayout(self, *, header_only: bool) -> None:
        width = self._text_width()
        header = wrap(self._header_text(), width)
        if header_only and len(header) == len(self._header) and self._lines:
            self._header = header
            self._lines[: len(header)] = header
            for y in range(len(header)):
                self._strips.pop(y, None)
            self.refresh_lines(0, len(header))
            return
        self._header = header
        lines = list(header)
        if self._item is not None:
            lines.append(Line(Text(RULE * width, style=self._style("item--rule"), end="")))
            lines.append(Line(Text(end="")))
            self._body_start = len(lines)
            lines.extend(self._body)
            if not self.complete:
                note = Text("… the rest of this long item is being laid out", end="")
                note.stylize(self._style("item--pending"))
                lines.extend([Line(Text(end="")), Line(note)])
            self.links = list(self._rendered.links) if self._rendered is not None else []
            if self.complete:  # its links are numbered after the body's, once those are known
                lines.extend(self.seen_via.lines(self._item, width, self.links))
            footer = link_list(self.links)
            if footer.plain:
                lines.append(Line(Text(end="")))
                lines.extend(wrap(footer, width))
        self._lines = lines
        self._overlays = self._find_overlays(lines)
        self._strips.clear()
        self.virtual_size = Size(0, len(lines))
        self.refresh()
        self._overlays_due()

    def _find_overlays(self, lines: list[Line]) -> dict[int, Picture]:
        """The pane row where each sixel / iTerm2 image starts (found by identity:
        a picture's first row is its own Text object)."""
        first = {id(p.rows[0]): p for p in self._pictures.values() if p.overlay}
        if not first:
            return {}
        return {y: first[id(line.text)] for y, line in enumerate(lines) if id(line.text) in first}

    def _style(self, name: str) -> Style:
        try:
            return self.get_component_rich_style(name, partial=True)
        except Exception:  # before the widget has styles (not mounted yet)
            return Style()

    def _header_text(self) -> Text:
        t = Text(end="")
        item = self._item
        if item is None:
            t.append(self._message, style="dim")
            return t
        t.append(clean_line(item.display_title) or clean_line(item.link), style="bold")
        t.append("\n")
        t.append(clean_line(self._source), style="italic")
        author = clean_line(item.author)
        if author:
            t.append(" · ")
            t.append(author)
        if self._when:
            t.append(" · ")
            t.append(self._when, style="dim")
        # The marks have a line of their own, so none of them ever wraps alone,
        # and the line is always there: toggling one never moves the body.
        t.append("\n")
        t.append(
            "● unread" if not item.read else "○ read", style="bold" if not item.read else "dim"
        )
        if item.starred:
            t.append("  ★ starred", style="bold")
        if item.shared:
            t.append("  ↗ shared", style="bold")
        if item.hidden:
            t.append("  ✗ dismissed", style="dim")
        tags = [clean_line(x) for x in item.tags]
        if tags:
            t.append("\nTags: ", style="dim")
            t.append(", ".join(tags))
        cats = [clean_line(x) for x in item.categories][:8]
        if cats:
            t.append("\nCategories: ", style="dim")
            t.append(", ".join(cats), style="dim")
        if item.link:
            t.append("\n")
            t.append(clean_line(item.link), style="underline")
        if self.note:
            t.append("\n")
            t.append(clean_line(self.note), style="bold" if self.shown == "article" else "dim")
        return t

    def on_resize(self, event: events.Resize) -> None:
        if self._item is not None and self._text_width() != self._width:
            self._token += 1
            self._render_body()
        elif self._item is None:
            self._relayout(header_only=False)
        self.repaint_images()

    def notify_style_update(self) -> None:
        self._strips.clear()
        super().notify_style_update()

    # ------------------------------------------------------------ painting
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if row >= len(self._lines):
            return Strip.blank(width, base)
        selection = self.text_selection
        strip = self._strips.get(row) if selection is None else None
        if strip is None:
            text = self._lines[row].text.copy()
            text.stylize_before(base)
            if selection is not None:
                span = selection.get_span(row)
                if span is not None:
                    start, end = span
                    if end == -1:
                        end = len(text)
                    text.stylize(
                        self.screen.get_component_rich_style("screen--selection"), start, end
                    )
            strip = Strip(list(text.render(self.app.console)), text.cell_len)
            strip = strip.crop_extend(0, width, base)
            if selection is None:
                self._strips[row] = strip
        return strip.apply_offsets(scroll_x, row)

    # ------------------------------------------------------ pixel overlays
    def _write(self, escape: str) -> None:
        if escape:
            write = getattr(self.app, "write_terminal", None)
            if write is not None:
                write(escape)

    def _overlays_due(self) -> None:
        """Paint sixel / iTerm2 images once the frame being prepared is out."""
        if self._overlays:
            self.call_after_refresh(self._paint_overlays)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._overlays_due()

    def repaint_images(self) -> None:
        """The whole screen was repainted (a screen above closed, a resize): the
        sixel / iTerm2 images under it were painted over; paint them again."""
        self._overlays_due()

    def _paint_overlays(self) -> None:
        """Each sixel / iTerm2 image wholly on screen, over its rows of half
        blocks (the cursor is saved and restored around it)."""
        loader = self.image_loader
        if loader is None or not self._overlays or not self.screen.is_active:
            return
        top = int(self.scroll_y)
        region = self.scrollable_content_region
        for row, picture in self._overlays.items():
            last = row + len(picture.rows) - 1
            if row < top or last >= top + region.height:
                continue  # not all of it on screen: its half blocks stay
            x, y = region.x, region.y + row - top
            self._write(f"\x1b7\x1b[{y + 1};{x + 1}H{loader.escape(picture)}\x1b8")

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(line.text.plain for line in self._lines)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self._strips.clear()
        self.refresh()

    # ----------------------------------------------------- what is shown
    def plain_lines(self) -> list[str]:
        """Every row as shown (tests, and anything that reads the pane)."""
        return [line.text.plain for line in self._lines]

    @property
    def header_plain(self) -> str:
        return "\n".join(line.text.plain for line in self._header)

    @property
    def body_plain(self) -> str:
        return "\n".join(line.text.plain for line in self._body)

    @property
    def links_plain(self) -> str:
        return link_list(self.links).plain

    def row_of_body(self, text: str) -> int | None:
        """The pane row where the body row starting with ``text`` is (tests, search)."""
        for i, line in enumerate(self._body):
            if line.text.plain.startswith(text):
                return self._body_start + i
        return None

    def paragraph_at_top(self) -> str:
        """The body paragraph on the pane's top row (the first one while the header
        is at the top; nothing once the body is scrolled away)."""
        if self._rendered is None:
            return ""
        i = max(0, int(self.scroll_y) - self._body_start)
        if i >= len(self._body):
            return ""
        return paragraph_at(self._rendered, self._body[i].offset)
