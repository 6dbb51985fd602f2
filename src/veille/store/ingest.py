"""Entries into items: new ones added, changed ones updated, the same article from
another source merged as one more sighting; and retention.

The part of the store a refresh drives.  A mixin of
:class:`veille.store.store.Store`: it works on the store's own partitions and
indexes, under the store's lock.  Files are days (months for back-dated items)
split past ``SHARD_SIZE`` items, so the file a refresh or a keypress rewrites
stays small whatever the size of the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.domain.links import quick_key
from veille.domain.records import Feed, Sighting
from veille.store.errors import StoreError
from veille.store.ids import entry_hash, item_id
from veille.store.index import ItemIndex, doc_sources, sort_key
from veille.store.links import prepare_link
from veille.store.rules import RulesMixin
from veille.util.dates import iso, now, parse_iso

if TYPE_CHECKING:
    from veille.store.partition import Partition

DAY_FILES_FOR = 62  # days: items newer than this at arrival get a file per day
SHARD_SIZE = 2000  # items per file at most: TinyDB's updates cost O(file)
MAX_CONTENT_ONLY_UPDATES = 24  # entries that embed timestamps change on every poll
SUMMARY_LIMIT = 300  # searchable text kept in memory; the body stays on disk


@dataclass
class UpsertResult:
    new: int = 0
    updated: int = 0
    merged: int = 0  # entries that became one more sighting of an item already here
    new_ids: list[str] | None = None


def _partition_key(sort: str, stamp: str) -> str:
    """Which file an item lives in (before sharding), fixed when it arrives.

    Recent items go by day, so the file a refresh or a keypress rewrites stays
    small; back-dated ones by month, so a feed's ten-year archive does not make
    thousands of files.  File names sort in time order.
    """
    ref = parse_iso(stamp) or now()
    if sort[:10] >= (ref - timedelta(days=DAY_FILES_FOR)).strftime("%Y-%m-%d"):
        return sort[:10]
    return sort[:7]


class IngestMixin(RulesMixin):
    """Storing what sources bring; the store provides the attributes below."""

    _mu: threading.RLock
    _ix: ItemIndex
    feeds_p: Partition
    tomb_p: Partition
    shares_p: Partition
    _text_version: int

    # provided by Store (RulesMixin brings the rest)
    _items_partition: Callable[[str], Partition]
    _content_partition: Callable[[str], Partition]
    update_feed: Callable[..., Feed]
    load_for: Callable[[set[str], set[str]], None]

    def upsert_entries(
        self,
        feed_id: str,
        parsed: ParsedFeed | list[ParsedEntry],
        *,
        when: datetime | None = None,
        feed_fields: Mapping[str, Any] | None = None,
    ) -> UpsertResult:
        """Store a source's entries, and with them (in one step) the feed's new state.

        New entries are added unread; changed ones are updated and keep their
        read/star state; unchanged ones are not touched.  An entry whose link is
        already an item from another source becomes one more sighting of that
        item ("seen via"), not a second item.  ``feed_fields`` (status,
        validators...) are applied under the same lock, and the flush writes
        them only after the items (see :meth:`flush`).
        """
        entries = parsed.entries if isinstance(parsed, ParsedFeed) else parsed
        for e in entries:
            prepare_link(e)  # done already when it came through the parser pool
        # An entry in a file not read yet would look new: read the files that may
        # hold this source's items or these links (only those: see store/keys.py).
        self.load_for({feed_id}, {e.link_key for e in entries if e.link_key})
        when = when or now()
        stamp = iso(when) or ""
        res = UpsertResult(new_ids=[])
        with self._mu:
            feed = self.feeds_p.get(feed_id)
            if feed is None:
                raise StoreError(f"no feed with id {feed_id}")
            first_fetch = not feed.get("fetched_once")
            social = (feed.get("kind") or "feed") != "feed"
            tombs = self.tomb_p.docs()
            new_items: dict[str, dict[str, Any]] = {}
            new_content: dict[str, dict[str, Any]] = {}
            for e in entries:
                iid = item_id(feed_id, e.key)
                target = self._ix.alias.get(iid, iid)
                if target in self._ix.where or iid in new_items:
                    if target == iid:
                        if self._update_entry(iid, e):
                            res.updated += 1
                            self._recheck_item(iid, alerts=False)
                    else:
                        self._update_sighting(target, feed_id, e)
                    continue
                if iid in tombs:
                    continue
                key = e.link_key
                other = self._ix.canon.get(key) if key and e.kind != "reply" else None
                if other is not None and other != iid:
                    od = self._doc(other) if other in self._ix.where else new_items.get(other)
                    # A feed's own entries stay apart even when they share a link;
                    # the posts of one timeline that link to one article are that
                    # article's sightings (two accounts you follow, one item).
                    if od is not None and (social or feed_id not in doc_sources(od)):
                        self._merge_into(other, od, feed_id, e, stamp, social)
                        res.merged += 1
                        continue
                # Back-dated posts of a known feed sort by arrival, so they still surface.
                sort = (e.published or e.updated or stamp) if first_fetch else stamp
                doc = _item_doc(iid, feed_id, e, sort, stamp, social)
                if key and key != quick_key(e.link):
                    doc["ck"] = key
                new_items[iid] = doc
                if key:
                    self._ix.canon.setdefault(key, iid)
                if e.content or e.enclosures or e.base:
                    new_content[iid] = _content_doc(e)
                res.new += 1
                res.new_ids.append(iid)  # type: ignore[union-attr]
            self._apply_rules_to_new(new_items)
            self._insert(new_items, new_content, stamp)
            fields_: dict[str, Any] = dict(feed_fields or {})
            if first_fetch:
                fields_["fetched_once"] = True
            if fields_:
                self.update_feed(feed_id, **fields_)
            if res.new or res.merged:
                self._ix.order = None
            if res.new or res.updated or res.merged:
                self._text_version += 1
            self._touch()
        return res

    def _insert(
        self, items: dict[str, dict[str, Any]], content: dict[str, dict[str, Any]], stamp: str
    ) -> None:
        """Put new item documents in their day (or month) file, spilling into the
        next shard when a file is full, so no file grows past SHARD_SIZE."""
        by_base: dict[str, list[str]] = {}
        for iid, d in items.items():
            by_base.setdefault(_partition_key(d["sort"], stamp), []).append(iid)
        for base, ids in sorted(by_base.items()):
            while ids:
                p = self._open_shard(base)
                room = max(1, SHARD_SIZE - len(p))
                batch, ids = ids[:room], ids[room:]
                p.put_many({iid: items[iid] for iid in batch})
                self._ix.add_many({iid: p.docs()[iid] for iid in batch}, p)
                bodies = {iid: content[iid] for iid in batch if iid in content}
                if bodies:
                    self._content_partition(p.path.stem).put_many(bodies)

    def _open_shard(self, base: str) -> Partition:
        n = 0
        while True:
            stem = base if n == 0 else f"{base}~{n}"
            p = self._items_partition(stem)
            p.ensure_loaded()
            if len(p) < SHARD_SIZE:
                return p
            n += 1

    def _update_entry(self, iid: str, e: ParsedEntry) -> int:
        p = self._ix.where.get(iid)
        if p is None:
            return 0
        old = p.get(iid) or {}
        h = e.content_hash or entry_hash(e)
        if old.get("chash") == h:
            return 0
        upd_changed = (e.updated or "") != (old.get("updated") or "")
        n = old.get("nupd", 0)
        if not upd_changed and n >= MAX_CONTENT_ONLY_UPDATES:
            return 0
        changes = _entry_fields(e, h)
        changes["nupd"] = n if upd_changed else n + 1
        p.patch(iid, changes)
        if e.content or e.enclosures or e.base:
            # Patch, not replace: a full article fetched for this item stays cached.
            cp = self._content_partition(p.path.stem)
            if not cp.patch(iid, _content_doc(e)):
                cp.put(iid, _content_doc(e))
        return 1

    def _update_sighting(self, target: str, source: str, e: ParsedEntry) -> None:
        """A post already seen: its words may have been edited."""
        p = self._ix.where.get(target)
        d = p.get(target) if p else None
        if p is None or d is None:
            return
        sightings = list(d.get("sightings") or ())
        for i, s in enumerate(sightings):
            if s["source"] == source and s["key"] == e.key:
                text = e.post_text if e.kind != "entry" else ""
                if s.get("text", "") != text:
                    sightings[i] = {**s, "text": text}
                    p.patch(target, {"sightings": sightings})
                return

    def _merge_into(
        self,
        target: str,
        doc: dict[str, Any],
        source: str,
        e: ParsedEntry,
        stamp: str,
        social: bool,
    ) -> None:
        sighting = _sighting(source, e, stamp, social)
        p = self._ix.where.get(target)
        sightings = [*(doc.get("sightings") or ()), sighting]
        changes: dict[str, Any] = {"sightings": sightings}
        upgrade = not social and not _has_entry(doc)
        if upgrade:
            # The article was known only from posts (a card's title and blurb): the
            # feed's own entry has the real text, so it becomes the item's text.
            changes.update(_entry_fields(e, e.content_hash or entry_hash(e)))
            del changes["link"]  # the same article: the item keeps the link it is known by
        if p is None:  # merged into an item of this very batch
            doc.update(changes)
        else:
            p.patch(target, changes)
            if upgrade and (e.content or e.enclosures):
                self._content_partition(p.path.stem).put(target, _content_doc(e))
        self._ix.social.add(target)
        self._ix.alias[item_id(source, e.key)] = target
        if p is not None:
            # One more source: a muted feed's item seen elsewhere is muted no more,
            # and the post's words and author may match rules.
            self._ix.resourced(target, p.get(target) or doc)
            self._recheck_item(target, alerts=True)

    def _delete_items(self, ids: Iterable[str], *, tombstone: bool = False) -> int:
        by_part: dict[str, list[str]] = {}
        for iid in ids:
            p = self._ix.where.get(iid)
            d = p.get(iid) if p else None
            self._ix.discard(iid, d)
            if p is None:
                continue
            by_part.setdefault(p.path.stem, []).append(iid)
            if tombstone:
                self.tomb_p.put(iid, {"at": iso(now())})
        n = 0
        for stem, part_ids in by_part.items():
            n += self._items_partition(stem).delete(part_ids)
            cp = self._content_partition(stem)
            if cp.path.exists() or cp.loaded:
                cp.delete(part_ids)
        if n:
            self._text_version += 1
        return n

    def apply_retention(
        self, *, keep_days: int, max_per_feed: int, feed_ids: Iterable[str] | None = None
    ) -> int:
        """Drop read, unstarred, unshared items older than keep_days or beyond
        max_per_feed per feed (of ``feed_ids``, or every feed).  Dropped ids are
        remembered (tombstones) so an entry still in its feed does not come back
        as unread.  Cost grows with the feeds named, not with the store."""
        if feed_ids is None:
            self.load_rest()
        else:
            feed_ids = list(feed_ids)
            self.load_for(set(feed_ids), set())  # the files that hold their items
        cutoff = iso(now() - timedelta(days=keep_days)) or ""
        tomb_cutoff = iso(now() - timedelta(days=max(keep_days * 2, 30))) or ""
        with self._mu:
            feeds = list(feed_ids) if feed_ids is not None else list(self._ix.by_feed)
            doomed: list[str] = []
            for fid in feeds:
                docs = [d for i in self._ix.by_feed.get(fid, ()) if (d := self._doc(i))]
                docs.sort(key=sort_key, reverse=True)
                for rank, d in enumerate(docs, 1):
                    if not d.get("read") or d.get("starred") or d.get("shared"):
                        continue
                    if d["first_seen"] < cutoff or rank > max_per_feed:
                        doomed.append(d["id"])
            n = self._delete_items(doomed, tombstone=True)
            old_tombs = []
            if feed_ids is None:
                old_tombs = [t for t, v in self.tomb_p.docs().items() if v["at"] < tomb_cutoff]
                self.tomb_p.delete(old_tombs)
            if n or old_tombs:
                self._touch()
        return n


def _has_entry(d: Mapping[str, Any]) -> bool:
    """Whether a feed entry (not only posts) brought this item."""
    sightings = d.get("sightings") or ()
    if all(s["source"] != d["feed"] for s in sightings):
        return True  # it came first through a feed: that entry's sighting is implicit
    return any(s.get("kind", "entry") == "entry" for s in sightings)


def _sighting(source: str, e: ParsedEntry, stamp: str, social: bool) -> dict[str, Any]:
    kind = e.kind if social else "entry"
    return Sighting(
        source=source,
        key=e.key,
        seen=stamp,
        kind=kind,
        author=e.author,
        handle=e.handle,
        text=e.post_text if social else "",
        post_url=e.post_url,
        reposter=e.reposter,
        at=e.published,
    ).to_doc()


def _item_doc(
    iid: str,
    feed_id: str,
    e: ParsedEntry,
    sort: str,
    stamp: str,
    social: bool,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": iid,
        "feed": feed_id,
        "key": e.key,
        "sort": sort,
        "first_seen": stamp,
        "read": False,
    }
    doc.update(_entry_fields(e, e.content_hash or entry_hash(e)))
    if social:
        doc["sightings"] = [_sighting(feed_id, e, stamp, True)]
        if e.kind == "reply":
            doc["kind"] = "reply"
        elif not e.link or e.link == e.post_url:
            doc["kind"] = "post"
        if e.content_warning:
            doc["cw"] = e.content_warning
    return doc


def _content_doc(e: ParsedEntry) -> dict[str, Any]:
    doc: dict[str, Any] = {"html": e.content, "type": e.content_type, "enclosures": e.enclosures}
    if e.base:
        doc["base"] = e.base
    return doc


def _entry_fields(e: ParsedEntry, h: str) -> dict[str, Any]:
    fields_: dict[str, Any] = {
        "title": e.title,
        "link": e.link,
        "author": e.author,
        "published": e.published,
        "summary": e.summary[:SUMMARY_LIMIT],
        "chash": h,
    }
    if e.updated:
        fields_["updated"] = e.updated
    if e.categories:
        fields_["cats"] = e.categories
    if e.image:
        fields_["image"] = e.image
    return fields_
