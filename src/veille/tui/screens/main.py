"""The three panes: stream │ item, composer below the item; one at a time when narrow.

Triage keys change the store in memory (the store writes within a second on
its own thread) and repaint one row, so they cost the same at 100,000 items
as at 10.  Views are loaded lazily: the first screenful synchronously, the
rest on a thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from veille.domain.records import Draft, Item
from veille.domain.share import Share
from veille.render.hygiene import clean_line
from veille.share.compose import make_via, quote_block, render_text, suggest_hashtags
from veille.tui.keys import DIGIT_KEYS, MAIN_KEYS
from veille.tui.query import ViewSpec, iter_view
from veille.tui.screens.pickers import AskScreen, PickScreen
from veille.tui.state import COMPOSER_HEIGHT, STREAM_WIDTH
from veille.tui.widgets.composer import Choices, Composer, ToggleBar, ToggleScreen
from veille.tui.widgets.item import ItemView
from veille.tui.widgets.preview import PreviewEntry
from veille.tui.widgets.stream import StreamList
from veille.util.dates import iso, now

if TYPE_CHECKING:
    from veille.tui.app import VeilleApp

FIRST_ROWS = 300  # rows found before the first paint; the rest on a thread
FIRST_BUDGET = 0.05  # seconds the first part of a query may take
CHUNK = 5000
NARROW = 100  # columns
PANES = ("stream", "item", "composer")
UNDO_DEPTH = 100
SHOW_DELAY = 0.04  # seconds the cursor rests before the item pane follows


class MainScreen(Screen[None]):
    app: VeilleApp  # type: ignore[assignment]
    BINDINGS = [kd.binding() for kd in [*MAIN_KEYS, *DIGIT_KEYS]]

    def __init__(self) -> None:
        super().__init__()
        self.view = ViewSpec()
        self.sticky: set[str] = set()  # read this session: stays in the unread view
        self.undo_stack: list[tuple[str, dict[str, dict[str, Any]]]] = []
        self.digits = ""
        self.pane = "stream"  # the pane shown when narrow
        self.narrow = False
        self._gen = 0
        self._want_id: str | None = None
        self._shown_id: str | None = None
        self._show_timer: Timer | None = None
        self._read_timer: Timer | None = None
        self._search_timer: Timer | None = None
        self._draft_dirty = False
        self._draft_saver = False
        self.progress_text = ""
        self.new_since_open = 0
        self._accounts: dict[str, Any] | None = None  # share destinations, read once

    # -------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal(id="panes"):
            with Vertical(id="stream-pane"):
                yield StreamList(self.app.store, clock=self.app.clock, id="stream")
                yield Input(placeholder="search title, source, author, text", id="search")
            with Vertical(id="right"):
                yield ItemView(id="item")
                yield Composer(cursor_blink=self.app.cursor_blink, id="composer")
        yield Footer(compact=True)

    built = False  # set at the end of on_mount, once the panes exist

    @property
    def stream(self) -> StreamList:
        return self.query_one(StreamList)

    @property
    def item_view(self) -> ItemView:
        return self.query_one(ItemView)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        self.view = ViewSpec.from_json(self.app.ui.view)
        if self.view.kind == "feed" and not self.app.store.get_feed(self.view.value):
            self.view = ViewSpec()
        self.apply_layout()
        self.stream.focus()
        self.load_view(self.view, reset=True)
        self.built = True

    def on_resize(self) -> None:
        self.apply_layout()

    def apply_layout(self) -> None:
        ui = self.app.ui
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
        """Show ``spec``: first rows now, the rest from a thread."""
        store = self.app.store
        self._gen += 1
        gen = self._gen
        if reset:
            self.sticky.clear()
        self.view = spec
        keep = keep_id if keep_id is not None else (None if reset else self.stream.current_id)
        it = iter_view(store, spec, keep=self.sticky, stop=lambda: gen != self._gen)
        exhausted = True
        if spec.kind == "all" and not spec.search:
            first = list(store.ordered_ids())  # everything: no test per item
            found = True
        else:
            first = []
            found = keep is None
            deadline = time.perf_counter() + FIRST_BUDGET
            for iid in it:
                first.append(iid)
                found = found or iid == keep
                if (len(first) >= FIRST_ROWS and found) or time.perf_counter() > deadline:
                    exhausted = False
                    break
        stream = self.stream
        stream.empty_text = self._empty_text()
        more = not exhausted
        stream.loading = more
        self._want_id = None if found else keep
        stream.set_ids(first, keep=keep, reset=reset and keep is None)
        if more:
            self._load_rest(gen, it)
        self.update_status()

    @work(thread=True, exit_on_error=False, group="view")
    def _load_rest(self, gen: int, it: Iterator[str]) -> None:
        """Take the rest of a view off the UI thread, in chunks as they fill
        (or every 0.1 s), and stop as soon as another view replaces it."""
        buf: list[str] = []
        last = time.monotonic()
        for iid in it:
            buf.append(iid)
            if len(buf) >= CHUNK or time.monotonic() - last > 0.1:
                if gen != self._gen:
                    return
                self.app.call_from_thread(self._extend, gen, buf)
                buf = []
                last = time.monotonic()
        if gen == self._gen:
            self.app.call_from_thread(self._extend, gen, buf)
            self.app.call_from_thread(self._loaded, gen)

    def _extend(self, gen: int, chunk: list[str]) -> None:
        if gen != self._gen:
            return
        stream = self.stream
        stream.extend(chunk)
        if self._want_id and self._want_id in chunk:
            want, self._want_id = self._want_id, None
            stream.set_ids(stream.ids, keep=want)

    def _loaded(self, gen: int) -> None:
        if gen == self._gen:
            self.stream.loading = False
            self.stream.refresh()
            self.update_status()

    def reload_view(self) -> None:
        """The store changed under us (refresh, another process): keep the cursor."""
        if not self.built:  # on_mount loads the view anyway
            return
        self.stream.refresh_rows()
        self.load_view(self.view, keep_id=self.stream.current_id)
        self._shown_id = None
        self.schedule_show()

    def set_view(self, spec: ViewSpec) -> None:
        self.app.ui.view = spec.to_json()
        self.app.save_ui()
        self.load_view(spec, reset=True)

    def _empty_text(self) -> str:
        if self.view.search:
            return f"No item matches “{clean_line(self.view.search)}”. esc clears the search."
        if self.view.kind == "unread":
            return "All read. f changes the view, r refreshes."
        return "No items here yet. r refreshes, f changes the view, a adds a feed."

    # ------------------------------------------------------------- status
    def update_status(self) -> None:
        # The app's timers may tick while this screen is still being mounted:
        # its widgets are not there until on_mount has run.
        if not self.built:
            return
        app = self.app
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        t.append(" veille ", style="bold reverse")
        t.append(" ")
        t.append(self.view.label(app.store), style="bold")
        unread, total = app.counts
        t.append(f"  {unread:,} unread / {total:,}")
        n = len(self.stream.ids)
        t.append(f"  · {n:,}{'+' if self.stream.loading else ''} shown", style="dim")
        if app.new_items:
            t.append(f"  · {app.new_items} new", style="bold")
        if self.progress_text:
            t.append("  · ")
            t.append(self.progress_text)
        if app.last_errors:
            t.append(
                f"  · {app.last_errors} feed error{'s' if app.last_errors > 1 else ''}",
                style="bold red",
            )
        if self.digits:
            t.append(f"  · link {self.digits}…", style="reverse")
        self.query_one("#status", Static).update(t)

    # ------------------------------------------------------ the shown item
    def on_stream_list_highlighted(self, event: StreamList.Highlighted) -> None:
        event.stop()
        self.schedule_show()

    def on_stream_list_painted(self, event: StreamList.Painted) -> None:
        event.stop()
        self.app.first_paint()

    def schedule_show(self) -> None:
        """Show the cursor's item once the cursor rests for a moment.

        The stream repaints at once; the item (HTML rendering, composer) follows
        SHOW_DELAY later, so holding j scrolls at full speed and a triage key
        costs one row repaint, not a re-layout of the item pane.
        """
        if self._show_timer is not None:
            self._show_timer.stop()
        self._show_timer = self.set_timer(SHOW_DELAY, self._show_current)

    def _show_current(self) -> None:
        self._show_timer = None
        iid = self.stream.current_id
        store = self.app.store
        item = store.get_item(iid) if iid else None
        if item is None:
            if self._shown_id is not None or iid is None:
                self.item_view.show_nothing("Nothing selected.")
                self.composer.load(None, "", None)
                self.composer.show_preview([])
            self._shown_id = None
            return
        new = iid != self._shown_id
        self._shown_id = iid
        source, when = self._source_when(item)
        self.item_view.show(item, store.get_content(iid), source=source, when=when)
        if new:
            self._load_composer(item, source, store.get_draft(iid))
            self._arm_mark_read(iid)

    def _prefill(self, item: Item, source: str) -> str:
        share = Share(
            id="",
            item_id=item.id,
            comment="",
            created="",
            title=item.title,
            link=item.link,
            source=source,
            author=item.author,
            via=make_via(source, author=item.author),
        )
        return render_text(share, self.app.config["share.template"]) + "\n"

    def _arm_mark_read(self, iid: str) -> None:
        if self._read_timer is not None:
            self._read_timer.stop()
            self._read_timer = None
        item = self.app.store.get_item(iid)
        if item is None or item.read:
            return
        delay = float(self.app.config["mark_read_delay"] or 0)
        if delay <= 0:
            self._auto_read(iid)
        else:
            self._read_timer = self.set_timer(delay, lambda: self._auto_read(iid))

    def _auto_read(self, iid: str) -> None:
        if self.stream.current_id != iid:
            return
        item = self.app.store.get_item(iid)
        if item and not item.read:
            self.sticky.add(iid)
            self.app.store.set_state([iid], read=True)
            self._changed([iid])

    def _changed(self, ids: list[str], *, header: bool = True) -> None:
        for iid in ids[:200]:
            self.stream.refresh_item(iid)
        if len(ids) > 200:
            self.stream.refresh()
        if header and self.stream.current_id in ids:
            self._shown_id_refresh()
        self.app.recount_soon()

    def _shown_id_refresh(self) -> None:
        iid = self.stream.current_id
        item = self.app.store.get_item(iid) if iid else None
        if item is not None:
            # Same lines, new marks: no re-layout of the item pane (a triage key
            # must cost a row repaint, not a layout).
            self.item_view.query_one("#item-header", Static).update(
                self.item_view._header(item, *self._source_when(item)), layout=False
            )

    def _source_when(self, item: Item) -> tuple[str, str]:
        feed = self.app.store.get_feed(item.feed)
        if item.published:
            when = item.published[:16].replace("T", " ")
        else:  # the feed gives no date: say when it arrived, not a made-up one
            when = "seen " + item.first_seen[:16].replace("T", " ")
        return feed.name if feed else "", when

    # -------------------------------------------------------------- drafts
    def on_composer_draft_changed(self, event: Composer.DraftChanged) -> None:
        event.stop()
        store = self.app.store
        if event.item_id == self.composer.item_id:
            draft = self.composer.draft(event.item_id, iso(now()))
        else:
            draft = Draft(item_id=event.item_id, text=event.text, updated=iso(now()))
        store.save_draft(draft, durable=False)
        self.composer.mark_saved(True)
        self._flush_soon()
        self.update_preview()

    def _flush_soon(self) -> None:
        """Write the store from a thread, now-ish: a draft survives a kill -9."""
        self._draft_dirty = True
        if not self._draft_saver:
            self._draft_saver = True
            self._save_drafts()

    @work(thread=True, exit_on_error=False, group="draft")
    def _save_drafts(self) -> None:
        try:
            while self._draft_dirty:
                self._draft_dirty = False
                self.app.store.flush()
        finally:
            self._draft_saver = False

    # ------------------------------------------------------------- sharing
    def share_accounts(self) -> dict[str, Any]:
        if self._accounts is None:
            self._accounts = self.app.share_accounts()
        return self._accounts

    def _choices(self, item: Item) -> Choices:
        """Defaults for a new share of ``item``: the configured destinations ticked,
        every hashtag suggested by its categories ticked (the preview shows them)."""
        from veille.accounts.config import default_destinations

        accounts = self.share_accounts()
        names = list(accounts)
        ticked = [n for n in default_destinations(self.app.config, accounts) if n in accounts]
        tags = suggest_hashtags(list(item.categories))
        return Choices(destinations=names, ticked=ticked, hashtags=tags, tags_on=list(tags))

    def _load_composer(self, item: Item, source: str, draft: Draft | None) -> None:
        self.composer.load(item.id, self._prefill(item, source), draft, self._choices(item))
        self.update_preview()

    def update_preview(self) -> None:
        """Each ticked destination's text as the outbox will post it, and its counter."""
        from veille.share.outbox import OutboxError, build_share, length_check

        composer = self.composer
        iid = composer.item_id
        ticked = list(composer.choices.ticked)
        if iid is None or not ticked:
            composer.show_preview([])
            return
        accounts = self.share_accounts()
        try:
            share = build_share(
                self.app.store,
                self.app.config,
                iid,
                composer.text,
                to=ticked,
                hashtags=list(composer.choices.tags_on),
                accounts=accounts,
            )
        except OutboxError as exc:
            composer.show_preview([PreviewEntry("?", "", "", clean_line(str(exc)), False)])
            return
        entries = []
        for name, d in share.deliveries.items():
            verdict = length_check(share, d, accounts[name])
            entries.append(PreviewEntry(name, d.kind, d.text, verdict.reason, verdict.ok))
        composer.show_preview(entries)
        ticked_accounts = {n: accounts[n] for n in ticked if n in accounts}
        self.app.learn_limits(ticked_accounts, self._limits_learnt)

    def _limits_learnt(self) -> None:
        self._accounts = None
        if self.is_mounted:
            self.update_preview()

    def on_toggle_bar_toggled(self, event: ToggleBar.Toggled) -> None:
        event.stop()  # the composer handles its own; nothing else has toggles

    def action_send_share(self) -> None:
        """Save the share (the outbox writes it before any network call), then send it
        from a thread; destinations over their limit are refused, with the reason."""
        from veille.share.outbox import OutboxError, create_share, retry

        composer = self.composer
        iid = composer.item_id
        if iid is None or self.app.store.get_item(iid) is None:
            self.app.notify("Select an item, then c to write your comment.", timeout=3)
            return
        if not composer.text.strip() and self._focused_pane() != "composer":
            # ctrl+s from the stream with nothing written: a slip, not a bare reshare
            self.app.notify("Write your comment first: c opens the composer.", timeout=3)
            return
        if not composer.choices.ticked:
            self.app.notify("No destination ticked: ctrl+o chooses.", severity="warning")
            return
        self.update_preview()
        entries = composer.preview.entries
        for e in entries:
            if not e.ok:
                self.app.notify(
                    f"{clean_line(e.name)}: not sent — {clean_line(e.counter)}",
                    severity="error",
                    markup=False,
                    timeout=6,
                )
        to = [e.name for e in entries if e.ok]
        if not to:
            return
        accounts = self.share_accounts()
        store, config = self.app.store, self.app.config
        try:
            old = store.get_share(composer.share_id) if composer.share_id else None
            if old is not None:
                if old.hashtags != composer.choices.tags_on:
                    old.hashtags = list(composer.choices.tags_on)
                    store.put_share(old)
                share = retry(
                    store, config, composer.share_id, to, composer.text, accounts=accounts
                )
            else:
                share = create_share(
                    store,
                    config,
                    iid,
                    composer.text,
                    to=to,
                    hashtags=list(composer.choices.tags_on),
                    accounts=accounts,
                )
        except (OutboxError, OSError) as exc:
            self.app.notify(f"Not shared: {clean_line(str(exc))}", severity="error", markup=False)
            return
        # The share is on disk: only now may the draft go.
        store.delete_draft(iid)
        self._flush_soon()
        self._changed([iid])
        item = store.get_item(iid)
        if item is not None:
            self._load_composer(item, self._source_when(item)[0], None)
        self.app.notify(f"Sharing to {', '.join(to)}…", markup=False, timeout=2)
        self.app.send_shares([share.id], accounts)
        self.action_back()

    def action_quote(self) -> None:
        """Quote the selection, else the paragraph at the top of the item pane."""
        iid = self.stream.current_id
        if iid is None:
            self.app.notify("No item selected.", timeout=2)
            return
        if self.item_view.item_id != iid or self.composer.item_id != iid:
            self._show_current()
        selected = (self.get_selected_text() or "").strip()
        paragraph = selected or self._paragraph_at_top()
        if not paragraph.strip():
            self.app.notify("Nothing to quote here.", timeout=2)
            return
        self.composer.insert_quote(quote_block(paragraph))
        self.app.notify("Quoted into your comment (c to write).", timeout=2)

    def _paragraph_at_top(self) -> str:
        """The body paragraph under the item pane's top line (or the next one)."""
        from rich._wrap import divide_line

        from veille.tui.widgets.item import render_html, render_plain

        view = self.item_view
        iid = view.item_id
        item = self.app.store.get_item(iid) if iid else None
        if item is None or render_html is None:
            return ""
        content = self.app.store.get_content(iid)
        html = content.html
        width = max(20, view.size.width - 4)
        if not html:
            rendered = render_plain(item.summary)
        elif content.type == "text":
            rendered = render_plain(html)
        else:
            rendered = render_html(html, base_url=content.base or item.link, width_hint=width)
        plain = rendered.text.plain
        if not rendered.paragraphs:
            return plain
        body = view.query_one("#item-body", Static)
        wrap = max(1, body.content_region.width or width)
        top = max(0, int(view.scroll_y) - body.virtual_region.y)
        offset, row = 0, 0
        for line in plain.split("\n"):
            breaks = divide_line(line, wrap, fold=True) if line else []
            if row + len(breaks) + 1 > top:
                k = top - row
                offset += breaks[k - 1] if k > 0 else 0
                break
            row += len(breaks) + 1
            offset += len(line) + 1
        for start, end in rendered.paragraphs:
            if end > offset and plain[start:end].strip():
                return plain[start:end]
        return ""

    def _pick_toggles(self, group: str) -> None:
        composer = self.composer
        if composer.item_id is None:
            self.app.notify("Select an item first.", timeout=2)
            return
        ch = composer.choices
        if group == "to":
            accounts = self.share_accounts()
            options = []
            for n in ch.destinations:
                a = accounts[n]
                label = f"{n}  ({a.type}{' · ' + a.target if a.target else ''})"
                options.append((n, label, n in ch.ticked))
            title = "Share to"
        else:
            if not ch.hashtags:
                self.app.notify("No hashtags suggested for this item.", timeout=2)
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
        from veille.tui.screens.shares import SharesScreen

        self.app.push_screen(SharesScreen())

    def open_item(self, iid: str, *, focus: str = "item") -> None:
        """Select ``iid`` in the stream (showing all items if the view hides it)."""
        if self.app.store.get_item(iid) is None:
            self.app.notify("That item is no longer in the store.", severity="warning")
            return
        stream = self.stream
        try:
            index = stream.ids.index(iid)
        except ValueError:
            self.query_one("#search", Input).display = False
            self.app.ui.view = ViewSpec().to_json()
            self.app.save_ui()
            self.load_view(ViewSpec(), keep_id=iid)
        else:
            stream.move_to(index)
        if self._show_timer is not None:
            self._show_timer.stop()
            self._show_timer = None
        self._show_current()
        if focus == "item":
            self.action_focus_item()
        elif focus == "composer":
            self.action_compose()

    def edit_share(self, share: Share) -> None:
        """Back to the composer with a failed share's comment; ctrl+s retries it."""
        iid = share.item_id
        draft = Draft(
            item_id=iid,
            text=share.comment,
            to=tuple(n for n, d in share.deliveries.items() if d.status != "sent"),
            hashtags=tuple(share.hashtags),
            share_id=share.id,
            updated=iso(now()),
        )
        self.app.store.save_draft(draft, durable=False)
        self._flush_soon()
        self.open_item(iid, focus="none")
        item = self.app.store.get_item(iid)
        if item is None:
            return
        self._load_composer(item, self._source_when(item)[0], draft)
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

    def _unread(self, d: Item) -> bool:
        return d.unread

    def action_next_unread(self) -> None:
        i = self.stream.find(self._unread)
        if i < 0:
            self.app.notify("No more unread items below.", timeout=2)
            return
        self.stream.move_to(i)

    def action_prev_unread(self) -> None:
        i = self.stream.find(self._unread, forward=False)
        if i < 0:
            self.app.notify("No unread items above.", timeout=2)
            return
        self.stream.move_to(i)

    def action_page_down(self) -> None:
        view = self.item_view
        if view.scroll_y >= view.max_scroll_y:
            self.action_next_unread()  # like newsboat and mutt: space reads on
            return
        view.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.item_view.scroll_page_up(animate=False)

    def action_focus_item(self) -> None:
        self._show_current()
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
            self.app.notify("Select an item to comment on first.", timeout=3)
            return
        if self.narrow:
            self.show_pane("composer")
        else:
            self.pane = "composer"
            self.composer.area.focus()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if self.digits:
            self.digits = ""
            self.update_status()
            return
        if search.has_focus or (search.display and self._focused_pane() == "stream"):
            search.value = ""
            search.display = False
            if self.view.search:
                self.load_view(ViewSpec(self.view.kind, self.view.value), keep_id=None)
            self.stream.focus()
            return
        if self._focused_pane() != "stream" or (self.narrow and self.pane != "stream"):
            if self.narrow:
                self.show_pane("stream")
            else:
                self.pane = "stream"
                self.stream.focus()

    # -------------------------------------------------------------- triage
    def _push_undo(self, label: str, ids: list[str], fields: tuple[str, ...]) -> None:
        store = self.app.store
        before: dict[str, dict[str, Any]] = {}
        for iid in ids:
            d = store.get_item(iid)
            if d is not None:
                before[iid] = {f: getattr(d, f) for f in fields}
        self.undo_stack.append((label, before))
        del self.undo_stack[:-UNDO_DEPTH]

    def _current(self) -> Item | None:
        iid = self.stream.current_id
        item = self.app.store.get_item(iid) if iid else None
        if item is None:
            self.app.notify("No item selected.", timeout=2)
        return item

    def action_toggle_read(self) -> None:
        item = self._current()
        if item is None:
            return
        iid = item.id
        self._push_undo("read", [iid], ("read",))
        self.sticky.add(iid)
        self.app.store.set_state([iid], read=not item.read)
        self._changed([iid])

    def action_star(self) -> None:
        item = self._current()
        if item is None:
            return
        iid = item.id
        self._push_undo("star", [iid], ("starred",))
        self.sticky.add(iid)
        self.app.store.set_state([iid], starred=not item.starred)
        self._changed([iid])

    def action_dismiss(self) -> None:
        item = self._current()
        if item is None:
            return
        iid = item.id
        self._push_undo("dismiss", [iid], ("read", "hidden"))
        self.app.store.set_state([iid], read=True, hidden=True)
        self.sticky.discard(iid)
        stream = self.stream
        if self.view.kind in ("unread",):
            index = stream.cursor
            ids = [i for i in stream.ids if i != iid]
            after = ids[index] if index < len(ids) else (ids[-1] if ids else None)
            stream.set_ids(ids, keep=after)
            stream.refresh()
        else:
            self._changed([iid])
            stream.move_by(1)
        self.app.recount_soon()

    def action_mark_all_read(self) -> None:
        store = self.app.store
        ids = [i for i in self.stream.ids if (d := store.get_item(i)) is not None and not d.read]
        if not ids:
            self.app.notify("Nothing unread in this view.", timeout=2)
            return
        self._push_undo("mark all read", ids, ("read",))
        self.sticky.update(ids)
        store.set_state(ids, read=True)
        self._changed(ids, header=True)
        self.stream.refresh()
        self.app.notify(f"Marked {len(ids):,} item(s) read — u undoes.", timeout=3)

    def action_undo(self) -> None:
        if not self.undo_stack:
            self.app.notify("Nothing to undo.", timeout=2)
            return
        label, before = self.undo_stack.pop()
        store = self.app.store
        groups: dict[tuple[tuple[str, Any], ...], list[str]] = {}
        for iid, fields in before.items():
            key = tuple(
                sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in fields.items())
            )
            groups.setdefault(key, []).append(iid)
        for key, ids in groups.items():
            fields = {k: list(v) if isinstance(v, tuple) else v for k, v in key}
            ids = [i for i in ids if store.get_item(i) is not None]
            if ids:
                store.set_state(ids, **fields)
        ids = list(before)
        self.sticky.update(ids)
        first = ids[0] if len(ids) == 1 else self.stream.current_id
        if first not in self.stream.ids:
            self.load_view(self.view, keep_id=first)
        self._changed(ids)
        self.stream.refresh()
        self.app.notify(f"Undid {label}.", timeout=2)

    def action_edit_tags(self) -> None:
        item = self._current()
        if item is None:
            return
        iid = item.id
        tags = ", ".join(item.tags)

        def done(value: str | None) -> None:
            if value is None:
                return
            new = sorted({clean_line(t).strip() for t in value.split(",") if t.strip()})
            self._push_undo("tags", [iid], ("tags",))
            self.app.store.set_state([iid], tags=new)
            self._changed([iid])

        self.app.push_screen(
            AskScreen("Tags for this item", tags, "comma, separated", "enter saves · esc cancels"),
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
        if number:
            if self.item_view.item_id != self.stream.current_id:
                self._show_current()
            links = self.item_view.links
            n = int(number)
            if not 1 <= n <= len(links):
                self.app.notify(f"No link [{n}] in this item.", severity="warning", timeout=3)
                return None
            return links[n - 1].url
        item = self._current()
        if item is None:
            return None
        if not item.link:
            self.app.notify("This item has no link.", severity="warning", timeout=3)
            return None
        return item.link

    def action_open_link(self) -> None:
        url = self._target_link()
        if url:
            self.app.open_in_browser(url)

    def action_copy_link(self) -> None:
        url = self._target_link()
        if url:
            self.app.copy_to_clipboard(url)
            self.app.notify(f"Copied {clean_line(url)}", markup=False, timeout=2)

    # ------------------------------------------------------ search, filter
    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.value = self.view.search
        if self.narrow:
            self.show_pane("stream")
        search.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "search":
            return
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        value = event.value
        self._search_timer = self.set_timer(0.03, lambda: self._search(value))

    def _search(self, value: str) -> None:
        spec = ViewSpec(self.view.kind, self.view.value, value.strip())
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
        store = self.app.store
        choices = [
            ("v:unread", "Unread"),
            ("v:starred", "Starred"),
            ("v:shared", "Shared"),
            ("v:all", "All"),
        ]
        counts = store.counts()
        for f in store.feeds():
            total, unread = counts.get(f.id, (0, 0))
            choices.append((f"feed:{f.id}", f"Feed: {f.name}  ({unread}/{total})"))
        for tag in store.all_tags():
            choices.append((f"tag:{tag}", f"Tag: {tag}"))
        current = (
            f"v:{self.view.kind}"
            if self.view.kind in ("unread", "starred", "shared", "all")
            else f"{self.view.kind}:{self.view.value}"
        )

        def done(key: str | None) -> None:
            if not key:
                return
            kind, _, value = key.partition(":")
            spec = ViewSpec(value) if kind == "v" else ViewSpec(kind, value)
            self.query_one("#search", Input).display = False
            self.set_view(spec)

        self.app.push_screen(PickScreen("Show", choices, current), done)

    # ------------------------------------------------------------- refresh
    def action_refresh_all(self) -> None:
        self.app.start_refresh(None)

    def action_refresh_feed(self) -> None:
        item = self._current()
        if self.view.kind == "feed":
            self.app.start_refresh([self.view.value])
        elif item is not None:
            self.app.start_refresh([item.feed])

    def action_add_feed(self) -> None:
        self.app.ask_add_feed()

    # -------------------------------------------------------------- sizes
    def _resize(self, what: str, delta: int) -> None:
        ui = self.app.ui
        if what == "stream":
            ui.stream_width = max(STREAM_WIDTH[0], min(STREAM_WIDTH[1], ui.stream_width + delta))
        else:
            ui.composer_height = max(
                COMPOSER_HEIGHT[0], min(COMPOSER_HEIGHT[1], ui.composer_height + delta)
            )
        self.apply_layout()
        self.stream.refresh()
        self.app.save_ui()

    def action_wider(self) -> None:
        self._resize("stream", 5)

    def action_narrower(self) -> None:
        self._resize("stream", -5)

    def action_composer_taller(self) -> None:
        self._resize("composer", 2)

    def action_composer_shorter(self) -> None:
        self._resize("composer", -2)
