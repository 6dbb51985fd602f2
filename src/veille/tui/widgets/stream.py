"""The stream: a Line-API list that draws only the rows on screen.

Each row: unread, star and shared marks, the source, then the title, led by
what the network says about the item: ``◆3`` when three accounts you follow
shared it, ``↩ reply to your share`` for an answer to one of your posts, and
``⚠`` with the content warning in place of a post's words until ``v`` shows
them.

Why not DataTable/OptionList/ListView: they build every row up front (5-30 s
for 100,000 items, see DESIGN.md).  This widget holds only a list of ids and
asks the store for the few documents it paints, so its cost does not depend
on the number of items.  Feed text is appended to ``rich.text.Text`` as plain
strings: a title like ``[@click=app.quit]`` stays literal and inert.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from veille.domain.records import Item
from veille.render.hygiene import clean_line
from veille.store.store import Store
from veille.tui.services.views import FirstRows
from veille.util.dates import age

SOURCE_WIDTH = 18
CHUNK = 5000  # rows handed from the loading thread at once
STRIP_CACHE = 2000  # rows kept drawn; cleared whole when full (cheap, rare)
AGE_WIDTH = 4


class StreamList(ScrollView, can_focus=True):
    """Item ids of the current view, newest first, with a cursor."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "stream--unread",
        "stream--read",
        "stream--cursor",
        "stream--cursor-blur",
        "stream--mark",
        "stream--star",
        "stream--shared",
        "stream--source",
        "stream--age",
        "stream--hidden",
        "stream--empty",
        "stream--seen",
        "stream--sharers",
        "stream--reply",
        "stream--warning",
    }

    DEFAULT_CSS = """
    StreamList {
        overflow-x: hidden;
    }
    StreamList > .stream--sharers {
        color: $secondary;
        text-style: bold;
    }
    StreamList > .stream--reply {
        color: $accent;
        text-style: bold;
    }
    StreamList > .stream--warning {
        color: $warning;
    }
    """

    class Highlighted(Message):
        """Another item (or none) is under the cursor.

        ``user``: the user moved there (a key, a click); otherwise the rows
        changed under the cursor (a view switch, a search, new or removed items),
        which must not count as the user having seen the item."""

        def __init__(self, item_id: str | None, *, user: bool = False) -> None:
            super().__init__()
            self.item_id = item_id
            self.user = user

    class Painted(Message):
        """The stream drew its first rows (start-up benchmark hook)."""

    class Loaded(Message):
        """The rest of a view is in (the status bar counts it)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.store = store
        self.clock = clock
        self.ids: list[str] = []
        self.cursor = 0
        self.loading = False
        self.empty_text = "Nothing here."
        self._titles: dict[str, str] = {}
        self._titles_version = -1
        self._painted = False
        self._styles: dict[str, Style] | None = None
        self._strips: dict[tuple[Any, ...], Strip] = {}
        self._now: datetime | None = None
        self._announced: str | None = None  # the item the last Highlighted named
        self._gen = 0  # which view's rows are wanted (a newer view stops an older load)
        self._want_id: str | None = None  # the item to put the cursor on once loaded
        # Items whose content warning the user opened (v): their words show.
        self.revealed: set[str] = set()

    # ----------------------------------------------------------------- data
    @property
    def current_id(self) -> str | None:
        if 0 <= self.cursor < len(self.ids):
            return self.ids[self.cursor]
        return None

    def set_ids(
        self, ids: list[str], *, keep: str | None = None, reset: bool = False, user: bool = False
    ) -> None:
        """Replace the rows.  The item under the cursor keeps its screen row
        when it is still there, so new items arriving above never move it.

        Whatever ends up under the cursor is announced (Highlighted) when it is
        not the item announced last: the panes must follow the row, whichever
        way it changed."""
        old_id = self.current_id if keep is None else keep
        old_screen_row = self.cursor - int(self.scroll_offset.y)
        self.ids = ids
        index = -1
        if old_id is not None and not reset:
            try:
                index = ids.index(old_id)
            except ValueError:
                index = -1
        if index < 0:
            index = 0 if reset else min(self.cursor, max(0, len(ids) - 1))
        self.cursor = index
        self.virtual_size = Size(0, len(ids))
        if reset:
            self.scroll_to(y=0, animate=False, immediate=True, force=True)
        else:
            top = max(0, index - max(0, old_screen_row))
            self.scroll_to(y=top, animate=False, immediate=True, force=True)
        self._ensure_visible()
        self.refresh()
        self._announce(user=user, force=reset)

    def _announce(self, *, user: bool, force: bool = False) -> None:
        if force or self.current_id != self._announced:
            self._announced = self.current_id
            self.post_message(self.Highlighted(self.current_id, user=user))

    # ------------------------------------------------------------ loading
    def new_load(self) -> Callable[[], bool]:
        """Start showing another view; the function tells an older load to stop."""
        self._gen += 1
        gen = self._gen
        return lambda: gen != self._gen

    def show_rows(self, first: FirstRows, *, keep: str | None, reset: bool) -> None:
        """A view's first rows now; the rest taken from its iterator on a thread."""
        gen = self._gen
        self.loading = first.rest is not None
        self._want_id = None if first.found else keep
        self.set_ids(first.ids, keep=keep, reset=reset)
        if first.rest is not None and first.replace:
            self._load_all(gen, first.rest)
        elif first.rest is not None:
            self._load_rest(gen, first.rest)

    @work(thread=True, exit_on_error=False, group="view")
    def _load_all(self, gen: int, it: Iterator[str]) -> None:
        """A ranked view (the most shared first) is known only whole: take all of
        it off the UI thread, then put it in place of the first rows, the cursor
        staying on its item."""
        ids = []
        for iid in it:
            ids.append(iid)
            if not len(ids) & 2047 and gen != self._gen:
                return
        if gen == self._gen:
            self.app.call_from_thread(self._replace, gen, ids)

    def _replace(self, gen: int, ids: list[str]) -> None:
        if gen != self._gen:
            return
        want, self._want_id = self._want_id, None
        self.loading = False
        self.set_ids(ids, keep=want or self.current_id)
        self.post_message(self.Loaded())

    @work(thread=True, exit_on_error=False, group="view")
    def _load_rest(self, gen: int, it: Iterator[str]) -> None:
        """Take the rest of a view off the UI thread, in chunks as they fill (or
        every 0.1 s), and stop as soon as another view replaces it."""
        buf: list[str] = []
        last = time.monotonic()
        for iid in it:
            buf.append(iid)
            if len(buf) >= CHUNK or time.monotonic() - last > 0.1:
                if gen != self._gen:
                    return
                self.app.call_from_thread(self._more, gen, buf)
                buf = []
                last = time.monotonic()
        if gen == self._gen:
            self.app.call_from_thread(self._more, gen, buf)
            self.app.call_from_thread(self._done, gen)

    def _more(self, gen: int, chunk: list[str]) -> None:
        if gen != self._gen:
            return
        self.extend(chunk)
        if self._want_id and self._want_id in chunk:
            want, self._want_id = self._want_id, None
            self.set_ids(self.ids, keep=want)

    def _done(self, gen: int) -> None:
        if gen == self._gen:
            self.loading = False
            self.refresh()
            self.post_message(self.Loaded())

    def extend(self, ids: list[str]) -> None:
        """Rows found by the background part of a query."""
        if not ids:
            return
        start = len(self.ids)
        was_empty = not self.ids
        self.ids.extend(ids)
        self.virtual_size = Size(0, len(self.ids))
        top = int(self.scroll_offset.y)
        if start < top + self.size.height:
            self.refresh()
        if was_empty:
            self._announce(user=False)

    def refresh_item(self, item_id: str) -> None:
        """Repaint the row of one item (after its state changed)."""
        top = int(self.scroll_offset.y)
        for row in range(top, min(len(self.ids), top + self.size.height)):
            if self.ids[row] == item_id:
                self.refresh_lines(row)
                return

    def refresh_rows(self) -> None:
        self._titles_version = -1
        self._strips.clear()
        self.refresh()

    # --------------------------------------------------------------- cursor
    def move_to(self, index: int) -> None:
        if not self.ids:
            return
        index = max(0, min(len(self.ids) - 1, index))
        if index == self.cursor:
            return
        old = self.cursor
        self.cursor = index
        self.refresh_lines(old)
        self.refresh_lines(index)
        self._ensure_visible()
        self._announce(user=True, force=True)

    def move_by(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def _ensure_visible(self) -> None:
        height = max(1, self.size.height)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True, force=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True, force=True)

    def find(self, test: Callable[[Item], bool], *, forward: bool = True) -> int:
        """Index of the next row (after/before the cursor) whose item passes ``test``."""
        get = self.store.get_item
        rng = range(self.cursor + 1, len(self.ids)) if forward else range(self.cursor - 1, -1, -1)
        for i in rng:
            d = get(self.ids[i])
            if d is not None and test(d):
                return i
        return -1

    # -------------------------------------------------------------- events
    def on_resize(self, event: events.Resize) -> None:
        # Rows are cut to the width: never a horizontal scrollbar (it would hide
        # the last row).
        self.virtual_size = Size(0, len(self.ids))
        self._ensure_visible()

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_offset.y) + event.y
        if 0 <= row < len(self.ids):
            self.move_to(row)

    def notify_style_update(self) -> None:
        self._styles = None
        self._strips.clear()
        super().notify_style_update()

    def on_focus(self) -> None:
        self.refresh_lines(self.cursor)

    def on_blur(self) -> None:
        self.refresh_lines(self.cursor)

    # ------------------------------------------------------------ painting
    def _style(self, name: str) -> Style:
        if self._styles is None:
            self._styles = {
                c: self.get_component_rich_style(c, partial=True) for c in self.COMPONENT_CLASSES
            }
        return self._styles[name]

    def _source(self, feed_id: str) -> str:
        title = self._titles.get(feed_id)
        if title is None or self._titles_version < 0:
            # Rebuilt when a feed is new to us or after refresh_rows (a refresh may
            # rename feeds), not on every store change: triage changes it too.
            self._titles = {f.id: clean_line(f.name) for f in self.store.feeds()}
            self._titles_version = self.store.version
            title = self._titles.setdefault(feed_id, "")
        return title

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width  # without the scrollbar
        row = int(self.scroll_offset.y) + y
        base = self.rich_style
        if y == 0 and not self._painted:
            self._painted = True
            self.post_message(self.Painted())
        if row >= len(self.ids):
            if not self.ids and y == 1:
                msg = "  Loading…" if self.loading else "  " + self.empty_text
                text = Text(msg, style=self._style("stream--empty"), end="")
                text.truncate(width, pad=True)
                return Strip(text.render(self.app.console), width).apply_style(base)
            return Strip.blank(width, base)
        d = self.store.get_item(self.ids[row])
        selected = row == self.cursor
        if d is None:
            return Strip(self._row_segments(d, width, selected), width).apply_style(base)
        # A scroll by one row repaints every row; all but one were drawn in the
        # last frame, so they come from this cache (keyed by all they show).
        when = self._age(d)
        key = (
            d.id, width, selected, selected and self.has_focus, d.read, d.starred, d.shared,
            d.hidden, d.title, d.feed, self._titles_version, when, d.kind, d.content_warning,
            len(d.stored_sightings), d.id in self.revealed,
        )  # fmt: skip
        strip = self._strips.get(key)
        if strip is None:
            strip = Strip(self._row_segments(d, width, selected), width).apply_style(base)
            if len(self._strips) >= STRIP_CACHE:
                self._strips.clear()
            self._strips[key] = strip
        return strip

    def _row_segments(self, d: Item | None, width: int, selected: bool) -> list[Segment]:
        """One row as Segments built by hand: ~10x cheaper than laying out a Rich
        Text, which matters when a jump (``n``, ``G``) repaints every row."""
        cur = None
        if selected:
            cur = self._style("stream--cursor" if self.has_focus else "stream--cursor-blur")

        def seg(text: str, style: Style | None) -> Segment:
            if cur is not None:
                style = cur if style is None else style + cur
            return Segment(text, style)

        if d is None:
            return [seg(_fit(" (gone)", width), None)]
        unread = not d.read
        st = self._style("stream--unread" if unread else "stream--read")
        if d.hidden:
            st = st + self._style("stream--hidden")
        src_w = min(SOURCE_WIDTH, max(6, width // 5))
        when = self._age(d)
        dated = bool(d.published or d.updated)
        title_w = max(1, width - 4 - src_w - 1 - AGE_WIDTH - 1)
        badge, badge_style = row_badge(d, revealed=d.id in self.revealed)
        badge_w = min(cell_len(badge), max(0, title_w - 4)) if badge else 0
        title = clean_line(d.display_title)
        if d.content_warning and d.id not in self.revealed:
            title = clean_line(d.content_warning) or "content warning"
        row = [
            seg("●" if unread else " ", self._style("stream--mark")),
            seg("★" if d.starred else " ", self._style("stream--star")),
            seg("↗" if d.shared else " ", self._style("stream--shared")),
            seg(" ", None),
            seg(_fit(self._source(d.feed), src_w), self._style("stream--source")),
            seg(" ", None),
        ]
        if badge_w:
            row.append(seg(_fit(badge, badge_w), self._style(badge_style)))
        row += [
            seg(_fit(title, title_w - badge_w), st),
            seg(" ", None),
            seg(when.rjust(AGE_WIDTH), self._style("stream--age" if dated else "stream--seen")),
        ]
        used = 4 + src_w + 1 + title_w + 1 + max(AGE_WIDTH, cell_len(when))
        if used < width:
            row.append(seg(" " * (width - used), None))
        elif used > width:  # a very narrow pane: cut the row to the width
            return list(Segment.adjust_line_length(row, width))
        return row

    def _age(self, d: Item) -> str:
        """How old the item is by its own date; "~3d" when it has none (the time it
        arrived, marked as such: never shown as if it were a publication date)."""
        dated = d.published or d.updated
        if dated:
            return age(dated, self._ref_now())
        seen = age(d.first_seen or d.sort, self._ref_now())
        return "~" + seen if seen else ""

    def _ref_now(self) -> datetime | None:
        return self.clock() if self.clock else None


def row_badge(d: Item, *, revealed: bool = False) -> tuple[str, str]:
    """(what leads the title, its component class): "↩ reply to your share ",
    "◆3 " (distinct accounts that shared it), "⚠ " before a content warning.

    A post by one account you follow shows no ◆: its author is the one sharer,
    which the source column already says; an article one account linked does."""
    parts = []
    style = "stream--sharers"
    if d.kind == "reply":
        parts.append("↩ reply to your share ·")
        style = "stream--reply"
    else:
        n = d.sharers
        if n >= 2 or (n == 1 and d.kind == "article"):
            parts.append(f"◆{n}")
    if d.content_warning and not revealed:
        parts.append("⚠")
        if d.kind != "reply" and len(parts) == 1:
            style = "stream--warning"
    return (" ".join(parts) + " ", style) if parts else ("", style)


def _fit(text: str, width: int) -> str:
    """Pad or cut ``text`` to exactly ``width`` cells, with "…" when cut."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"
