"""Mute rules and alerts (``M``): the list with what each matches now, add
(mute by feed, tag, author, title or text pattern; an alert that stars, tags
or only counts), remove, undo.

Adding a rule scans every stored item (about a second at 100,000): it runs in
a worker thread, after the rule was checked on the UI thread so a bad regular
expression is one line at once.  Counts are read on a thread too.  The rest of
the app learns with ItemsChanged (muted items leave every view).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from veille.domain.rules import RuleError
from veille.render.hygiene import clean_line
from veille.tui.keys import RULES_KEYS
from veille.tui.messages import ItemsChanged
from veille.tui.screens.pickers import AskScreen, PickScreen
from veille.tui.services import rules as service
from veille.tui.services.rules import FIELD_LABELS, RuleRow
from veille.tui.services.session import Session

log = logging.getLogger(__name__)

ALERT_ACTIONS = [
    ("count", "only count it (the status bar shows unread matches)"),
    ("star", "star what it matches"),
    ("tag", "tag what it matches…"),
    ("star+tag", "star and tag what it matches…"),
]


@dataclass(frozen=True)
class RuleContext:
    """What the new rule's question starts with: the feed, author or tag in view."""

    feed_url: str = ""
    author: str = ""
    tag: str = ""

    def value_for(self, field: str) -> str:
        return {"feed": self.feed_url, "author": self.author, "tag": self.tag}.get(field, "")


