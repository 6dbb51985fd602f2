"""Commands about items: list them, change their state."""

from __future__ import annotations

import argparse
from typing import Any

from veille.cli.context import Ctx, UserError, feed_by_ref
from veille.cli.output import json_line, out
from veille.store.store import Store, StoreError
from veille.util.dates import age


def _item_record(
    store: Store, d: dict[str, Any], feeds: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    f = feeds.get(d["feed"], {})
    return {
        "id": d["id"],
        "feed": f.get("url", ""),
        "feed_title": f.get("title", ""),
        "title": d.get("title", ""),
        "link": d.get("link", ""),
        "author": d.get("author", ""),
        "published": d.get("published"),
        "summary": d.get("summary", ""),
        "read": bool(d.get("read")),
        "starred": bool(d.get("starred")),
        "shared": bool(d.get("shared")),
        "tags": d.get("tags", []),
        "categories": d.get("cats", []),
        "first_seen": d.get("first_seen"),
    }


def cmd_items(ctx: Ctx, a: argparse.Namespace) -> int:
    store = ctx.store
    feed_ids = [feed_by_ref(store, u)["id"] for u in a.feed] if a.feed else None
    if a.limit is not None and a.limit < 0:
        raise UserError("--limit must be positive")
    rows = store.items(
        unread=True if a.unread else None,
        starred=True if a.starred else None,
        feed_ids=feed_ids,
        tag=a.tag,
        search=a.search,
        limit=a.limit,
    )
    feeds = {f["id"]: f for f in store.feeds()}
    for d in rows:
        if a.json:
            json_line(_item_record(store, d, feeds))
            continue
        mark = "●" if not d.get("read") else " "
        star = "★" if d.get("starred") else " "
        src = (feeds.get(d["feed"], {}).get("title") or "")[:24]
        when = age(d.get("published") or d["first_seen"])
        out(f"{d['id']}  {mark}{star} {when:>4}  {src:<24}  {d.get('title') or d.get('link')}")
    return 0


def cmd_mark(ctx: Ctx, a: argparse.Namespace) -> int:
    store = ctx.store
    ids = []
    bad = []
    for ref in a.ids:
        try:
            ids.append(store.resolve_id(ref))
        except StoreError as exc:
            bad.append(str(exc))
    if bad:
        raise UserError("; ".join(bad) + " (nothing was changed)")
    fields: dict[str, Any] = {}
    if a.read:
        fields["read"] = True
    if a.unread:
        fields["read"] = False
    if a.star:
        fields["starred"] = True
    if a.unstar:
        fields["starred"] = False
    if not fields:
        raise UserError("say what to mark: --read, --unread, --star or --unstar")
    n = store.set_state(ids, **fields)
    out(f"marked {n} item{'s' if n != 1 else ''}")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("items", help="list items, newest first")
    s.add_argument("--unread", action="store_true")
    s.add_argument("--starred", action="store_true")
    s.add_argument("--feed", action="append", metavar="URL", help="only this feed (repeatable)")
    s.add_argument("--tag")
    s.add_argument("--search", metavar="TEXT")
    s.add_argument("--limit", type=int)
    s.add_argument("--json", action="store_true", help="JSON Lines")
    s.set_defaults(func=cmd_items)

    s = sub.add_parser("mark", help="change item state (for scripts)")
    s.add_argument("ids", nargs="+", metavar="ID", help="item ids (or unique prefixes)")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--read", action="store_true")
    g.add_argument("--unread", action="store_true")
    g.add_argument("--star", action="store_true")
    g.add_argument("--unstar", action="store_true")
    s.set_defaults(func=cmd_mark)
