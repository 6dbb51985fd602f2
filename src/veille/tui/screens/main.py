"""The three panes: stream │ item, composer below the item; one at a time when narrow.

Layout and key handling only: what a key changes is decided by the services
(triage, views, compose, reading) and the app's background work is asked for
with messages.  The screen watches the app's reactives (counts, progress, new
items, a failing disk...) from the moment it is mounted, so nothing ever calls
into it before its panes exist or after it is gone.

Whatever changes the row under the cursor (a key, ``x``, a filter, a search, new
items, an item removed by another process), the item pane, the composer and
every action follow that row.  Only an item the user moved to or opened counts
as seen (marked read after ``mark_read_delay``); one the app selected by itself
(start-up, a view switch, a search) does not.

The social loop: the item pane lists who shared the item (``SeenVia``), a post
behind a content warning stays closed until ``v``, ``w`` shows what several
people you follow shared, the composer credits, replies to or quotes a sharer's
post (ctrl+r, ctrl+n), and the status bar counts the responses to your shares
until the Shares view (S) shows them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import OptionDoesNotExist

from veille.domain.records import Content, Item
from veille.render.hygiene import clean_line
from veille.share.compose import quote_block
from veille.store.store import Store
from veille.triage.views import ViewError, append_view, view_counts
from veille.tui.keys import DIGIT_KEYS, MAIN_KEYS, effective_keys
from veille.tui.messages import (
    AddFeedRequested,
    ArticleRequested,
    CheckConfig,
    FirstPaint,
    OpenUrl,
    RefreshRequested,
    ResponsesSeen,
    SendShares,
    StateChanged,
)
from veille.tui.screens.help import key_display
from veille.tui.screens.pickers import AskScreen, ConfirmScreen, PickScreen
from veille.tui.screens.shares import ShareChoice, SharesScreen
from veille.tui.services import articles, views
from veille.tui.services.reading import when_label
from veille.tui.services.session import Session
from veille.tui.services.views import ViewSpec
from veille.tui.state import COMPOSER_HEIGHT, STREAM_WIDTH
from veille.tui.widgets.composer import Composer, ToggleBar, ToggleScreen
from veille.tui.widgets.item import ItemView
from veille.tui.widgets.sightings import masked
from veille.tui.widgets.stream import StreamList

log = logging.getLogger(__name__)

NARROW = 100  # columns
PANES = ("stream", "item", "composer")
SHOW_DELAY = 0.04  # seconds the cursor rests before the item pane follows
#: The app state the status bar shows (reactives of the app, watched).
APP_STATE = (
    "counts",
    "progress",
    "new_items",
    "feed_errors",
    "write_error",
    "alerts",
    "new_responses",
)

#: A timer factory: (seconds, callback) -> a function that cancels it.  The app
#: passes Textual's; tests pass one they fire by hand, so time is deterministic.
Timers = Callable[[float, Callable[[], None]], Callable[[], None]]


class ViewPickScreen(PickScreen):
    """The filter picker; the saved views' counts arrive from a thread (maybe
    before the picker is mounted: then they are shown when it is)."""

    counted = False  # the counts are shown
    _pending: dict[str, str] | None = None

    def on_mount(self) -> None:
        # PickScreen's own on_mount runs too (Textual calls each class's handler).
        if self._pending is not None:
            self.set_labels(self._pending)

    def set_labels(self, labels: dict[str, str]) -> None:
        try:
            ol = self.query_one("#pick-list", OptionList)
        except NoMatches:  # not composed yet: on_mount shows them
            self._pending = labels
            return
        for key, label in labels.items():
            try:
                ol.replace_option_prompt(key, Text(clean_line(label)))
            except OptionDoesNotExist:
                continue
        self._pending = None
        self.counted = True


class MainScreen(Screen[None]):
    BINDINGS = [kd.binding() for kd in [*MAIN_KEYS, *DIGIT_KEYS]]

    def __init__(
        self,
        session: Session,
        *,
        keymap: dict[str, str] | None = None,
        cursor_blink: bool = True,
        timers: Timers | None = None,
        images: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self.images = images
        self.keymap = keymap or {}
        self.cursor_blink = cursor_blink
        self.timers: Timers = timers or self._textual_timer
        self.view = ViewSpec()
        self.sticky: set[str] = set()  # read this session: stays in the unread view
        self.digits = ""
        self.pane = "stream"  # the pane shown when narrow
        self.narrow = False
        self.app_state: dict[str, Any] = {
            "counts": (0, 0),
            "progress": "",
            "new_items": 0,
            "feed_errors": 0,
            "write_error": "",
            "alerts": (),
            "new_responses": 0,
        }
        self._shown_id: str | None = None
        self._show_timer: Timer | None = None
        self._seen_target: str | None = None  # the item the user moved to or opened
        self._read_cancel: Callable[[], None] | None = None
        self._read_pending: str | None = None
        self._search_timer: Timer | None = None
        self._draft_dirty = False
        self._draft_saver = False
        # Full articles: items whose article the user asked for (w) or whose feed
        # always wants it, minus those toggled back to the feed's text; and the
        # last failure per item (said in the header, the feed's text stays).
        self._article_on: set[str] = set()
        self._article_off: set[str] = set()
        self._article_error: dict[str, str] = {}
        self._article_asked: set[str] = set()

    def _textual_timer(self, delay: float, callback: Callable[[], None]) -> Callable[[], None]:
        return self.set_timer(delay, callback).stop

    @property
    def store(self) -> Store:
        return self.session.store

    # -------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal(id="panes"):
            with Vertical(id="stream-pane"):
                yield StreamList(self.session.store, clock=self.session.clock, id="stream")
                yield Input(placeholder="search", id="search")
            with Vertical(id="right"):
                # The item pane.  Other sections of the item (the "seen via"
                # list) mount as their own widgets between it and the composer.
                yield ItemView(id="item")
                yield Composer(self.session.compose, cursor_blink=self.cursor_blink, id="composer")
        yield Footer(compact=True)

    @property
    def stream(self) -> StreamList:
        return self.query_one(StreamList)

    @property
    def item_view(self) -> ItemView:
        return self.query_one(ItemView)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def search_box(self) -> Input:
        return self.query_one("#search", Input)

    def on_screen_resume(self) -> None:
        self.item_view.repaint_images()  # Textual repaints all of this screen

    def _start_images(self) -> None:
        from veille.tui.services.images import (
            ImageLoader,
            graphics_available,
            resolve_protocol,
        )

        color_system = self.app.console.color_system
        graphics = graphics_available(no_color=self.app.no_color, color_system=color_system)
        protocol = resolve_protocol(
            str(self.session.config["images_protocol"]), os.environ, color_system=color_system
        )
        self.item_view.set_image_loader(
            ImageLoader(
                self.session.config,
                self.session.paths.cache / "images",
                graphics=graphics,
                protocol=protocol,
                tmux=bool(os.environ.get("TMUX")),
            )
        )

    def on_mount(self) -> None:
        self.search_box.display = False
        self.item_view.seen_via.bind(
            self.store, clock=self.session.clock, revealed=self.stream.revealed
        )
        self.view, warning = views.start_view(
            self.session.config, self.store, self.session.ui.view, at=self._now()
        )
        if warning:
            self.notify(warning, severity="warning", markup=False)
        if self.images:
            # Pillow and the image service (~25 ms of imports) load after the
            # first paint, and only when images are on.
            self.call_after_refresh(self._start_images)
        self.apply_layout()
        self.stream.focus()
        self.load_view(self.view, reset=True)
        # From here on the app's state reaches this screen; never before its
        # panes exist, never after it is gone (Textual drops a closed watcher).
        # Read first: Textual gives the app's reactives their defaults when its
        # loop starts, and would call a watcher already there with init=False
        # (a second load of the view before the first paint, ~50-100 ms at 100k).
        for name in (*APP_STATE, "items_version", "shares_version", "config_version"):
            getattr(self.app, name)
        for name in APP_STATE:
            self.watch(self.app, name, partial(self._app_changed, name), init=True)
        self.watch(self.app, "items_version", self.reload_view, init=False)
        self.watch(self.app, "shares_version", self._shares_changed, init=False)
        self.watch(self.app, "config_version", self._config_changed, init=False)
        self.watch(self.app, "article_done", self._article_done, init=False)

    def _app_changed(self, name: str, value: Any) -> None:
        self.app_state[name] = value
        self.update_status()

    def on_resize(self) -> None:
        self.apply_layout()

    def apply_layout(self) -> None:
        ui = self.session.ui
        self.narrow = self.size.width < NARROW
        self.set_class(self.narrow, "-narrow")
        for p in PANES:
            self.set_class(self.narrow and self.pane == p, f"-pane-{p}")
        pane = self.query_one("#stream-pane")
        composer = self.composer
        if self.narrow:
            pane.styles.width = "1fr"
            composer.styles.height = "1fr" if self.pane == "composer" else ui.composer_height
        else:
            pane.styles.width = f"{ui.stream_width}%"
            composer.styles.height = ui.composer_height

    def show_pane(self, pane: str) -> None:
        self.pane = pane
        self.apply_layout()
        target = {
            "stream": self.stream,
            "item": self.item_view,
            "composer": self.composer.area,
        }[pane]
        target.focus()

    # --------------------------------------------------------------- views
    def load_view(self, spec: ViewSpec, *, reset: bool = False, keep_id: str | None = None) -> None:
        """Show ``spec``: its first rows now, the rest from the stream's thread."""
        if reset:
            self.sticky.clear()
        self.view = spec
        stream = self.stream
        keep = keep_id if keep_id is not None else (None if reset else stream.current_id)
        stop = stream.new_load()
        first = views.first_rows(self.store, spec, keep_id=keep, sticky=self.sticky, stop=stop)
        stream.empty_text = views.empty_text(spec, self.store, self._keys_of("search_all"))
        stream.show_rows(first, keep=keep, reset=reset and keep is None)
        self.update_status()

    def on_stream_list_loaded(self, event: StreamList.Loaded) -> None:
        event.stop()
        self.update_status()

    def reload_view(self) -> None:
        """Items came or went (a refresh, another process): keep the cursor's item
        (the panes follow if it is gone) and show its newest text."""
        self.stream.refresh_rows()
        self.load_view(self.view, keep_id=self.stream.current_id)
        if self._show_timer is None and self.stream.current_id == self._shown_id:
            self._show_current()

    def _now(self) -> datetime | None:
        """The app's clock (tests set one); None: the real one."""
        return self.session.clock() if self.session.clock is not None else None

    def _resolve(self, spec: ViewSpec) -> ViewSpec:
        """A saved view (the network's...) with its definition from the config as
        it is now, its ``since`` from now; gone from the config: all items.  A
        spec that carries its view already (chosen in the picker, just saved) is
        taken as it is: config.toml may not have been read again yet."""
        if spec.saved is not None and spec.flt is not None:
            return spec
        try:
            return views.resolve(spec, self.session.config, self.store, at=self._now())
        except ViewError:
            return ViewSpec()

    def set_view(self, spec: ViewSpec) -> None:
        spec = self._resolve(spec)
        self.session.ui.view = spec.to_json()
        self._save_ui()
        self.load_view(spec, reset=True)

    def _save_ui(self) -> None:
        error = self.session.save_ui()
        if error:
            self.notify(error, severity="warning", markup=False)

    def _keys_of(self, action_id: str) -> str:
        for kd in MAIN_KEYS:
            if kd.id == action_id:
                return key_display(self.app, effective_keys(self.keymap, kd))
        return ""

    # ------------------------------------------------------------- status
    def update_status(self) -> None:
        state = self.app_state
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        t.append(" veille ", style="bold reverse")
        if state["write_error"]:
            # First, so no width cuts it off: marks are not on disk.
            t.append(" ⚠ not saved: ", style="bold red")
            t.append(clean_line(state["write_error"]), style="bold red")
            t.append(" — retrying ", style="bold red")
        t.append(" ")
        t.append(self.view.label(self.store), style="bold")
        unread, total = state["counts"]
        t.append(f"  {unread:,} unread / {total:,}")
        n = len(self.stream.ids)
        t.append(f"  · {n:,}{'+' if self.stream.loading else ''} shown", style="dim")
        if state["new_items"]:
            t.append(f"  · {state['new_items']} new", style="bold")
        if state["progress"]:
            t.append("  · ")
            t.append(state["progress"])
        errors = state["feed_errors"]
        if errors:
            t.append(f"  · {errors} feed error{'s' if errors > 1 else ''}", style="bold red")
        alerts = state["alerts"]
        if alerts:
            t.append("  · ⚑ ", style="bold")
            t.append(" · ".join(f"{label} {n}" for label, n in alerts), style="bold")
        responses = state["new_responses"]
        if responses:
            t.append(
                f"  · ↩ {responses} new response{'s' if responses != 1 else ''} (S)", style="bold"
            )
        if self.digits:
            t.append(f"  · link {self.digits}…", style="reverse")
        self.query_one("#status", Static).update(t)

    @property
    def status_text(self) -> str:
        """The status bar as shown (tests read it like a user would)."""
        return str(self.query_one("#status", Static).content)

    # ------------------------------------------------------ the shown item
    def on_stream_list_painted(self, event: StreamList.Painted) -> None:
        event.stop()
        self.post_message(FirstPaint())

    def on_stream_list_highlighted(self, event: StreamList.Highlighted) -> None:
        event.stop()
        if event.user:
            self._seen_target = event.item_id
        self.schedule_show()

    def schedule_show(self) -> None:
        """Show the cursor's item once the cursor rests for a moment.

        The stream repaints at once; the item (rendering, composer) follows
        SHOW_DELAY later, so holding j scrolls at full speed and a triage key
        costs one row repaint.  Any action that needs the item first catches up
        (``_ensure_shown``), so nothing ever acts on the row shown before."""
        if self._show_timer is not None:
            self._show_timer.stop()
        self._show_timer = self.set_timer(SHOW_DELAY, self._show_current)

    def _ensure_shown(self) -> None:
        iid = self.stream.current_id
        if (
            self._show_timer is not None
            or self.item_view.item_id != iid
            or self.composer.item_id != iid
        ):
            self._show_current()

    def _show_current(self) -> None:
        if self._show_timer is not None:
            self._show_timer.stop()
            self._show_timer = None
        iid = self.stream.current_id
        item = self.store.get_item(iid) if iid else None
        if item is None:
            self._cancel_read()
            if self._shown_id is not None or self.composer.item_id is not None or iid is None:
                self.item_view.show_nothing("Nothing selected.")
                self.composer.show_item(None, None)
            self._shown_id = None
            return
        iid = item.id
        new = iid != self._shown_id
        self._shown_id = iid
        shown = masked(item, self.stream.revealed)  # a content warning hides the text
        if shown is item:
            content = self.store.get_content(iid)
            article, note = self._article_for(item, content)
        else:
            content, article, note = Content(), None, ""
        self.item_view.show(
            shown,
            content,
            source=self._source(item),
            when=when_label(item),
            article=article,
            note=note,
        )
        if new or self.composer.item_id != iid:
            self.composer.show_item(item, self.store.get_draft(iid))
            self._cancel_read()
            if iid == self._seen_target:
                self._arm_read(iid)

    def _source(self, item: Item) -> str:
        feed = self.store.get_feed(item.feed)
        return feed.name if feed else ""

    # ------------------------------------------------------- full article
    def _article_for(self, item: Item, content: Content) -> tuple[Content | None, str]:
        """Which body the item pane shows and the header's line about it.

        The article when the user asked for it (w) or the feed always wants it
        (unless toggled back); fetched when not cached yet, never waited for:
        the feed's text shows meanwhile and stays if the fetch fails."""
        iid = item.id
        keys = self._keys_of("article")
        wanted = iid not in self._article_off and (
            iid in self._article_on or articles.wants_article(item, self.store.get_feed(item.feed))
        )
        body = articles.article_content(content)
        if not wanted:
            if body is not None:
                return None, f"Feed text · {keys}: the full article"
            error = self._article_error.get(iid)
            return None, (f"No full article: {error}" if error else "")
        if body is not None:
            return body, f"▤ Full article from the page · {keys}: the feed's text"
        error = self._article_error.get(iid)
        if error:
            return None, f"No full article: {error} — the feed's text"
        if iid not in self._article_asked:
            self._article_asked.add(iid)
            self.post_message(ArticleRequested(iid, quiet=iid not in self._article_on))
        return None, "Fetching the full article… (the feed's text meanwhile)"

    def action_article(self) -> None:
        """w: the item's full article from its page, or back to the feed's text."""
        item = self._current()
        if item is None:
            return
        iid = item.id
        if self.item_view.item_id == iid and self.item_view.shown == "article":
            self._article_on.discard(iid)
            self._article_off.add(iid)
        else:
            if not item.link.strip():
                self.notify("This item has no link: no page to fetch.", timeout=3)
                return
            self._article_off.discard(iid)
            self._article_on.add(iid)
            if self._article_error.pop(iid, None) is not None:
                self._article_asked.discard(iid)  # asked again: try again
        self._show_current()

    def _article_done(self, done: tuple[str, str]) -> None:
        iid, error = done
        if error:
            self._article_error[iid] = clean_line(error)
            if iid in self._article_on:
                self.notify(f"No full article: {clean_line(error)}", severity="warning",
                            markup=False, timeout=6)  # fmt: skip
        else:
            self._article_error.pop(iid, None)
        if iid == self.item_view.item_id:
            self._show_current()

    def _cancel_read(self) -> None:
        if self._read_cancel is not None:
            self._read_cancel()
        self._read_cancel = None
        self._read_pending = None

    def _arm_read(self, iid: str) -> None:
        """The user is on ``iid``: read once it stayed ``mark_read_delay`` seconds
        (0: at once)."""
        if self._read_pending == iid:
            return
        self._cancel_read()
        item = self.store.get_item(iid)
        if item is None or item.read:
            return
        delay = float(self.session.config["mark_read_delay"] or 0)
        if delay <= 0:
            self._auto_read(iid)
            return
        self._read_pending = iid
        self._read_cancel = self.timers(delay, partial(self._auto_read, iid))

    def _auto_read(self, iid: str) -> None:
        self._read_pending = None
        self._read_cancel = None
        if self.stream.current_id != iid or self._seen_target != iid:
            return
        if self.session.triage.mark_seen(iid):
            self.sticky.add(iid)
            self._changed([iid])

    def _changed(self, ids: list[str]) -> None:
        """Items' state changed: repaint their rows, the header if shown, the counts."""
        for iid in ids[:200]:
            self.stream.refresh_item(iid)
        if len(ids) > 200:
            self.stream.refresh()
        shown = self.item_view.item_id
        if shown in ids:
            item = self.store.get_item(shown) if shown else None
            if item is not None:
                self.item_view.update_marks(masked(item, self.stream.revealed))
        self.post_message(StateChanged())

    def _shares_changed(self) -> None:
        """Sent, failed, or answered: the rows' marks and the shown item's
        "what came back" follow."""
        self.stream.refresh_rows()
        shown = self.item_view.item_id
        item = self.store.get_item(shown) if shown else None
        if item is not None and self._show_timer is None and shown == self.stream.current_id:
            self._show_current()

    def _config_changed(self) -> None:
        """Accounts or defaults changed on disk: the composer offers them now."""
        iid = self.composer.item_id
        item = self.store.get_item(iid) if iid else None
        if item is not None:
            self.composer.reload_destinations(item)
        self.stream.refresh_rows()

    def on_toggle_bar_toggled(self, event: ToggleBar.Toggled) -> None:
        event.stop()  # the composer handles its own; nothing else has toggles

    def action_send_share(self) -> None:
        """Save the share (on disk before any network call), then ask the app to
        send it; destinations over their limit are refused, with the reason."""
        self._ensure_shown()
        composer = self.composer
        iid = composer.item_id
        if iid is None or self.store.get_item(iid) is None:
            self.notify("Select an item, then c to write your comment.", timeout=3)
            return
        if not composer.text.strip() and self._focused_pane() != "composer":
            # ctrl+s from the stream with nothing written: a slip, not a bare reshare
            self.notify("Write your comment first: c opens the composer.", timeout=3)
            return
        if not composer.choices.ticked:
            self.notify("No destination ticked: ctrl+o chooses.", severity="warning")
            return
        sent = composer.send()
        for name, reason in sent.refused:
            self.notify(
                f"{clean_line(name)}: not sent — {clean_line(reason)}",
                severity="error",
                markup=False,
                timeout=6,
            )
        if sent.error:
            self.notify(f"Not shared: {sent.error}", severity="error", markup=False)
            return
        if sent.share is None:
            return
        self._changed([iid])
        self.notify(f"Sharing to {', '.join(sent.to)}…", markup=False, timeout=2)
        self.post_message(SendShares([sent.share.id]))
        self.action_back()

    def action_quote(self) -> None:
        """Quote the selection, else the paragraph at the top of the item pane."""
        if self.stream.current_id is None:
            self.notify("No item selected.", timeout=2)
            return
        self._ensure_shown()
        selected = (self.get_selected_text() or "").strip()
        paragraph = selected or self.item_view.paragraph_at_top()
        if not paragraph.strip():
            self.notify("Nothing to quote here.", timeout=2)
            return
        self.composer.insert_quote(quote_block(paragraph))
        self.notify("Quoted into your comment (c to write).", timeout=2)

    def _pick_toggles(self, group: str) -> None:
        self._ensure_shown()
        composer = self.composer
        if composer.item_id is None:
            self.notify("Select an item first.", timeout=2)
            return
        ch = composer.choices
        if group == "to":
            accounts = self.session.compose.accounts()
            options = []
            for n in ch.destinations:
                a = accounts.get(n)
                target = f" · {a.target}" if a is not None and a.target else ""
                kind = a.type if a is not None else "?"
                options.append((n, f"{n}  ({kind}{target})", n in ch.ticked))
            title = "Share to"
        else:
            if not ch.hashtags:
                self.notify("No hashtags suggested for this item.", timeout=2)
                return
            options = [(t, "#" + t, t in ch.tags_on) for t in ch.hashtags]
            title = "Hashtags"

        def done(names: list[str] | None) -> None:
            if names is not None:
                composer.set_ticked(group, names)

        self.app.push_screen(ToggleScreen(title, options), done)

    def action_share_to(self) -> None:
        self._pick_toggles("to")

    def action_share_tags(self) -> None:
        self._pick_toggles("tag")

    def action_shares(self) -> None:
        self.post_message(ResponsesSeen())
        self.app.push_screen(SharesScreen(self.session), self._share_chosen)

    # ---------------------------------------------------------- the network
    def action_network(self) -> None:
        """p: the network view (24 h); p again: the week's."""
        name = (
            "network-week"
            if self.view.kind == "view" and self.view.value == "network"
            else "network"
        )
        self.search_box.display = False
        self.set_view(ViewSpec("view", name))
        self.notify(
            f"{self.view.label(self.store)}: shared by "
            f"{self.view.saved.min_sharers if self.view.saved else 2}+ accounts you follow, "
            "the most shared first.",
            markup=False,
            timeout=3,
        )

    def action_toggle_warning(self) -> None:
        """v: show the post behind its content warning, or close it again."""
        item = self._current()
        if item is None:
            return
        if not item.content_warning:
            self.notify("No content warning on this item.", timeout=2)
            return
        revealed = self.stream.revealed
        if item.id in revealed:
            revealed.discard(item.id)
        else:
            revealed.add(item.id)
        self.stream.refresh_rows()
        self._show_current()

    def action_answer_mode(self) -> None:
        """ctrl+r: the share credits the sharer, replies to their post, or quotes it."""
        self._ensure_shown()
        line = self.composer.cycle_answer()
        if not line:
            self.notify(
                "Nobody you follow shared this item: nothing to reply to or quote.", timeout=3
            )
            return
        self.notify(line[:1].upper() + line[1:], markup=False, timeout=2)

    def action_next_sharer(self) -> None:
        """ctrl+n: credit, reply to or quote the next sharer's post."""
        self._ensure_shown()
        if len(self.composer.choices.posts) < 2:
            self.notify("Only one person you follow shared this item.", timeout=2)
            return
        line = self.composer.next_post()
        self.notify(line[:1].upper() + line[1:], markup=False, timeout=2)

    def _share_chosen(self, choice: ShareChoice | None) -> None:
        if choice is None:
            return
        if choice.action == "edit":
            self.edit_share(choice.share_id)
        else:
            self.open_item(choice.item_id)

    def open_item(self, iid: str, *, focus: str = "item") -> None:
        """Select ``iid`` in the stream (showing all items if the view hides it)."""
        if self.store.get_item(iid) is None:
            self.notify("That item is no longer in the store.", severity="warning")
            return
        stream = self.stream
        self._seen_target = iid  # opened: it counts as seen
        try:
            index = stream.ids.index(iid)
        except ValueError:
            self.search_box.display = False
            self.session.ui.view = ViewSpec().to_json()
            self._save_ui()
            self.load_view(ViewSpec(), keep_id=iid)
        else:
            stream.move_to(index)
        self._show_current()
        if focus == "item":
            self.action_focus_item()
        elif focus == "composer":
            self.action_compose()

    def edit_share(self, share_id: str) -> None:
        """Back to the composer with a failed share's comment; ctrl+s retries it."""
        share = self.store.get_share(share_id)
        if share is None:
            self.notify("That share is gone.", severity="warning")
            return
        draft = self.composer.edit(share)
        self.open_item(share.item_id, focus="none")
        item = self.store.get_item(share.item_id)
        if item is None:
            return
        self.composer.show_item(item, draft)
        self.action_compose()

    # ---------------------------------------------------------- navigation
    def action_cursor_down(self) -> None:
        self.stream.move_by(1)

    def action_cursor_up(self) -> None:
        self.stream.move_by(-1)

    def action_cursor_top(self) -> None:
        self.stream.move_to(0)

    def action_cursor_bottom(self) -> None:
        self.stream.move_to(len(self.stream.ids) - 1)

    def action_next_unread(self) -> None:
        i = self.stream.find(lambda d: d.unread)
        if i < 0:
            self.notify("No more unread items below.", timeout=2)
            return
        self.stream.move_to(i)

    def action_prev_unread(self) -> None:
        i = self.stream.find(lambda d: d.unread, forward=False)
        if i < 0:
            self.notify("No unread items above.", timeout=2)
            return
        self.stream.move_to(i)

    def action_page_down(self) -> None:
        self._ensure_shown()
        view = self.item_view
        if view.scroll_y >= view.max_scroll_y:
            self.action_next_unread()  # like newsboat and mutt: space reads on
            return
        self._opened()
        view.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self._ensure_shown()
        self.item_view.scroll_page_up(animate=False)

    def _opened(self) -> None:
        """The user opened (or paged) the item under the cursor: it counts as seen."""
        iid = self.stream.current_id
        if iid is not None:
            self._seen_target = iid
            self._arm_read(iid)

    def action_focus_item(self) -> None:
        self._ensure_shown()
        self._opened()
        if self.narrow:
            self.show_pane("item")
        else:
            self.item_view.focus()

    def _focused_pane(self) -> str:
        f = self.app.focused
        if f is None:
            return "stream"
        if f is self.item_view:
            return "item"
        if f is self.composer.area:
            return "composer"
        return "stream"

    def action_cycle_pane(self, step: int = 1) -> None:
        current = self.pane if self.narrow else self._focused_pane()
        nxt = PANES[(PANES.index(current) + step) % len(PANES)]
        if nxt != "stream":
            self._ensure_shown()
        if nxt == "item":
            self._opened()
        if self.narrow:
            self.show_pane(nxt)
        else:
            self.pane = nxt
            {"stream": self.stream, "item": self.item_view, "composer": self.composer.area}[
                nxt
            ].focus()

    def action_cycle_pane_back(self) -> None:
        self.action_cycle_pane(-1)

    def action_compose(self) -> None:
        if self.stream.current_id is None:
            self.notify("Select an item to comment on first.", timeout=3)
            return
        self._ensure_shown()
        if self.narrow:
            self.show_pane("composer")
        else:
            self.pane = "composer"
            self.composer.area.focus()
        self.post_message(CheckConfig())

    def action_back(self) -> None:
        search = self.search_box
        if self.digits:
            self.digits = ""
            self.update_status()
            return
        if search.has_focus or (search.display and self._focused_pane() == "stream"):
            search.value = ""
            search.display = False
            if self.view.search:
                self.load_view(self.view.without_search(), keep_id=None)
            self.stream.focus()
            return
        if self._focused_pane() != "stream" or (self.narrow and self.pane != "stream"):
            if self.narrow:
                self.show_pane("stream")
            else:
                self.pane = "stream"
                self.stream.focus()

    # -------------------------------------------------------------- triage
    def _current(self) -> Item | None:
        self._ensure_shown()
        iid = self.stream.current_id
        item = self.store.get_item(iid) if iid else None
        if item is None:
            self.notify("No item selected.", timeout=2)
        return item

    def action_toggle_read(self) -> None:
        item = self._current()
        if item is None:
            return
        self._cancel_read()  # the user decided: no timer may undo it
        self.session.triage.toggle_read(item.id)
        self.sticky.add(item.id)
        self._changed([item.id])

    def action_star(self) -> None:
        item = self._current()
        if item is None:
            return
        self.session.triage.toggle_star(item.id)
        self.sticky.add(item.id)
        self._changed([item.id])

    def action_dismiss_item(self) -> None:
        """x: read and out of the way; the cursor goes on to the next item (the
        user moved on, so that one counts as seen, like j)."""
        item = self._current()
        if item is None:
            return
        iid = item.id
        self.session.triage.dismiss(iid)
        self.sticky.discard(iid)
        stream = self.stream
        if self.view.kind == "unread":
            index = stream.cursor
            ids = [i for i in stream.ids if i != iid]
            after = ids[index] if index < len(ids) else (ids[-1] if ids else None)
            stream.set_ids(ids, keep=after, user=True)
            self._changed([iid])
        else:
            self._changed([iid])
            stream.move_by(1)

    def action_mark_all_read(self) -> None:
        triage = self.session.triage
        ids = triage.unread_ids(self.view.to_filter())
        if not ids:
            self.notify("Nothing unread in this view.", timeout=2)
            return
        limit = int(self.session.config["confirm_over"])
        if len(ids) <= limit:
            self._mark_all(ids)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._mark_all(ids)

        where = self.view.label(self.store)
        self.app.push_screen(ConfirmScreen(f"Mark {len(ids):,} items of {where} read?"), answer)

    def _mark_all(self, ids: list[str]) -> None:
        n = self.session.triage.mark_all_read(ids)
        self.sticky.update(ids)
        self._changed(ids)
        self.stream.refresh()
        self.notify(f"Marked {n:,} item(s) read — u undoes.", timeout=3)

    def action_undo(self) -> None:
        undone = self.session.triage.undo()
        if undone is None:
            self.notify("Nothing to undo.", timeout=2)
            return
        ids = undone.ids
        self.sticky.update(ids)
        first = ids[0] if len(ids) == 1 else self.stream.current_id
        if first is not None and first not in self.stream.ids:
            self.load_view(self.view, keep_id=first)
        self._changed(ids)
        self.stream.refresh()
        self.notify(f"Undid {undone.label}.", timeout=2)

    def action_edit_tags(self) -> None:
        item = self._current()
        if item is None:
            return
        iid = item.id

        def done(value: str | None) -> None:
            if value is not None and self.session.triage.set_tags(iid, value) is not None:
                self._changed([iid])

        self.app.push_screen(
            AskScreen(
                "Tags for this item",
                ", ".join(item.tags),
                "comma, separated",
                "enter saves · esc cancels",
            ),
            done,
        )

    # --------------------------------------------------------------- links
    def action_digit(self, d: int) -> None:
        self.digits = (self.digits + str(d))[-3:].lstrip("0")
        self.update_status()

    def _target_link(self) -> str | None:
        number = self.digits
        self.digits = ""
        self.update_status()
        item = self._current()
        if item is None:
            return None
        if number:
            links = self.item_view.links
            n = int(number)
            if not 1 <= n <= len(links):
                self.notify(f"No link [{n}] in this item.", severity="warning", timeout=3)
                return None
            return links[n - 1].url
        if not item.link:
            self.notify("This item has no link.", severity="warning", timeout=3)
            return None
        return item.link

    def action_open_link(self) -> None:
        url = self._target_link()
        if url:
            self.post_message(OpenUrl(url))

    def action_copy_link(self) -> None:
        url = self._target_link()
        if url:
            self.app.copy_to_clipboard(url)
            self.notify(f"Copied {clean_line(url)}", markup=False, timeout=2)

    # ------------------------------------------------------ search, filter
    def action_search(self) -> None:
        search = self.search_box
        search.display = True
        search.value = self.view.search
        scope = self.view.scope(self.store)
        all_key = self._keys_of("search_all")
        search.placeholder = (
            f"search in {scope}: title, source, author, text · {all_key}: all items"
        )
        if self.narrow:
            self.show_pane("stream")
        search.focus()

    def action_search_all(self) -> None:
        """The same search over every item: a view can hide what one looks for."""
        text = self.search_box.value if self.search_box.display else self.view.search
        spec = ViewSpec("all", "", text.strip())
        if spec == self.view:
            self.notify("Already searching all items.", timeout=2)
            return
        self.set_view(spec)
        if spec.search:
            self.search_box.display = True
            self.search_box.value = spec.search
        self.notify(
            f"Searching all items for “{clean_line(spec.search)}”."
            if spec.search
            else "All items.",
            markup=False,
            timeout=2,
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "search":
            return
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        value = event.value
        self._search_timer = self.set_timer(0.03, lambda: self._search(value))

    def _search(self, value: str) -> None:
        spec = self.view.with_search(value)
        if spec != self.view:
            self.load_view(spec, reset=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search(event.value)
        if not event.value.strip():
            event.input.display = False
        self.stream.focus()

    def action_filter(self) -> None:
        """f: the saved views (their counts come from a thread), "Save this view
        as…", then every feed and tag."""
        config = self.session.config

        def done(key: str | None) -> None:
            if not key:
                return
            if key == views.SAVE_CHOICE:
                self._ask_save_view()
                return
            try:
                spec = views.spec_for_choice(key, config, self.store, at=self._now())
            except ViewError as exc:
                self.notify(clean_line(str(exc)), severity="error", markup=False)
                return
            self.search_box.display = False
            self.set_view(spec)

        choices = views.filter_choices(self.store, config, can_save=True)
        picker = ViewPickScreen("Show", choices, views.choice_key(self.view))
        self.app.push_screen(picker, done)
        self._count_views(picker, config)

    @work(thread=True, exclusive=True, group="view-counts", exit_on_error=False)
    def _count_views(self, picker: ViewPickScreen, config: Any) -> None:
        """view_counts walks the index for most views (~0.1-0.2 s at 100,000
        items): off the UI thread; the picker shows them when they are in."""
        saved = views.picker_views(config)
        counts = view_counts(self.store, saved, at=self._now())
        labels = {views.view_key(v): views.view_label(v, counts.get(v.name)) for v in saved}
        self.app.call_from_thread(picker.set_labels, labels)

    def _ask_save_view(self) -> None:
        spec = self.view
        config_file = self.session.config.path or self.session.paths.config_file

        def named(name: str | None) -> None:
            name = (name or "").strip()
            if not name:
                return
            view = views.saved_from_spec(name, spec, self.store)
            try:
                append_view(config_file, view)
            except (ViewError, OSError) as exc:
                self.notify(f"View not saved: {clean_line(str(exc))}", severity="error",
                            markup=False)  # fmt: skip
                return
            self.post_message(CheckConfig())  # the app reads config.toml again
            try:
                saved = views.spec_for_view(view, self.store)
            except ViewError:
                saved = spec
            self.set_view(replace(saved, search="") if saved.kind == "view" else saved)
            self.notify(f"Saved the view “{clean_line(name)}” in {config_file}.", markup=False,
                        timeout=4)  # fmt: skip

        what = self.view.label(self.store)
        self.app.push_screen(
            AskScreen(
                f"Save {what} as a view named…",
                "",
                "a short name, e.g. ai",
                "enter saves · esc cancels",
            ),
            named,
        )

    # ------------------------------------------------------------- refresh
    def action_refresh_all(self) -> None:
        self.post_message(RefreshRequested(None))

    def action_refresh_feed(self) -> None:
        if self.view.kind == "feed":
            self.post_message(RefreshRequested([self.view.value]))
            return
        item = self._current()
        if item is not None:
            self.post_message(RefreshRequested([item.feed]))

    def action_add_feed(self) -> None:
        self.post_message(AddFeedRequested())

    # ---------------------------------------------------------- feeds, rules
    def action_feeds(self) -> None:
        """F: the feeds pane; enter there shows that feed's (or tag's) items."""
        keep = None
        if self.view.kind in ("feed", "tag"):
            keep = (self.view.kind, self.view.value)
        else:
            iid = self.stream.current_id
            item = self.store.get_item(iid) if iid else None
            if item is not None:
                keep = ("feed", item.feed)

        def chosen(spec: ViewSpec | None) -> None:
            if spec is not None:
                self.search_box.display = False
                self.set_view(spec)

        from veille.tui.screens.feeds import FeedsScreen  # on first use: not at start

        self.app.push_screen(FeedsScreen(self.session, keep=keep), chosen)

    def action_rules(self) -> None:
        """M: mute rules and alerts, the current item's feed and author at hand."""
        iid = self.stream.current_id
        item = self.store.get_item(iid) if iid else None
        feed = self.store.get_feed(item.feed) if item is not None else None
        from veille.tui.screens.rules import RuleContext, RulesScreen  # on first use

        context = RuleContext(
            feed_url=feed.url if feed is not None else "",
            author=item.author if item is not None else "",
            tag=self.view.value if self.view.kind == "tag" else "",
        )
        self.app.push_screen(RulesScreen(self.session, context))

    # -------------------------------------------------------------- sizes
    def _resize(self, what: str, delta: int) -> None:
        ui = self.session.ui
        if what == "stream":
            ui.stream_width = max(STREAM_WIDTH[0], min(STREAM_WIDTH[1], ui.stream_width + delta))
        else:
            ui.composer_height = max(
                COMPOSER_HEIGHT[0], min(COMPOSER_HEIGHT[1], ui.composer_height + delta)
            )
        self.apply_layout()
        self.stream.refresh()
        self._save_ui()

    def action_wider(self) -> None:
        self._resize("stream", 5)

    def action_narrower(self) -> None:
        self._resize("stream", -5)

    def action_composer_taller(self) -> None:
        self._resize("composer", 2)

    def action_composer_shorter(self) -> None:
        self._resize("composer", -2)

    # ------------------------------------------------------------- palette
    def palette_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, callback) for the command palette: every key of this screen."""
        out: list[tuple[str, str, Callable[[], object]]] = []
        for kd in MAIN_KEYS:
            if kd.id == "add_feed":
                continue  # the app lists it (also on the welcome screen)
            keys = key_display(self.app, effective_keys(self.keymap, kd))
            out.append(
                (kd.description, f"key: {keys}", partial(self.run_action, kd.action or kd.id))
            )
        return out
