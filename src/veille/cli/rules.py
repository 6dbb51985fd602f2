"""`veille rules`: mute rules and keyword alerts (list, add, remove, undo).

    veille rules [--json]
    veille rules add mute  --title REGEX | --text REGEX | --author NAME | --feed URL | --tag T
    veille rules add alert --title REGEX | --text REGEX | --author NAME | --feed URL
                           | --tagged T  [--star] [--tag T]
    veille rules remove N
    veille rules undo

The store applies them (see veille.store.rules); this module only reads the
command line and says in one line what happened.
"""

from __future__ import annotations

import argparse
from typing import Any

from veille.cli.context import Ctx, UserError, feed_by_ref
from veille.cli.output import json_lines, out
from veille.domain.rules import MATCH_FIELDS, Rule
from veille.render.hygiene import clean_line


def rule_record(rule: Rule, matches: int, unread: int | None) -> dict[str, Any]:
    """A rule as `veille rules --json` prints it (a contract: keep the names)."""
    return {
        "id": rule.id,
        "kind": rule.kind,
        "field": rule.field,
        "value": rule.value,
        "feed_url": rule.label if rule.field == "feed" else None,
        "star": rule.star,
        "tag": rule.tag or None,
        "matches": matches,
        "unread": unread,
        "stopped": rule.stopped or None,
        "created": rule.created,
    }


def cmd_rules(ctx: Ctx, a: argparse.Namespace) -> int:
    store = ctx.store
    rules = store.rules()
    counts = store.rule_counts()
    alerts = store.alert_counts()
    if a.json:
        json_lines(rule_record(r, counts.get(r.id, 0), alerts.get(r.id)) for r in rules)
        return 0
    if not rules:
        out("No rules. Add one with `veille rules add mute --title REGEX` (or alert).")
    for r in rules:
        out(r.listed(counts.get(r.id, 0), alerts.get(r.id)))
    muted = [f for f in store.feeds() if f.muted]
    if muted:
        names = ", ".join(clean_line(f.name) for f in muted[:5])
        more = f" and {len(muted) - 5} more" if len(muted) > 5 else ""
        out(f"muted feeds: {names}{more} (`veille feed edit ID --unmute`)")
    return 0


def cmd_rules_add(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.subscriptions.subscribe import text_problem

    store = ctx.store
    field = next(f for f in MATCH_FIELDS if getattr(a, f"m_{f}", None) is not None)
    value: str = getattr(a, f"m_{field}")
    if problem := text_problem(value, [a.tag or ""]):
        raise UserError(problem)
    label = ""
    if field == "feed":
        feed = feed_by_ref(store, value)
        value, label = feed.id, feed.url
    rule, n = store.add_rule(
        a.kind, field, value, star=bool(getattr(a, "star", False)), tag=a.tag or "", label=label
    )
    ctx.save()
    if rule.kind == "mute":
        said = f"{n} item{'s' if n != 1 else ''} hidden"
    else:
        said = f"{n} unread item{'s' if n != 1 else ''} matched"
    out(f"added rule {rule.id}: {clean_line(rule.describe())} ({said}); undo: `veille rules undo`")
    return 0


def cmd_rules_remove(ctx: Ctx, a: argparse.Namespace) -> int:
    rule, n = ctx.store.remove_rule(a.id)
    ctx.save()
    if rule.kind == "mute":
        said = f"{n} item{'s' if n != 1 else ''} back in view"
    else:
        said = f"taken back from {n} item{'s' if n != 1 else ''}"
    out(
        f"removed rule {rule.id}: {clean_line(rule.describe())} ({said}); undo: `veille rules undo`"
    )
    return 0


def cmd_rules_undo(ctx: Ctx, a: argparse.Namespace) -> int:
    what = ctx.store.undo_rules()
    if what is None:
        raise UserError("no rule change to undo")
    ctx.save()
    out(clean_line(what))
    return 0


def _match_options(p: argparse.ArgumentParser, *, tag_field: str) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--title", dest="m_title", metavar="REGEX", help="a pattern in the title")
    g.add_argument(
        "--text",
        dest="m_text",
        metavar="REGEX",
        help="a pattern in the title, summary or the words of posts that shared it",
    )
    g.add_argument(
        "--author", dest="m_author", metavar="NAME", help="this author or poster (any case)"
    )
    g.add_argument(
        "--feed", dest="m_feed", metavar="URL|ID", help="items that came through this feed"
    )
    g.add_argument(
        tag_field,
        dest="m_tag",
        metavar="TAG",
        help="items with this tag, or from feeds with it",
    )


def register(sub: Any) -> None:
    s = sub.add_parser("rules", help="mute rules and keyword alerts: list, add, remove, undo")
    s.add_argument("--json", action="store_true", help="JSON Lines")
    s.set_defaults(func=cmd_rules)
    rsub = s.add_subparsers(dest="rules_command", metavar="ACTION")

    add = rsub.add_parser("add", help="add a mute rule or an alert")
    kinds = add.add_subparsers(dest="kind", metavar="KIND", required=True)
    m = kinds.add_parser(
        "mute",
        help="hide matching items from views and counts (they come back when it goes)",
        description="Patterns are regular expressions, case-insensitive unless (?-i).",
    )
    _match_options(m, tag_field="--tag")
    m.set_defaults(func=cmd_rules_add, tag=None, star=False)
    al = kinds.add_parser(
        "alert",
        help="star or tag matching items as they arrive; the app counts them",
        description="Patterns are regular expressions, case-insensitive unless (?-i). "
        "Adding an alert also applies it to the unread items already here.",
    )
    _match_options(al, tag_field="--tagged")
    al.add_argument("--star", action="store_true", help="star what it matches")
    al.add_argument("--tag", metavar="TAG", help="give what it matches this tag")
    al.set_defaults(func=cmd_rules_add)

    r = rsub.add_parser("remove", help="remove rule N (its items come back)")
    r.add_argument("id", type=int, metavar="N", help="the rule's number (see `veille rules`)")
    r.set_defaults(func=cmd_rules_remove)

    u = rsub.add_parser("undo", help="undo the last rule change (add or remove)")
    u.set_defaults(func=cmd_rules_undo)
