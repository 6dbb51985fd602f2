"""`S`: the Shares view — what you shared, newest first, and where each one got to.

Each row: when, the item's title, your comment's first line, then one status per
destination (queued / sent with its URL / failed with the server's reason).  A
failed share can be edited (back to the composer with its comment) or retried.
Everything shown is built with ``Text.append``: titles, comments and server
messages are data, never markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from veille.domain.share import Share
from veille.render.hygiene import clean_line
from veille.tui.keys import SHARES_KEYS, effective_keys
from veille.tui.screens.help import HelpScreen, _pretty

if TYPE_CHECKING:
    from veille.tui.app import VeilleApp

MARKS = {"sent": "✓", "queued": "…", "sending": "⟳", "failed": "✗"}
STYLES = {"sent": "green", "queued": "yellow", "sending": "yellow", "failed": "bold red"}


def needs_attention(share: Share) -> bool:
    """A share with a delivery that failed, or waits after an error: editable, retriable."""
    return any(
        d.status == "failed" or (d.status == "queued" and d.error)
        for d in share.deliveries.values()
    )


def when(created: str) -> str:
    return clean_line(created)[:16].replace("T", " ") or "?"


def share_row(share: Share, styles: dict[str, Any] | None = None) -> Text:
    """The three lines of one share (styles: status name -> style, from the theme)."""
    styles = styles or STYLES
    t = Text(end="")
    t.append(when(share.created), style="dim")
    t.append("  ")
    t.append(clean_line(share.title) or "(untitled)", style="bold")
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
    return t


class SharesScreen(Screen[None]):
    """The outbox and journal of shares."""

    app: VeilleApp  # type: ignore[assignment]
    BINDINGS = [kd.binding() for kd in SHARES_KEYS]

    def compose(self) -> ComposeResult:
        yield Static(id="shares-status")
        yield OptionList(id="shares-list")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()
        self.query_one(OptionList).focus()

    @property
    def listing(self) -> OptionList:
        return self.query_one("#shares-list", OptionList)

    def _styles(self) -> dict[str, Any]:
        v = getattr(self.app, "theme_variables", {}) or {}
        return {
            "sent": v.get("success", "green"),
            "queued": v.get("warning", "yellow"),
            "sending": v.get("warning", "yellow"),
            "failed": f"bold {v.get('error', 'red')}",
        }

    def reload(self) -> None:
        """Re-read the shares (after a send or retry); keep the highlighted one."""
        listing = self.listing
        keep = listing.highlighted_option.id if listing.highlighted_option else None
        shares = self.app.store.shares()
        styles = self._styles()
        listing.clear_options()
        listing.add_options(Option(share_row(s, styles), id=s.id) for s in shares)
        index = next((i for i, s in enumerate(shares) if s.id == keep), 0)
        if shares:
            listing.highlighted = index
        failed = sum(needs_attention(s) for s in shares)
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        t.append(" veille ", style="bold reverse")
        t.append(" Shares", style="bold")
        t.append(f"  {len(shares)} shared")
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
        return self.app.store.get_share(option.id) if option and option.id else None

    # ------------------------------------------------------------- actions
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_share_open()

    def action_share_open(self) -> None:
        share = self.current()
        if share is None:
            return
        main = self.app.main_screen()
        self.app.pop_screen()
        if main is not None:
            main.open_item(share.item_id)

    def action_share_edit(self) -> None:
        share = self.current()
        if share is None:
            return
        if not needs_attention(share):
            self.app.notify(
                "Only a failed share can be edited: this one is sent or on its way.", timeout=3
            )
            return
        main = self.app.main_screen()
        self.app.pop_screen()
        if main is not None:
            main.edit_share(share)

    def action_share_retry(self) -> None:
        from veille.share.outbox import OutboxError, retry

        share = self.current()
        if share is None:
            return
        if all(d.status == "sent" for d in share.deliveries.values()):
            self.app.notify("Nothing to retry: every destination has it.", timeout=3)
            return
        accounts = self.app.share_accounts()
        try:
            retry(self.app.store, self.app.config, share.id, accounts=accounts)
        except OutboxError as exc:
            self.app.notify(clean_line(str(exc)), severity="error", markup=False)
            return
        self.reload()
        self.app.notify(f"Retrying {clean_line(share.title)[:60]}…", markup=False, timeout=2)
        self.app.send_shares([share.id], accounts)

    def action_share_close(self) -> None:
        self.app.pop_screen()


def shares_keys_table(keymap: dict[str, str]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column("keys", style="bold", no_wrap=True, ratio=1)
    table.add_column("action", ratio=3)
    for kd in SHARES_KEYS:
        table.add_row(Text(_pretty(effective_keys(keymap, kd))), Text(kd.description))
    return table


class HelpWithShares(HelpScreen):
    """`?`: the main keys, then the Shares view's own."""

    def on_mount(self) -> None:
        box = self.query_one("#help-box")
        last = box.children[-1] if box.children else None
        box.mount(Static(Text("\nIn the Shares view (S)", style="bold")), before=last)
        box.mount(Static(shares_keys_table(self.keymap), id="help-shares"), before=last)