class RulesScreen(Screen[None]):
    BINDINGS = [kd.binding() for kd in RULES_KEYS]
    DEFAULT_CSS = """
    RulesScreen #rules-status { dock: top; height: 1; background: $panel; color: $foreground; }
    RulesScreen #rules-list { height: 1fr; border: none; padding: 0 1; }
    RulesScreen #rules-hint { height: auto; padding: 0 1; color: $foreground-muted; }
    """

    def __init__(self, session: Session, context: RuleContext | None = None) -> None:
        super().__init__()
        self.session = session
        self.context = context or RuleContext()
        self.rows: list[RuleRow] = []
        self.busy = ""  # what the worker is doing, for the status line

    def compose(self) -> ComposeResult:
        yield Static(id="rules-status")
        yield OptionList(id="rules-list")
        yield Static(id="rules-hint")
        yield Footer(compact=True)

    @property
    def option_list(self) -> OptionList:
        return self.query_one("#rules-list", OptionList)

    def on_mount(self) -> None:
        self.option_list.focus()
        self.update_status()
        self.load()

    # ------------------------------------------------------------- reading
    @work(thread=True, exclusive=True, group="rules", exit_on_error=False)
    def load(self) -> None:
        """Rules and their counts on a thread (a tag mute counts by walking items)."""
        rows = service.rows(self.session.store)
        muted = [clean_line(f.name) for f in self.session.store.feeds() if f.muted]
        self.app.call_from_thread(self._loaded, rows, muted)

    def _loaded(self, rows: list[RuleRow], muted: list[str]) -> None:
        ol = self.option_list
        keep = ol.highlighted
        self.rows = rows
        ol.clear_options()
        ol.add_options([Option(Text(r.line), id=str(r.rule.id)) for r in rows])
        if rows:
            ol.highlighted = min(keep or 0, len(rows) - 1)
        hint = Text(end="")
        if not rows:
            hint.append("No rules yet. m adds a mute rule, a an alert.\n")
        if muted:
            names = ", ".join(muted[:5]) + (f" and {len(muted) - 5} more" if len(muted) > 5 else "")
            hint.append(f"Muted feeds: {names} (m in the feeds pane, F, unmutes).")
        self.query_one("#rules-hint", Static).update(hint)
        self.update_status()

    def update_status(self) -> None:
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        t.append(" Rules ", style="bold reverse")
        mutes = sum(1 for r in self.rows if r.rule.kind == "mute")
        alerts = len(self.rows) - mutes
        t.append(f" {mutes} mute rule{'' if mutes == 1 else 's'}")
        t.append(f" · {alerts} alert{'' if alerts == 1 else 's'}")
        if self.busy:
            t.append(f" · {self.busy}", style="bold")
        self.query_one("#rules-status", Static).update(t)

    @property
    def status_text(self) -> str:
        return str(self.query_one("#rules-status", Static).content)

    def lines(self) -> list[str]:
        """The rules as listed (tests read the screen like a user)."""
        return [r.line for r in self.rows]

    # ------------------------------------------------------------- adding
    def action_rules_add_mute(self) -> None:
        self._ask_field("mute")

    def action_rules_add_alert(self) -> None:
        self._ask_field("alert")

    def _ask_field(self, kind: str) -> None:
        title = "Mute items by…" if kind == "mute" else "Alert on…"

        def chosen(field: str | None) -> None:
            if field:
                self._ask_value(kind, field)

        self.app.push_screen(PickScreen(title, list(FIELD_LABELS.items())), chosen)

    def _ask_value(self, kind: str, field: str, value: str = "") -> None:
        label = FIELD_LABELS[field]
        placeholder = {"feed": "https://… or a feed id", "author": "a name or @handle"}.get(
            field, "a tag" if field == "tag" else "a regular expression, e.g. \\bllm\\b"
        )

        def answered(text: str | None) -> None:
            if not text or not text.strip():
                return
            if kind == "alert":
                self._ask_action(field, text)
            else:
                self._add(kind, field, text, star=False, tag="")

        verb = "Mute" if kind == "mute" else "Alert on"
        self.app.push_screen(
            AskScreen(
                f"{verb} {label}",
                value or self.context.value_for(field),
                placeholder,
                "enter adds · esc cancels",
            ),
            answered,
        )

    def _ask_action(self, field: str, value: str) -> None:
        def chosen(action: str | None) -> None:
            if not action:
                return
            star = "star" in action
            if "tag" not in action:
                self._add("alert", field, value, star=star, tag="")
                return

            def tagged(tag: str | None) -> None:
                if tag and tag.strip():
                    self._add("alert", field, value, star=star, tag=tag.strip())

            self.app.push_screen(
                AskScreen("Tag matching items with", "", "a tag", "enter adds · esc cancels"),
                tagged,
            )

        self.app.push_screen(PickScreen("When it matches…", ALERT_ACTIONS), chosen)

    def _add(self, kind: str, field: str, value: str, *, star: bool, tag: str) -> None:
        problem = service.check(kind, field, value, star=star, tag=tag)
        if problem:
            self.notify(f"Rule not added: {problem}", severity="error", markup=False, timeout=8)
            return
        self.busy = "adding the rule (scanning items)…"
        self.update_status()
        store = self.session.store
        self._run(partial(service.add_rule, store, kind, field, value, star=star, tag=tag))

    # ------------------------------------------------------------ removing
    def _current_rule_id(self) -> int | None:
        ol = self.option_list
        if ol.highlighted is None or not self.rows:
            self.notify("No rule selected.", timeout=2)
            return None
        return self.rows[ol.highlighted].rule.id

    def action_rules_remove(self) -> None:
        rid = self._current_rule_id()
        if rid is None:
            return
        self.busy = "removing the rule…"
        self.update_status()
        self._run(partial(service.remove_rule, self.session.store, rid))

    def action_rules_undo(self) -> None:
        self.busy = "undoing…"
        self.update_status()
        self._run(partial(service.undo, self.session.store))

    def action_rules_close(self) -> None:
        self.dismiss(None)

    # ------------------------------------------------------------- worker
    @work(thread=True, group="rules-edit", exit_on_error=False)
    def _run(self, job: Callable[[], str]) -> None:
        """A rule change on a thread: it touches every matching item."""
        try:
            line, ok = job(), True
        except RuleError as exc:
            line, ok = clean_line(str(exc)), False
        except Exception as exc:  # a bug: the log has it, the user one line
            log.exception("rule change failed")
            line, ok = f"Rule not changed: {clean_line(str(exc))}", False
        self.app.call_from_thread(self._done, line, ok)

    def _done(self, line: str, ok: bool) -> None:
        self.busy = ""
        self.notify(line, severity="information" if ok else "error", markup=False, timeout=6)
        if ok:
            self.post_message(ItemsChanged())
        self.load()
