"""The feeds pane (``F``): every tag and feed with its unread count and status,
type-to-filter, and every edit of a feed that `veille feed edit` offers.

A screen one key away rather than a fourth pane, so it works the same at 60
columns as at 200.  The list is a Line-API widget that draws only the rows on
screen from a list of row keys (what the stream does for items): an OPML import
of 50,000 feeds opens in a fraction of a second, where an OptionList builds
every row up front (seconds, see DESIGN.md).

What a key changes is decided by ``services.feeds`` (Textual-free, the same
edits as the CLI); the app's background work (refresh, subscribing, the
browser) is asked for with messages.  Feed text is data: every title, URL and
message is cleaned and drawn as plain segments, never as markup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from veille.domain.records import Feed
from veille.render.hygiene import clean_line
from veille.store.store import Store
from veille.tui.keys import FEEDS_KEYS
from veille.tui.messages import AddFeedRequested, ItemsChanged, OpenUrl, RefreshRequested
from veille.tui.screens.pickers import AskScreen
from veille.tui.services import feeds as service
from veille.tui.services.feeds import FeedEditError, FeedsModel, feed_settings, feed_status
from veille.tui.services.session import Session
from veille.tui.services.views import ViewSpec
from veille.util.dates import relative

log = logging.getLogger(__name__)

#: The mark before each feed row, by status level.
MARKS = {"ok": "✓", "new": "○", "error": "✗", "disabled": "⊘", "held": "‖"}
COUNT_WIDTH = 8
RELOAD_SECONDS = 1.0  # how often the pane looks whether the store changed


class FeedList(ScrollView, can_focus=True):
    """Rows of the feeds pane (``("tag", name)`` or ``("feed", id)``) with a cursor."""

    DEFAULT_CSS = """
    FeedList {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    FeedList > .feeds--cursor { background: $primary 35%; color: $foreground; }
    FeedList > .feeds--cursor-blur { background: $primary 15%; color: $foreground; }
    FeedList > .feeds--tag { color: $secondary; text-style: bold; }
    FeedList > .feeds--title { color: $foreground; }
    FeedList > .feeds--count { color: $foreground; text-style: bold; }
    FeedList > .feeds--zero { color: $foreground-muted; }
    FeedList > .feeds--ok { color: $success; }
    FeedList > .feeds--new { color: $foreground-muted; }
    FeedList > .feeds--error { color: $error; }
    FeedList > .feeds--disabled { color: $warning; }
    FeedList > .feeds--held { color: $warning; }
    FeedList > .feeds--status { color: $foreground-muted; }
    FeedList > .feeds--warning { color: $warning; }
    FeedList > .feeds--kind { color: $accent; }
    FeedList > .feeds--empty { color: $foreground-muted; text-style: italic; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "feeds--cursor",
        "feeds--cursor-blur",
        "feeds--tag",
        "feeds--title",
        "feeds--count",
        "feeds--zero",
        "feeds--ok",
        "feeds--new",
        "feeds--error",
        "feeds--disabled",
        "feeds--held",
        "feeds--status",
        "feeds--warning",
        "feeds--kind",
        "feeds--empty",
    }

    class Highlighted(Message):
        """Another row is under the cursor (the detail line follows)."""

    def __init__(
        self,
        model: FeedsModel,
        *,
        clock: Callable[[], datetime] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.model = model
        self.clock = clock
        self.rows: list[tuple[str, str]] = []
        self.cursor = 0
        self.empty_text = "No feeds yet: a adds one."
        self._styles: dict[str, Style] | None = None

    @property
    def current(self) -> tuple[str, str] | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return None

    def set_rows(self, rows: list[tuple[str, str]], *, keep: tuple[str, str] | None = None) -> None:
        """Replace the rows; the cursor stays on ``keep`` (else the current row) if
        it is still there, else on the same index."""
        want = keep or self.current
        self.rows = rows
        index = -1
        if want is not None:
            try:
                index = rows.index(want)
            except ValueError:
                index = -1
        self.cursor = index if index >= 0 else min(self.cursor, max(0, len(rows) - 1))
        self.virtual_size = Size(0, len(rows))
        self._ensure_visible()
        self.refresh()
        self.post_message(self.Highlighted())

    def move_to(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(len(self.rows) - 1, index))
        if index == self.cursor:
            return
        old, self.cursor = self.cursor, index
        self.refresh_lines(old)
        self.refresh_lines(index)
        self._ensure_visible()
        self.post_message(self.Highlighted())

    def move_by(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def _ensure_visible(self) -> None:
        height = max(1, self.size.height)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True, force=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True, force=True)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(0, len(self.rows))
        self._ensure_visible()

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_offset.y) + event.y
        if 0 <= row < len(self.rows):
            self.move_to(row)

    def on_focus(self) -> None:
        self.refresh_lines(self.cursor)

    def on_blur(self) -> None:
        self.refresh_lines(self.cursor)

    def notify_style_update(self) -> None:
        self._styles = None
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        if self._styles is None:
            self._styles = {
                c: self.get_component_rich_style(c, partial=True) for c in self.COMPONENT_CLASSES
            }
        return self._styles[name]

    # ------------------------------------------------------------ painting
    def row_text(self, row: int) -> str:
        """The row as the user reads it (tests, and anything that reads the pane)."""
        width = max(20, self.scrollable_content_region.width)
        return "".join(s.text for s in self._segments(row, width, selected=False))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = int(self.scroll_offset.y) + y
        base = self.rich_style
        if row >= len(self.rows):
            if not self.rows and y == 1:
                text = Text("  " + self.empty_text, style=self._style("feeds--empty"), end="")
                text.truncate(width, pad=True)
                return Strip(text.render(self.app.console), width).apply_style(base)
            return Strip.blank(width, base)
        segments = self._segments(row, width, selected=row == self.cursor)
        return Strip(Segment.adjust_line_length(segments, width), width).apply_style(base)

    def _segments(self, row: int, width: int, *, selected: bool) -> list[Segment]:
        cur = None
        if selected:
            cur = self._style("feeds--cursor" if self.has_focus else "feeds--cursor-blur")

        def seg(text: str, name: str | None) -> Segment:
            style = self._style(name) if name else None
            if cur is not None:
                style = cur if style is None else style + cur
            return Segment(text, style)

        kind, key = self.rows[row]
        count_w = COUNT_WIDTH
        # One title column for every row, so the counts line up.
        title_w = max(8, min(48, (width - 2 - count_w) * 45 // 100))
        rest = max(0, width - 2 - title_w - count_w - 2)
        if kind == "tag":
            tag = self.model.tags.get(key)
            if tag is None:
                return [seg(_fit(" (gone)", width), None)]
            return [
                seg("# ", "feeds--tag"),
                seg(_fit(clean_line(tag.name), title_w), "feeds--tag"),
                seg(_count(tag.unread).rjust(count_w), _count_style(tag.unread)),
                seg("  ", None),
                seg(_fit(f"{tag.feeds:,} feed{_s(tag.feeds)}", rest), "feeds--status"),
            ]
        feed = self.model.feeds.get(key)
        if feed is None:
            return [seg(_fit(" (gone)", width), None)]
        status = feed_status(feed, self._now())
        unread, _total = self.model.unread(feed.id)
        mark = "!" if status.warning and status.level == "ok" else MARKS.get(status.level, " ")
        level_style = "feeds--warning" if mark == "!" else f"feeds--{status.level}"
        out = [
            seg(mark + " ", level_style),
            seg(_fit(clean_line(feed.name), title_w), "feeds--title"),
            seg(_count(unread).rjust(count_w), _count_style(unread)),
            seg("  ", None),
        ]
        words: list[tuple[str, str]] = []
        if feed.kind != "feed":
            through = f" · {clean_line(feed.account)}" if feed.account else ""
            words.append((f"{feed.kind}{through} · ", "feeds--kind"))
        if feed.muted:
            words.append(("muted · ", "feeds--status"))
        words.append((status.text, level_style if status.level != "ok" else "feeds--status"))
        if status.warning:
            words.append((f" · ⚠ {status.warning}", "feeds--warning"))
        used = 0
        for text, name in words:
            if used >= rest:
                break
            piece = text if used + cell_len(text) <= rest else _fit(text, rest - used)
            out.append(seg(piece, name))
            used += cell_len(piece)
        if used < rest:
            out.append(seg(" " * (rest - used), None))
        return out

    def _now(self) -> datetime | None:
        return self.clock() if self.clock else None


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _count(n: int) -> str:
    return f"{n:,}" if n else "·"


def _count_style(n: int) -> str:
    return "feeds--count" if n else "feeds--zero"


def _fit(text: str, width: int) -> str:
    """Pad or cut ``text`` to exactly ``width`` cells, with "…" when cut."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


class FeedsScreen(Screen[ViewSpec | None]):
    """The feeds pane; dismisses with the view to show (a feed's or a tag's), or None."""

    BINDINGS = [kd.binding() for kd in FEEDS_KEYS]
    DEFAULT_CSS = """
    FeedsScreen #feeds-status { dock: top; height: 1; background: $panel; color: $foreground; }
    FeedsScreen #feeds-detail {
        height: 4;
        padding: 0 1;
        border-top: solid $panel;
        color: $foreground-muted;
    }
    FeedsScreen #feeds-filter {
        dock: bottom; height: 1; border: none; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, session: Session, *, keep: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.session = session
        self.model = FeedsModel(session.store)
        self.query_text = ""
        self.keep = keep
        self._filter_timer: Timer | None = None
        self._seen_version = -1

    @property
    def store(self) -> Store:
        return self.session.store

    def compose(self) -> ComposeResult:
        yield Static(id="feeds-status")
        yield FeedList(self.model, clock=self.session.clock, id="feed-list")
        yield Static(id="feeds-detail")
        yield Input(placeholder="filter feeds: name, URL, tag, kind", id="feeds-filter")
        yield Footer(compact=True)

    @property
    def list(self) -> FeedList:
        return self.query_one(FeedList)

    @property
    def filter_box(self) -> Input:
        return self.query_one("#feeds-filter", Input)

    def on_mount(self) -> None:
        self.filter_box.display = False
        self.reload(keep=self.keep)
        self.list.focus()
        self.set_interval(RELOAD_SECONDS, self._maybe_reload)

    # ------------------------------------------------------------- reading
    def reload(self, *, keep: tuple[str, str] | None = None) -> None:
        """Read feeds and counts again and redraw, keeping the cursor's row."""
        self._seen_version = self.store.version
        self.model.reload()
        self.list.set_rows(self.model.rows(self.query_text), keep=keep)
        self.update_status()

    def _maybe_reload(self) -> None:
        """A refresh or another process changed the store: show it (a timer, so a
        failure is logged and said once, never a crash)."""
        if self.store.version == self._seen_version:
            return
        try:
            self.reload()
        except Exception as exc:
            self._seen_version = self.store.version  # not again every second
            log.exception("reloading the feeds pane failed")
            self.notify(f"Feeds not reloaded: {clean_line(str(exc))}", severity="error",
                        markup=False)  # fmt: skip

    def update_status(self) -> None:
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        t.append(" Feeds ", style="bold reverse")
        n_feeds, n_tags = len(self.model.order), len(self.model.tags)
        t.append(f" {n_feeds:,} feed{_s(n_feeds)} · {n_tags:,} tag{_s(n_tags)}")
        errors = sum(1 for f in self.model.order if f.status in ("error", "gone") or f.disabled)
        if errors:
            t.append(f" · {errors:,} failing", style="bold red")
        if self.query_text:
            shown = len(self.list.rows)
            t.append(f" · filter “{clean_line(self.query_text)}”: {shown:,} rows", style="bold")
        t.append("  enter shows its items · esc back", style="dim")
        self.query_one("#feeds-status", Static).update(t)

    @property
    def status_text(self) -> str:
        return str(self.query_one("#feeds-status", Static).content)

    @property
    def detail_text(self) -> str:
        return str(self.query_one("#feeds-detail", Static).content)

    def on_feed_list_highlighted(self, event: FeedList.Highlighted) -> None:
        event.stop()
        self.update_detail()

    def update_detail(self) -> None:
        """The row under the cursor in full: URL, account, tags, counts, last fetch,
        status with its reason, next poll, settings, warning."""
        t = Text(end="")
        row = self.list.current
        if row is None:
            t.append("No feed selected." if not self.query_text else "Nothing matches the filter.")
        elif row[0] == "tag":
            tag = self.model.tags.get(row[1])
            if tag is not None:
                t.append(f"Tag {clean_line(tag.name)}", style="bold")
                t.append(f" · {tag.feeds:,} feeds · {tag.unread:,} unread / {tag.total:,}\n")
                t.append("enter shows its items · r refreshes its feeds")
        else:
            feed = self.model.feeds.get(row[1])
            if feed is not None:
                self._feed_detail(t, feed)
        self.query_one("#feeds-detail", Static).update(t)

    def _feed_detail(self, t: Text, feed: Feed) -> None:
        ref = self.session.clock() if self.session.clock else None
        status = feed_status(feed, ref)
        unread, total = self.model.unread(feed.id)
        t.append(clean_line(feed.url), style="underline")
        if feed.kind != "feed":
            t.append(f"  ({feed.kind}")
            t.append(f" through {clean_line(feed.account)}" if feed.account else "")
            t.append(")")
        t.append("\n")
        t.append(f"{unread:,} unread / {total:,} · last fetch {relative(feed.last_fetch, ref)}: ")
        t.append(status.text, style="bold" if status.level != "ok" else "")
        tags = ", ".join(clean_line(x) for x in feed.tags)
        if tags:
            t.append(f" · tags: {tags}")
        settings = feed_settings(feed)
        t.append("\n")
        if settings:
            t.append(settings)
        if status.warning:
            t.append(("  · " if settings else "") + f"warning: {status.warning}", style="bold")

    # ------------------------------------------------------------- filter
    def action_feeds_filter(self) -> None:
        box = self.filter_box
        box.display = True
        box.value = self.query_text
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "feeds-filter":
            return
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        value = event.value
        self._filter_timer = self.set_timer(0.03, partial(self._filter, value))

    def _filter(self, value: str) -> None:
        if value.strip() == self.query_text:
            return
        self.query_text = value.strip()
        self.list.set_rows(self.model.rows(self.query_text))
        self.update_status()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "feeds-filter":
            return
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter(event.value)
        if not event.value.strip():
            event.input.display = False
        self.list.focus()

    def on_key(self, event: events.Key) -> None:
        """Down or up in the filter goes back to the list, like enter does."""
        box = self.filter_box
        if box.has_focus and event.key in ("down", "up"):
            event.stop()
            self.list.focus()

    # ------------------------------------------------------------ moving
    def action_feeds_down(self) -> None:
        self.list.move_by(1)

    def action_feeds_up(self) -> None:
        self.list.move_by(-1)

    def action_feeds_top(self) -> None:
        self.list.move_to(0)

    def action_feeds_bottom(self) -> None:
        self.list.move_to(len(self.list.rows) - 1)

    def action_feeds_page_down(self) -> None:
        self.list.move_by(max(1, self.list.size.height - 1))

    def action_feeds_page_up(self) -> None:
        self.list.move_by(-max(1, self.list.size.height - 1))

    def action_feeds_close(self) -> None:
        box = self.filter_box
        if box.has_focus or (box.display and self.query_text):
            box.value = ""
            box.display = False
            self._filter("")
            self.list.focus()
            return
        self.dismiss(None)

    def action_feeds_open(self) -> None:
        row = self.list.current
        if row is None:
            return
        kind, key = row
        self.dismiss(ViewSpec("tag" if kind == "tag" else "feed", key))

    # ------------------------------------------------------------- edits
    def _selected_feed(self) -> Feed | None:
        row = self.list.current
        if row is None or row[0] != "feed":
            self.notify("Select a feed first (tags have no settings).", timeout=3)
            return None
        feed = self.store.get_feed(row[1])
        if feed is None:
            self.notify("That feed is gone.", severity="warning", timeout=3)
        return feed

    def _edit(self, work: Callable[[], str], *, items: bool = False) -> None:
        """Run one edit of the service; its line as a notification, errors in one line."""
        try:
            line = work()
        except FeedEditError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        except Exception as exc:  # a bug must not take the app down
            log.exception("feed edit failed")
            self.notify(f"Not changed: {clean_line(str(exc))}", severity="error", markup=False)
            return
        self.notify(line, markup=False, timeout=4)
        self.reload()
        if items:
            self.post_message(ItemsChanged())

    def _ask(self, title: str, value: str, placeholder: str, done: Callable[[str], str]) -> None:
        def answered(text: str | None) -> None:
            if text is not None:
                self._edit(partial(done, text), items=False)

        ask = AskScreen(title, value, placeholder, "enter saves · esc cancels")
        self.app.push_screen(ask, answered)

    def action_feeds_rename(self) -> None:
        feed = self._selected_feed()
        if feed is None:
            return
        fid = feed.id
        self._ask(
            f"Title of {clean_line(feed.url)} (empty: the feed's own)",
            feed.title if feed.user_title else "",
            clean_line(feed.name),
            lambda text: service.rename(self.store, fid, text),
        )

    def action_feeds_tags(self) -> None:
        feed = self._selected_feed()
        if feed is None:
            return
        fid = feed.id
        self._ask(
            f"Tags of {clean_line(feed.name)}",
            ", ".join(feed.tags),
            "comma, separated",
            lambda text: service.retag(self.store, fid, text),
        )

    def action_feeds_interval(self) -> None:
        feed = self._selected_feed()
        if feed is None:
            return
        fid = feed.id
        self._ask(
            f"Refresh {clean_line(feed.name)} every … minutes (empty: as the config says)",
            f"{feed.interval:g}" if feed.interval else "",
            f"default: {self.session.config['refresh_minutes']}",
            lambda text: service.set_interval(self.store, fid, text),
        )

    def action_feeds_full_text(self) -> None:
        feed = self._selected_feed()
        if feed is not None:
            fid = feed.id
            self._edit(lambda: service.toggle_full_text(self.store, fid))

    def action_feeds_mute(self) -> None:
        feed = self._selected_feed()
        if feed is not None:
            fid = feed.id
            self._edit(lambda: service.toggle_mute(self.store, fid), items=True)

    def action_feeds_remove(self) -> None:
        feed = self._selected_feed()
        if feed is not None:
            fid = feed.id
            self._edit(lambda: service.unsubscribe(self.store, fid), items=True)

    def action_feeds_undo(self) -> None:
        fid, line = service.restore_last(self.store)
        self.notify(line, markup=False, severity="information" if fid else "warning", timeout=4)
        if fid is None:
            return
        self.reload(keep=("feed", fid))
        self.post_message(ItemsChanged())
        self.post_message(RefreshRequested([fid], quiet=True))  # the bodies come back

    def action_feeds_refresh(self) -> None:
        row = self.list.current
        if row is None:
            return
        kind, key = row
        ids = [f.id for f in self.model.order if key in f.tags] if kind == "tag" else [key]
        self.post_message(RefreshRequested(ids))

    def action_feeds_add(self) -> None:
        self.post_message(AddFeedRequested())

    def action_feeds_site(self) -> None:
        feed = self._selected_feed()
        if feed is None:
            return
        url = service.site_of(feed)
        if not url:
            self.notify("This source has no web site to open.", timeout=3)
            return
        self.post_message(OpenUrl(url))

    def action_feeds_copy(self) -> None:
        feed = self._selected_feed()
        if feed is None:
            return
        self.app.copy_to_clipboard(feed.url)
        self.notify(f"Copied {clean_line(feed.url)}", markup=False, timeout=2)

    def action_feeds_rules(self) -> None:
        from veille.tui.screens.rules import RuleContext, RulesScreen

        row = self.list.current
        feed = self.model.feeds.get(row[1]) if row is not None and row[0] == "feed" else None
        tag = row[1] if row is not None and row[0] == "tag" else ""
        context = RuleContext(feed_url=feed.url if feed else "", tag=tag)
        self.app.push_screen(RulesScreen(self.session, context))
