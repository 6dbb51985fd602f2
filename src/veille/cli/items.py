"""Commands about items: list them, change their state."""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from veille.cli.context import Ctx, UserError, feed_by_ref
from veille.cli.output import json_lines, out
from veille.domain.filter import ItemFilter
from veille.domain.records import Feed, ItemReader, Sighting
from veille.render.hygiene import clean_line
from veille.store.errors import StoreError
from veille.util.dates import age

#: What `veille items --json` prints of an item (a contract: keep the names), as
#: output name -> Item field.  Read straight from the stored documents: building
#: 100,000 Items to print a dict of each was half the command's time.
_RECORD = ItemReader(
    {
        "id": "id",
        "feed": "feed",  # the feed's URL, below
        "feed_title": "feed",  # its title, below
        "kind": "kind",
        "title": "title",
        "link": "link",
        "author": "author",
        "published": "published",
        "updated": "updated",
        "first_seen": "first_seen",
        "summary": "summary",
        "read": "read",
        "starred": "starred",
        "dismissed": "hidden",
        "shared": "shared",
        "tags": "tags",  # tuples: JSON arrays
        "categories": "categories",
        "sharers": "sharers",
        "sightings": "sightings",
    }
)


def item_record(fields: dict[str, Any], feeds: dict[str, Feed]) -> dict[str, Any]:
    """An item as `veille items --json` prints it, from what ``_RECORD`` read of it."""
    f = feeds.get(fields["feed"])
    fields["feed"] = f.url if f else ""
    fields["feed_title"] = f.title if f else ""
    fields["sightings"] = [_sighting_record(s, feeds) for s in fields["sightings"]]
    return fields


def _sighting_record(s: Sighting, feeds: dict[str, Feed]) -> dict[str, Any]:
    f = feeds.get(s.source)
    post = s.kind != "entry"
    return {
        "source": f.url if f else s.source,
        "kind": s.kind,
        "author": s.author,
        "handle": (s.handle or None) if post else None,
        "text": s.text,
        "post_url": (s.post_url or None) if post else None,
        "seen": s.seen,
    }


def cmd_items(ctx: Ctx, a: argparse.Namespace) -> int:
    store = ctx.store
    feed_ids = frozenset(feed_by_ref(store, u).id for u in a.feed) if a.feed else None
    if a.limit is not None and a.limit < 0:
        raise UserError("--limit must be positive")
    flt = ItemFilter()
    if a.view:
        from veille.triage.views import find_view, view_filter

        flt = view_filter(find_view(ctx.config, a.view), store)
    # Options narrow the view: `--view ai --unread` is the unread part of "ai".
    changes: dict[str, Any] = {}
    if a.unread:
        changes["unread"] = True
    if a.starred:
        changes["starred"] = True
    if a.muted:
        changes["muted"] = True
    if feed_ids is not None:
        changes["feed_ids"] = feed_ids
    if a.tag:
        changes["tag"] = a.tag
    if a.search:
        changes["search"] = a.search
    flt = flt.but(**changes)
    feeds = {f.id: f for f in store.feeds()}
    ids = store.ids(flt)
    if a.limit is not None:
        ids = itertools.islice(ids, a.limit)
    if a.json:
        json_lines(item_record(fields, feeds) for fields in store.read_items(ids, _RECORD))
        return 0
    for item in store.get_items(ids):
        mark = "●" if item.unread else " "
        star = "★" if item.starred else " "
        f = feeds.get(item.feed)
        src = clean_line(f.name if f else "")[:24]
        when = age(item.published) if item.published else "seen " + age(item.first_seen)
        title = clean_line(item.display_title)
        out(f"{item.id}  {mark}{star} {when:>4}  {src:<24}  {title}")
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
    ctx.save()
    out(f"marked {n} item{'s' if n != 1 else ''}")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("items", help="list items, newest first")
    s.add_argument("--view", metavar="NAME", help="a saved view: unread, today, starred, shared, "
                   "drafts, alerts, all, muted or one of [views] in config.toml")  # fmt: skip
    s.add_argument("--unread", action="store_true", help="only unread items (not dismissed)")
    s.add_argument("--starred", action="store_true", help="only starred items")
    s.add_argument(
        "--muted", action="store_true", help="only items hidden by muting (to see them again)"
    )
    s.add_argument("--feed", action="append", metavar="URL|ID", help="only this feed (repeatable)")
    s.add_argument("--tag", help="only items with this tag, or from feeds with it")
    s.add_argument(
        "--search", metavar="TEXT", help="text in title, author, summary, source or your comment"
    )
    s.add_argument("--limit", type=int, metavar="N", help="at most N items")
    s.add_argument("--json", action="store_true", help="JSON Lines")
    s.set_defaults(func=cmd_items)

    s = sub.add_parser("mark", help="change item state (for scripts)")
    s.add_argument("ids", nargs="+", metavar="ID", help="item ids (or unique prefixes)")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--read", action="store_true", help="mark them read")
    g.add_argument("--unread", action="store_true", help="mark them unread (undismisses too)")
    g.add_argument("--star", action="store_true", help="star them (kept forever)")
    g.add_argument("--unstar", action="store_true", help="take the star off")
    s.set_defaults(func=cmd_mark)
