"""The composer: "reshare with comment" for the selected item.

The text area holds *your comment* only; the title, link and attribution come
from the template (config ``share.template``) and are shown, filled, in the
live preview beside it, exactly as each ticked destination will get them.  The
comment stays a field of its own because the Atom feed, Micropub, the digest and
search all use it apart from the title and link.

For an item people you follow shared, the title says whose post the share
answers and how: "via @alice@instance" (credit, the default: the first sharer),
"reply to …" or "quote …"; ctrl+r cycles the three, ctrl+n the sharers.  The
preview says, per destination, how it carries a reply or a quote, or why it
cannot (a reply goes only to the network the post lives on).

Every edit (text, destinations, hashtags, credit/reply/quote) is saved as a
draft keyed by the item id; the durable write runs on a thread so typing never
waits for fsync, and it follows each edit within a fraction of a second, so a
``kill -9`` loses at most that.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static, TextArea

from veille.domain.records import Draft, Item
from veille.domain.share import Share
from veille.render.hygiene import clean_line
from veille.store.errors import StoreWriteError
from veille.tui.services.compose import ANSWERS, Choices, ComposeService, PreviewEntry, Sent
from veille.tui.widgets.preview import SharePreview
from veille.util.dates import iso, now

log = logging.getLogger(__name__)

TITLE = "Reshare with comment"


class ToggleBar(Static):
    """One line of toggles, "To: [x] atom [ ] work   Tags: [x] #python".

    Clicking a toggle flips it; ctrl+o / ctrl+g open a keyboard picker.  It is
    one Static (not a widget per toggle) so showing another item stays cheap.
    """

    class Toggled(Message):
        def __init__(self, group: str, name: str) -> None:
            super().__init__()
            self.group = group  # "to" | "tag"
            self.name = name

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spans: list[tuple[int, int, str, str]] = []  # (start, end, group, name)

    def show(self, choices: Choices) -> None:
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        self.spans = []

        def toggle(group: str, name: str, on: bool, label: str) -> None:
            start = t.cell_len
            t.append("☑ " if on else "☐ ", style="bold" if on else "dim")
            t.append(clean_line(label), style="" if on else "dim")
            self.spans.append((start, t.cell_len, group, name))
            t.append("  ")

        t.append("To: ", style="bold")
        for name in choices.destinations:
            toggle("to", name, name in choices.ticked, name)
        if choices.hashtags:
            t.append("  Tags: ", style="bold")
            for tag in choices.hashtags:
                toggle("tag", tag, tag in choices.tags_on, "#" + tag)
        self.update(t)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for start, end, group, name in self.spans:
            if start <= offset.x < end:
                event.stop()
                self.post_message(self.Toggled(group, name))
                return


class Composer(Vertical):
    """Title line, toggles, then the comment beside the live preview.

    With a ComposeService it runs itself: it fills in what an item's share will
    say, saves the draft on every edit (durably, from a thread), keeps the
    preview and its counters current and learns Mastodon limits in the
    background.  The screen decides when to show an item and when to send."""

    def __init__(
        self,
        service: ComposeService | None = None,
        *,
        cursor_blink: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.service = service
        self._dirty = False
        self._saving = False
        self.item_id: str | None = None
        self.share_id: str | None = None  # set while editing a failed share
        self.prefill = ""
        self.choices = Choices()
        self._loaded = ""
        self._blink = cursor_blink
        self._saved = False
        self.warning = ""  # e.g. "already shared …": shown in the title line

    def compose(self) -> ComposeResult:
        yield Static(Text(TITLE, style="bold"), id="composer-title")
        yield ToggleBar(id="composer-toggles")
        with Horizontal(id="composer-body"):
            area = TextArea(
                id="composer-text",
                soft_wrap=True,
                show_line_numbers=False,
                placeholder="Your comment… (the preview shows the whole post)",
            )
            area.cursor_blink = self._blink
            yield area
            yield SharePreview(id="composer-preview")

    @property
    def area(self) -> TextArea:
        return self.query_one("#composer-text", TextArea)

    @property
    def preview(self) -> SharePreview:
        return self.query_one(SharePreview)

    @property
    def text(self) -> str:
        """The comment as typed."""
        return self.area.text

    def load(
        self,
        item_id: str | None,
        prefill: str,
        draft: Draft | None,
        choices: Choices | None = None,
    ) -> None:
        """Show the draft of ``item_id`` (or an empty comment when none).

        ``prefill`` is the template filled for the item without a comment: what
        the preview shows before you type.  ``choices`` are the defaults; a
        draft's own destinations and hashtags win over them.
        """
        self.item_id = item_id
        self.prefill = prefill
        self._loaded = draft.text if draft else ""
        self.share_id = draft.share_id if draft else None
        ch = choices or Choices()
        if draft is not None and draft.to is not None:
            ch.ticked = [n for n in draft.to if n in ch.destinations]
        if draft is not None and draft.hashtags is not None:
            tags = list(draft.hashtags)
            ch.hashtags = list(dict.fromkeys([*ch.hashtags, *tags]))
            ch.tags_on = tags
        if draft is not None and ch.posts:
            if draft.post:
                ch.post = next((i for i, p in enumerate(ch.posts) if p.url == draft.post), 0)
            ch.answer = draft.answer or "credit"
        self.choices = ch
        self.area.load_text(self._loaded)
        self.area.move_cursor(self.area.document.end)
        self.area.disabled = item_id is None
        self.query_one(ToggleBar).show(ch)
        self.warning = ""
        self.mark_saved(draft is not None)

    def mark_saved(self, saved: bool) -> None:
        self._saved = saved
        self._title()

    def set_warning(self, warning: str) -> None:
        self.warning = warning
        self._title()

    def _title(self) -> None:
        """ "Reshare with comment → atom, work · via @alice@a.example", or "Reply to
        @bob@b.example → work", then what matters about this share."""
        ch = self.choices
        answer = clean_line(ch.describe())
        title = TITLE
        if answer and ch.answer != "credit":
            title, answer = answer[:1].upper() + answer[1:], ""
        label = Text(title, style="bold", no_wrap=True, overflow="ellipsis", end="")
        if self.item_id is not None:
            ticked = self.choices.ticked
            if ticked:
                label.append(" → ", style="bold")
                label.append(", ".join(clean_line(n) for n in ticked), style="bold")
            else:
                label.append(" → nowhere yet (ctrl+o chooses)", style="bold")
            if answer:
                label.append("  · ")
                label.append(answer, style="bold")
        if self.share_id:
            label.append(f"  · editing failed share {self.share_id}", style="bold")
        if self.warning:
            label.append("  · ⚠ ", style="bold")
            label.append(clean_line(self.warning), style="bold")
        if self._saved:
            label.append("  · draft saved", style="dim")
        hints = "   ctrl+s send · ctrl+o to · ctrl+g tags · > quote"
        if ch.posts:
            hints += " · ctrl+r credit/reply/quote"
            if len(ch.posts) > 1:
                hints += " · ctrl+n sharer"
        label.append(hints + " · esc back", style="dim")
        self.query_one("#composer-title", Static).update(label)

    def draft(self, item_id: str, updated: str | None) -> Draft:
        """What the autosave keeps: the comment and every toggle."""
        return Draft(
            item_id=item_id,
            text=self.area.text,
            to=tuple(self.choices.ticked),
            hashtags=tuple(self.choices.tags_on),
            share_id=self.share_id,
            updated=updated,
            answer=self.choices.share_answer,
            post=post.url if (post := self.choices.chosen) is not None else "",
        )

    def show_preview(self, entries: list[PreviewEntry]) -> None:
        self.preview.show(entries)

    def set_destinations(self, names: list[str]) -> None:
        """The destinations known now (the config changed): the comment stays."""
        self.choices.destinations = list(names)
        self.choices.ticked = [n for n in self.choices.ticked if n in names]
        self.query_one(ToggleBar).show(self.choices)
        self._title()

    def set_ticked(self, group: str, names: list[str]) -> None:
        """Replace the ticked destinations or hashtags (from a picker)."""
        if group == "to":
            self.choices.ticked = [n for n in self.choices.destinations if n in names]
        else:
            self.choices.tags_on = [t for t in self.choices.hashtags if t in names]
        self._changed()

    def toggle(self, group: str, name: str) -> None:
        current = self.choices.ticked if group == "to" else self.choices.tags_on
        names = [n for n in current if n != name] if name in current else [*current, name]
        self.set_ticked(group, names)

    def cycle_answer(self) -> str:
        """credit → reply → quote → credit for the chosen sharer's post; what the
        share does now, in one line ("" when nobody you follow shared the item)."""
        ch = self.choices
        if self.item_id is None or ch.chosen is None:
            return ""
        ch.answer = ANSWERS[(ANSWERS.index(ch.answer) + 1) % len(ANSWERS)]
        self._changed()
        return ch.describe()

    def next_post(self) -> str:
        """The next sharer's post is the one credited, replied to or quoted."""
        ch = self.choices
        if self.item_id is None or ch.chosen is None:
            return ""
        ch.post = (ch.post + 1) % len(ch.posts)
        if self.service is not None and ch.answer == "credit":
            item = self.service.store.get_item(self.item_id)
            if item is not None:
                self.prefill = self.service.prefill(item, ch.chosen)
        self._changed()
        return ch.describe()

    def insert_quote(self, block: str) -> None:
        """Add a quote block at the end of the comment, then a blank line to write on."""
        text = self.area.text.rstrip("\n")
        sep = "\n\n" if text else ""
        self.area.load_text(text + sep + block + "\n\n")
        self.area.move_cursor(self.area.document.end)
        self._changed()

    def _changed(self) -> None:
        self.query_one(ToggleBar).show(self.choices)
        self._title()
        if self.item_id is None:
            return
        self._loaded = self.area.text
        if self.service is not None:
            self.service.store.save_draft(self.draft(self.item_id, iso(now())), durable=False)
            self.mark_saved(True)
            self.flush_soon()
            self.update_preview()

    # ------------------------------------------------------ with a service
    def show_item(self, item: Item | None, draft: Draft | None) -> None:
        """The composer for ``item`` (its draft when there is one), or nothing."""
        service = self.service
        if item is None or service is None:
            self.load(None, "", None)
            self.show_preview([])
            return
        choices = service.choices(item)
        chosen = choices.posts[0] if choices.posts else None
        self.load(item.id, service.prefill(item, chosen), draft, choices)
        self.set_warning(
            service.duplicate_warning(item.id, editing=draft.share_id if draft else None)
        )
        if service.accounts_error:
            self.notify(service.accounts_error, severity="error", markup=False)
            service.accounts_error = ""
        self.update_preview()

    def update_preview(self) -> None:
        """Each ticked destination's text as the outbox will post it, and its counter."""
        service, iid = self.service, self.item_id
        ticked = list(self.choices.ticked)
        if service is None or iid is None or not ticked:
            self.show_preview([])
            return
        ch = self.choices
        self.show_preview(
            service.preview(
                iid, self.text, ticked, list(ch.tags_on), post=ch.chosen, answer=ch.share_answer
            )
        )
        for name, account in service.to_learn(ticked):
            self._learn_limits(name, account)

    @work(exit_on_error=False, group="limits")
    async def _learn_limits(self, name: str, account: Any) -> None:
        """Ask a Mastodon instance for its limits (network: on the app's loop)."""
        if self.service is not None and await self.service.learn_limits(name, account):
            self.update_preview()

    def reload_destinations(self, item: Item) -> None:
        """The accounts changed on disk: offer them now; the comment stays."""
        if self.service is not None and item.id == self.item_id:
            self.set_destinations(self.service.choices(item).destinations)
            self.update_preview()

    def send(self) -> Sent:
        """Save the share (durably, before any network call) from what is shown;
        on success the composer starts afresh for the same item."""
        if self.service is None or self.item_id is None:
            return Sent(error="nothing to share")
        iid = self.item_id
        ch = self.choices
        sent = self.service.send(
            iid,
            self.text,
            list(ch.ticked),
            list(ch.tags_on),
            self.share_id,
            post=ch.chosen,
            answer=ch.share_answer,
        )
        if sent.share is not None:
            self.flush_soon()  # the draft is gone now that the share is on disk
            self.show_item(self.service.store.get_item(iid), None)
        return sent

    def edit(self, share: Share) -> Draft | None:
        """A failed share's comment and destinations, as this item's draft."""
        if self.service is None:
            return None
        draft = self.service.draft_for_edit(share)
        self.flush_soon()
        return draft

    def flush_soon(self) -> None:
        """Write the store from a thread, now-ish: a draft survives a kill -9."""
        self._dirty = True
        if not self._saving:
            self._saving = True
            self._save_drafts()

    @work(thread=True, exit_on_error=False, group="draft")
    def _save_drafts(self) -> None:
        store = self.service.store if self.service is not None else None
        try:
            while store is not None and self._dirty:
                self._dirty = False
                try:
                    store.flush()
                except StoreWriteError:  # the status bar says so; the store retries
                    log.warning("draft not saved: %s", store.write_error)
                    return
        finally:
            self._saving = False

    def on_toggle_bar_toggled(self, event: ToggleBar.Toggled) -> None:
        event.stop()
        if self.item_id is not None:
            self.toggle(event.group, event.name)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        if self.item_id is None or self.area.text == self._loaded:
            return  # our own load_text, not an edit
        self._changed()


class ToggleScreen(ModalScreen[list[str] | None]):
    """Tick destinations or hashtags from the keyboard: space toggles, enter keeps."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", show=False),
        Binding("enter", "keep", "Keep", show=False, priority=True),
    ]

    def __init__(self, title: str, options: list[tuple[str, str, bool]]) -> None:
        super().__init__()
        self.title_text = title
        self.options = options  # (value, label, ticked)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"))
            yield SelectionList[str](
                *[(Text(clean_line(label)), value, on) for value, label, on in self.options],
                id="toggle-list",
            )
            yield Static(Text("space ticks · enter keeps · esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_keep(self) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected))
