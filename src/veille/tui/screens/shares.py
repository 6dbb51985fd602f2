"""`S`: the Shares view — what you shared, newest first, and where each one got to.

Each row: when, the item's title, your comment's first line (and whose post it
replies to or quotes), then one status per destination (queued / sent with its
URL / failed with the server's reason), then what came back: who replied or
quoted it and what they said, who liked and reposted it.  A failed share can be
edited (back to the composer with its comment) or retried.
Everything shown is built with ``Text.append``: titles, comments and server
messages are data, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from veille.domain.share import Share, ShareResponse
from veille.render.hygiene import clean_line
from veille.tui.keys import SHARES_KEYS
from veille.tui.messages import SendShares
from veille.tui.services.compose import ComposeError, needs_attention
from veille.tui.services.session import Session

MARKS = {"sent": "✓", "queued": "…", "sending": "⟳", "failed": "✗"}
RESPONSE_MARKS = {"reply": "↩", "quote": "❝", "like": "♥", "repost": "↻"}
WORDED_SHOWN = 3  # replies and quotes shown with their words in a row (all: the item pane)
STYLES = {"sent": "green", "queued": "yellow", "sending": "yellow", "failed": "bold red"}


def when(created: str) -> str:
    return clean_line(created)[:16].replace("T", " ") or "?"


def share_row(share: Share, styles: dict[str, Any] | None = None, title: str = "") -> Text:
    """The lines of one share (styles: status name -> style, from the theme).

    ``title``: what to call the item when the share has no title (its first words)."""
    styles = styles or STYLES
    t = Text(end="")
    t.append(when(share.created), style="dim")
    t.append("  ")
    t.append(clean_line(share.title) or clean_line(title) or clean_line(share.link), style="bold")
    if share.source:
        t.append("  · ")
        t.append(clean_line(share.source), style="italic")
    t.append("\n  ")
    first = next((ln for ln in share.comment.splitlines() if ln.strip()), "")
    if first:
        t.append("“")
        t.append(clean_line(first))
        t.append("”")
    else:
        t.append("(no comment)", style="dim")
    if share.answer and share.post is not None:
        who = clean_line(share.post.handle) or clean_line(share.post.url)
        t.append("\n  ")
        t.append("↩ a reply to " if share.answer == "reply" else "❝ a quote of ", style="dim")
        t.append(who, style="italic")
        t.append("'s post", style="dim")
    for name, d in share.deliveries.items():
        t.append("\n  ")
        status = d.status if d.status in MARKS else "queued"
        t.append(f"{MARKS[status]} ", style=styles.get(status, ""))
        t.append(clean_line(name), style="bold")
        t.append(f": {status}", style=styles.get(status, ""))
        detail = d.url if d.status == "sent" else d.error
        if detail:
            t.append(" — ")
            t.append(clean_line(detail))
        if d.notice:
            t.append(" · ")
            t.append(clean_line(d.notice), style="dim")
    if share.responses:
        responses_lines(t, share.responses)
    return t


def responses_lines(t: Text, responses: list[ShareResponse]) -> None:
    """What came back, under a share: counts by kind, then the latest replies and
    quotes with their words (the shared item's pane lists them all, with links)."""
    counts: dict[str, int] = {}
    for r in responses:
        counts[r.kind] = counts.get(r.kind, 0) + 1
    labels = {
        "reply": ("reply", "replies"),
        "quote": ("quote", "quotes"),
        "like": ("like", "likes"),
        "repost": ("repost", "reposts"),
    }
    parts = []
    for kind, (one, many) in labels.items():
        n = counts.get(kind, 0)
        if n:
            parts.append(f"{RESPONSE_MARKS[kind]} {n} {one if n == 1 else many}")
    t.append("\n  ")
    t.append("What came back: ", style="bold")
    t.append(" · ".join(parts))
    worded = sorted(
        (r for r in responses if r.kind in ("reply", "quote")),
        key=lambda r: r.at or "",
        reverse=True,
    )
    for r in worded[:WORDED_SHOWN]:
        t.append("\n    ")
        t.append(RESPONSE_MARKS[r.kind] + " ")
        who = clean_line(r.author)
        if who:
            t.append(who, style="bold")
            t.append(" ")
        t.append(clean_line(r.handle), style="italic")
        words = clean_line(r.text)
        if words:
            t.append(": “")
            t.append(words[:200])
            t.append("”")
    if len(worded) > WORDED_SHOWN:
        t.append(f"\n    … {len(worded) - WORDED_SHOWN} more (enter opens the item)", style="dim")


@dataclass(frozen=True)
class ShareChoice:
    """What the Shares view closed with: open the shared item, or edit a failed share."""

    action: str  # "open" | "edit"
    share_id: str
    item_id: str


class SharesScreen(Screen[ShareChoice | None]):
    """The outbox and journal of shares.  Closes with a ShareChoice (or None)."""

    BINDINGS = [kd.binding() for kd in SHARES_KEYS]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield Static(id="shares-status")
        yield OptionList(id="shares-list")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()
        self.query_one(OptionList).focus()
        # Sends finishing while this view is open redraw it; a view not mounted
        # yet (or closed) is never called: the watch starts here and ends with it.
        self.watch(self.app, "shares_version", self.reload, init=False)

    @property
    def listing(self) -> OptionList:
        return self.query_one("#shares-list", OptionList)

    def _styles(self) -> dict[str, Any]:
        v = self.app.get_css_variables()
        return {
            "sent": v.get("success", "green"),
            "queued": v.get("warning", "yellow"),
            "sending": v.get("warning", "yellow"),
            "failed": f"bold {v.get('error', 'red')}",
        }

    def reload(self) -> None:
        """Re-read the shares (after a send or retry); keep the highlighted one."""
        store = self.session.store
        listing = self.listing
        keep = listing.highlighted_option.id if listing.highlighted_option else None
        shares = store.shares()
        styles = self._styles()
        listing.clear_options()
        options = []
        for s in shares:
            item = store.get_item(s.item_id)
            options.append(
                Option(share_row(s, styles, item.display_title if item else ""), id=s.id)
            )
        listing.add_options(options)
        index = next((i for i, s in enumerate(shares) if s.id == keep), 0)
        if shares:
            listing.highlighted = index
        failed = sum(needs_attention(s) for s in shares)
        answered = sum(len(s.responses) for s in shares)
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        t.append(" veille ", style="bold reverse")
        t.append(" Shares", style="bold")
        t.append(f"  {len(shares)} shared")
        if answered:
            t.append(f"  · {answered} response{'s' if answered != 1 else ''}")
        if failed:
            t.append(f"  · {failed} need attention", style=styles["failed"])
        t.append("  · enter open · e edit · r retry · esc close", style="dim")
        self.query_one("#shares-status", Static).update(t)
        if not shares:
            listing.add_option(
                Option(
                    Text("Nothing shared yet: c on an item writes a comment.", style="dim"),
                    disabled=True,
                )
            )

    def current(self) -> Share | None:
        option = self.listing.highlighted_option
        return self.session.store.get_share(option.id) if option and option.id else None

    # ------------------------------------------------------------- actions
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_share_open()

    def action_share_open(self) -> None:
        share = self.current()
        if share is not None:
            self.dismiss(ShareChoice("open", share.id, share.item_id))

    def action_share_edit(self) -> None:
        share = self.current()
        if share is None:
            return
        if not needs_attention(share):
            self.notify(
                "Only a failed share can be edited: this one is sent or on its way.", timeout=3
            )
            return
        self.dismiss(ShareChoice("edit", share.id, share.item_id))

    def action_share_retry(self) -> None:
        share = self.current()
        if share is None:
            return
        if all(d.status == "sent" for d in share.deliveries.values()):
            self.notify("Nothing to retry: every destination has it.", timeout=3)
            return
        try:
            self.session.compose.retry(share.id)
        except ComposeError as exc:
            self.notify(clean_line(str(exc)), severity="error", markup=False)
            return
        self.reload()
        self.notify(f"Retrying {clean_line(share.title)[:60]}…", markup=False, timeout=2)
        self.post_message(SendShares([share.id]))

    def action_share_close(self) -> None:
        self.dismiss(None)
