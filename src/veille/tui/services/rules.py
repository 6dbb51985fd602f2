"""Mute rules and alerts in the app: their rows with match counts, adding one
(checked first, so a bad pattern is one line before any work starts), removing,
undoing, and the status bar's alert counts.

The store applies rules (``veille.store.rules``); adding one scans every stored
item (about a second at 100,000), so the screen runs :func:`add_rule` in a
worker thread, and :func:`check` before it on the UI thread.  No Textual.
"""

from __future__ import annotations

from dataclasses import dataclass

from veille.domain.rules import REGEX_FIELDS, Rule, RuleError, check_rule
from veille.render.hygiene import clean_line
from veille.store.store import Store

__all__ = [
    "FIELD_LABELS",
    "RuleRow",
    "add_rule",
    "alert_summary",
    "check",
    "remove_rule",
    "resolve_feed",
    "rows",
    "undo",
]

#: What the "Mute by" / "Alert on" pickers offer, in order.
FIELD_LABELS: dict[str, str] = {
    "feed": "a feed (its URL or id)",
    "tag": "a tag (of the item or of its feed)",
    "author": "an author (or whoever posted it)",
    "title": "a pattern in the title (regular expression)",
    "text": "a pattern in the title, summary or posts (regular expression)",
}


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule: Rule
    line: str  # "mute title ~ /llm/  (12 items hidden)"


def rows(store: Store) -> list[RuleRow]:
    """Every rule with what it does now; mutes count what they hide, alerts their
    unread matches and all they matched.  ``rule_counts`` may walk items for a
    tag mute: call off the UI thread with many items."""
    counts = store.rule_counts()
    alerts = store.alert_counts()
    out = []
    for r in store.rules():
        out.append(RuleRow(r, r.listed(counts.get(r.id, 0), alerts.get(r.id))))
    return out


def check(kind: str, field: str, value: str, *, star: bool = False, tag: str = "") -> str | None:
    """Why this rule cannot be added (one line), or None: a bad regular expression
    is said at once, before the scan of stored items starts."""
    rule = Rule(id=0, kind=kind, field=field, value=value, star=star, tag=tag)
    try:
        check_rule(rule)
    except RuleError as exc:
        return clean_line(str(exc))
    if any(ord(c) < 0x20 for c in value) and field not in REGEX_FIELDS:
        return f"the {field} has control characters"
    return None


def resolve_feed(store: Store, ref: str) -> tuple[str, str]:
    """A feed typed as URL or id: (its id, its URL for the rule's label)."""
    feed = store.find_feed(ref.strip())
    if feed is None:
        raise RuleError(f"no feed {clean_line(ref)[:120]} (see the feeds pane, F)")
    return feed.id, feed.url


def add_rule(store: Store, kind: str, field: str, value: str, *, star: bool, tag: str) -> str:
    """Add a rule and apply it to the stored items (slow: call in a worker); the
    line to show.  Raises RuleError with one line (a pattern too slow on an item)."""
    label = ""
    if field == "feed":
        value, label = resolve_feed(store, value)
    rule, n = store.add_rule(kind, field, value, star=star, tag=tag, label=label)
    if rule.kind == "mute":
        said = f"{n:,} item{'s' if n != 1 else ''} hidden"
    else:
        said = f"{n:,} unread item{'s' if n != 1 else ''} matched"
    return f"Added rule {rule.id}: {clean_line(rule.describe())} ({said}) — u undoes."


def remove_rule(store: Store, rule_id: int) -> str:
    rule, n = store.remove_rule(rule_id)
    if rule.kind == "mute":
        said = f"{n:,} item{'s' if n != 1 else ''} back in view"
    else:
        said = f"taken back from {n:,} item{'s' if n != 1 else ''}"
    return f"Removed rule {rule.id}: {clean_line(rule.describe())} ({said}) — u undoes."


def undo(store: Store) -> str:
    what = store.undo_rules()
    if what is None:
        raise RuleError("no rule change to undo")
    return clean_line(what)[:1].upper() + clean_line(what)[1:] + "."


def alert_summary(store: Store, *, limit: int = 3) -> tuple[tuple[str, int], ...]:
    """(label, unread matches) of the alerts with unread matches, most first: what
    the status bar shows (``⚑ llm 3 · rust 1``).  Cheap: the store walks only the
    items alerts matched."""
    counts = store.alert_counts()
    if not any(counts.values()):
        return ()
    by_id = {r.id: r for r in store.rules() if r.kind == "alert"}
    out = []
    for rid, n in counts.items():
        rule = by_id.get(rid)
        if n and rule is not None:
            out.append((clean_line(rule.label or rule.value)[:24], n))
    out.sort(key=lambda t: -t[1])
    if len(out) > limit:
        rest = sum(n for _, n in out[limit - 1 :])
        out = [*out[: limit - 1], ("more", rest)]
    return tuple(out)
