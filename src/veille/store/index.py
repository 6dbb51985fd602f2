"""In-memory indexes over the item documents, and the one place an ItemFilter is applied.

The store keeps every light item document in memory (TinyDB files loaded into
our storage); these indexes answer "which items are unread / starred / of this
feed / about this link" with set lookups, so a view, a count or a merge never
walks 100,000 documents testing fields one by one.  The store updates them
under its lock whenever a document changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from veille.domain.filter import ItemFilter
from veille.domain.links import quick_key
from veille.store.ids import item_id

if TYPE_CHECKING:
    from veille.store.partition import Partition

Doc = dict[str, Any]


def is_unread(d: Doc) -> bool:
    """Unread and not dismissed: the one meaning of "unread" for views and counts."""
    return not d.get("read") and not d.get("hidden")


def sort_key(d: Doc) -> str:
    return str(d["sort"])


def _newest_first(p: Partition) -> tuple[str, int]:
    """Files by date, and of one date the first shard first (reversed, so ``-n``).

    Undated entries of one refresh share their sort value and fill a day's shards in
    the feed's order ("2026-12-02", then "~1", "~2"); the stable sort below keeps ties
    in file order, so plain name order would list a big feed's 4,001st entry first."""
    base, _, n = p.path.stem.partition("~")
    return base, -int(n) if n.isdigit() else 0


def doc_sources(d: Doc) -> set[str]:
    """Every source an item document was seen through."""
    out = {d["feed"]}
    for s in d.get("sightings") or ():
        out.add(s["source"])
    return out


def link_of(d: Doc) -> str:
    """The key an item is recognised by from elsewhere: its canonical link
    (stored as ``ck`` only where the quick form would differ)."""
    ck = d.get("ck")
    if ck:
        return str(ck)
    link = d.get("link")
    return quick_key(link) if link else ""


def sharer_count(d: Doc) -> int:
    """Distinct accounts among the posts that shared it (feed entries do not count)."""
    accounts = set()
    for s in d.get("sightings") or ():
        if s.get("kind", "entry") != "entry":
            who = s.get("reposter") or s.get("handle") or s["source"]
            accounts.add(str(who).casefold())
    return len(accounts)


class ItemIndex:
    def __init__(self) -> None:
        self.where: dict[str, Partition] = {}  # item id -> its items partition
        self.unread: set[str] = set()
        self.starred: set[str] = set()
        self.shared: set[str] = set()
        self.hidden: set[str] = set()
        self.tagged: set[str] = set()  # items with tags of their own
        self.by_feed: dict[str, set[str]] = {}
        self._canon: dict[str, str] | None = None  # see the canon property
        self.alias: dict[str, str] = {}  # id an entry would have had -> the item it merged into
        self.social: set[str] = set()  # items with sightings (posts, merges)
        self.order: list[str] | None = None  # item ids, newest first
        # Muting (see domain.rules): three causes, one meaning ("out of views and counts").
        self.muted_feeds: set[str] = set()  # muted feeds, by flag, feed rule or tag rule
        self.muted_tags: set[str] = set()  # tags of tag mute rules
        self.feed_muted: set[str] = set()  # items every source of which is a muted feed
        self.tag_muted: set[str] = set()  # items with a muted tag of their own
        self.rule_muted: set[str] = set()  # items a mute rule matched (recorded on them)
        self.alerted: set[str] = set()  # items an alert matched (recorded on them)
        self.by_mute: dict[int, set[str]] = {}  # recorded mute rule id -> its items
        self.by_alert: dict[int, set[str]] = {}  # alert id -> its items
        self._muted: set[str] | None = None  # the union, cached (see ``muted``)
        self._shared: dict[str, str] = {}  # one string object per feed id

    # ---------------------------------------------------------------- upkeep
    def add(self, iid: str, d: Doc, p: Partition) -> None:
        self.add_many({iid: d}, p)

    def add_many(self, docs: dict[str, Doc], p: Partition, *, share: bool = False) -> None:
        """Index a file's documents: comprehensions over the batch, because opening
        100,000 items runs this for every one of them before the first paint.

        ``share``: also make the documents share their feed id and their id (also
        the key).  orjson makes every string anew, so 100,000 items held 100,000
        copies of a few hundred feed ids: ~15 MB, for ~60 ms at 100k items.  The
        values are the same, so nothing written changes.  (Sharing arrival and
        published times saved 15 MB more but cost twice that time.)"""
        self.where.update(dict.fromkeys(docs, p))
        items = docs.items()
        self.unread.update(k for k, d in items if not d.get("read") and not d.get("hidden"))
        self.starred.update(k for k, d in items if d.get("starred"))
        self.shared.update(k for k, d in items if d.get("shared"))
        self.hidden.update(k for k, d in items if d.get("hidden"))
        self.tagged.update(k for k, d in items if d.get("tags"))
        # Rules touch few items: one pass finds them, the rest costs nothing.
        for k, d in [(k, d) for k, d in items if "mute" in d or "alerts" in d]:
            self._rules_restate(k, d)
        if self.muted_feeds:
            mf = self.muted_feeds
            self.feed_muted.update(k for k, d in items if d["feed"] in mf and self._all_muted(d))
        if self.muted_tags:
            self.tag_muted.update(k for k, d in items if d.get("tags") and self._tag_muted(d))
        self._muted = None
        by_feed = self.by_feed
        for k, d in items:
            ids = by_feed.get(d["feed"])
            if ids is None:
                ids = by_feed[d["feed"]] = set()
            ids.add(k)
        if share:
            shared = self._shared
            for k, d in items:
                f = d["feed"]
                d["feed"] = shared.setdefault(f, f)
                if d.get("id") == k:
                    d["id"] = k
        for k, d in items:
            sightings = d.get("sightings")
            if sightings:
                self.social.add(k)
                for s in sightings:
                    if s["source"] != d["feed"]:
                        self.alias[item_id(s["source"], s["key"])] = k
        if self._canon is not None:
            for k, d in items:
                key = link_of(d)
                if key:
                    self._canon.setdefault(key, k)
        self.order = None

    @property
    def canon(self) -> dict[str, str]:
        """link_key of an item's link -> that item; built on first use (a refresh),
        not at opening, which only needs to show items."""
        if self._canon is None:
            canon: dict[str, str] = {}
            for iid, p in self.where.items():
                d = p.get(iid)
                key = link_of(d) if d else ""
                if key:
                    canon.setdefault(key, iid)
            self._canon = canon
        return self._canon

    def restate(self, iid: str, d: Doc) -> None:
        """Follow a change of the user's state fields."""
        _toggle(self.unread, iid, is_unread(d))
        _toggle(self.starred, iid, bool(d.get("starred")))
        _toggle(self.shared, iid, bool(d.get("shared")))
        _toggle(self.hidden, iid, bool(d.get("hidden")))
        _toggle(self.tagged, iid, bool(d.get("tags")))
        was = iid in self.tag_muted or iid in self.rule_muted
        _toggle(self.tag_muted, iid, self._tag_muted(d))
        self._rules_restate(iid, d)
        if was != (iid in self.tag_muted or iid in self.rule_muted):
            self._muted = None

    def _rules_restate(self, iid: str, d: Doc) -> None:
        mutes = d.get("mute") or ()
        alerts = d.get("alerts") or {}
        _toggle(self.rule_muted, iid, bool(mutes))
        _toggle(self.alerted, iid, bool(alerts))
        for rid, members in self.by_mute.items():
            if rid not in mutes:
                members.discard(iid)
        for rid in mutes:
            self.by_mute.setdefault(int(rid), set()).add(iid)
        for rid, members in self.by_alert.items():
            if str(rid) not in alerts:
                members.discard(iid)
        for key in alerts:
            self.by_alert.setdefault(int(key), set()).add(iid)

    def resourced(self, iid: str, d: Doc) -> None:
        """Follow a change of an item's sources (a merge added a sighting)."""
        _toggle(self.feed_muted, iid, self._all_muted(d))
        self._muted = None

    # ---------------------------------------------------------------- muting
    def _all_muted(self, d: Doc) -> bool:
        if d["feed"] not in self.muted_feeds:
            return False
        return not d.get("sightings") or doc_sources(d) <= self.muted_feeds

    def _tag_muted(self, d: Doc) -> bool:
        tags = d.get("tags")
        return bool(tags and self.muted_tags and not self.muted_tags.isdisjoint(tags))

    def set_mutes(self, feeds: set[str], tags: set[str], get: Callable[[str], Doc | None]) -> None:
        """Take new muted feeds and tags; recompute which items they hide.

        Costs the items of the muted feeds plus the items with tags of their own,
        not the whole store: muting is a few feeds, not thousands.
        """
        self.muted_feeds, self.muted_tags = set(feeds), set(tags)
        feed_muted: set[str] = set()
        for f in self.muted_feeds:
            for iid in self.by_feed.get(f, ()):
                if iid in self.social:
                    d = get(iid)
                    if d is None or not self._all_muted(d):
                        continue
                feed_muted.add(iid)
        self.feed_muted = feed_muted
        tag_muted: set[str] = set()
        if self.muted_tags:
            for iid in self.tagged:
                d = get(iid)
                if d is not None and self._tag_muted(d):
                    tag_muted.add(iid)
        self.tag_muted = tag_muted
        self._muted = None

    @property
    def muted(self) -> set[str]:
        """Every item out of views and counts because of muting (read-only: cached
        until one of its parts changes)."""
        if self._muted is None:
            self._muted = self.rule_muted | self.feed_muted | self.tag_muted
        return self._muted

    def discard(self, iid: str, d: Doc | None) -> None:
        self.where.pop(iid, None)
        for s in (
            self.unread,
            self.starred,
            self.shared,
            self.hidden,
            self.tagged,
            self.social,
            self.feed_muted,
            self.tag_muted,
            self.rule_muted,
            self.alerted,
            *self.by_mute.values(),
            *self.by_alert.values(),
        ):
            s.discard(iid)
        self._muted = None
        if d is not None:
            ids = self.by_feed.get(d["feed"])
            if ids is not None:
                ids.discard(iid)
            key = link_of(d)
            if key and self._canon is not None and self._canon.get(key) == iid:
                del self._canon[key]
            for s in d.get("sightings") or ():
                self.alias.pop(item_id(s["source"], s["key"]), None)
        self.order = None

    def forget_partition(self, p: Partition, keep: Iterable[str]) -> list[str]:
        """Ids indexed in ``p`` that are not in ``keep`` any more (another process
        deleted them); they are dropped from every index and returned."""
        keep_set = set(keep)
        gone = [iid for iid, where in self.where.items() if where is p and iid not in keep_set]
        for iid in gone:
            self.discard(iid, None)
        if gone:
            for ids in self.by_feed.values():
                ids.difference_update(gone)
        return gone

    # --------------------------------------------------------------- reading
    def set_conditions(
        self, flt: ItemFilter, drafts: set[str] | None = None
    ) -> tuple[set[str] | None, set[str] | None]:
        """The filter's set conditions as (ids that must be in it, ids that must
        not), computed once per view instead of tested set by set per item: a
        view then costs one set lookup per item, whatever it asks."""
        wanted: list[set[str]] = []
        unwanted: list[set[str]] = []
        for want, members in (
            (flt.unread, self.unread),
            (flt.starred, self.starred),
            (flt.shared, self.shared),
            (flt.hidden, self.hidden),
            (flt.muted, self.muted),
            (flt.alerted, self.alerted),
            (flt.drafts, drafts if drafts is not None else set()),
        ):
            if want is True:
                wanted.append(members)
            elif want is False and members:
                unwanted.append(members)
        if wanted:
            first, *rest = _smallest_first(wanted)
            include = first.intersection(*rest) if rest else set(first)
            for members in unwanted:
                include -= members
            return include, None
        if not unwanted:
            return None, None
        if len(unwanted) == 1:
            return None, unwanted[0]
        return None, set().union(*unwanted)

    def count_sets(self, flt: ItemFilter, drafts: set[str] | None) -> int | None:
        """How many items pass ``flt`` by set algebra alone, or None when it also
        needs a search, feeds, a tag or the documents (the caller walks them)."""
        if (
            flt.search
            or flt.feed_ids is not None
            or flt.tag
            or flt.since is not None
            or flt.min_sharers
            or flt.kind
        ):
            return None
        include, exclude = self.set_conditions(flt, drafts)
        if include is not None:
            return len(include & self.where.keys()) if drafts is not None else len(include)
        if exclude is None:
            return len(self.where)
        return len(self.where) - len(exclude & self.where.keys())

    def ordered(self, partitions: Iterable[Partition]) -> list[str]:
        """Every item id, newest first.  Files are named by date and written in
        order, so this is a concatenation plus a sort of presorted runs."""
        if self.order is None:
            docs: list[Doc] = []
            for p in sorted(partitions, key=_newest_first, reverse=True):
                docs.extend(p.docs().values())
            docs.sort(key=sort_key, reverse=True)
            self.order = [d["id"] for d in docs]
        return self.order

    def select(
        self,
        flt: ItemFilter,
        order: list[str],
        get: Callable[[str], Doc | None],
        *,
        tagged_feeds: set[str],
        matched: set[str] | None,
        keep: frozenset[str] | set[str] = frozenset(),
        stop: Callable[[], bool] | None = None,
        conditions: tuple[set[str] | None, set[str] | None] | None = None,
    ) -> Iterator[str]:
        """Ids passing ``flt``, in ``order``.  ``keep``: ids shown even when they no
        longer match (an item read a moment ago must not vanish under the cursor);
        ``stop`` is asked every 2,048 ids, so a search replaced by the next
        keystroke stops scanning.  ``conditions``: :meth:`set_conditions`, computed
        under the store's lock (the sets change while a view is walked)."""
        include, exclude = conditions if conditions is not None else self.set_conditions(flt)
        feeds: set[str] | None = None
        if flt.feed_ids is not None:
            feeds = set()
            for f in flt.feed_ids:
                feeds |= self.by_feed.get(f, set())
        tag = flt.tag
        by_tag: set[str] | None = None
        if tag:
            by_tag = set()
            for f in tagged_feeds:
                by_tag |= self.by_feed.get(f, set())
        needs_doc = bool(tag) or flt.since is not None or flt.min_sharers > 0 or flt.kind
        for n, iid in enumerate(order):
            if stop is not None and not n & 2047 and stop():
                return
            if matched is not None and iid not in matched:
                continue
            if iid in keep and matched is None:
                yield iid
                continue
            if include is not None:
                if iid not in include:
                    continue
            elif exclude is not None and iid in exclude:
                continue
            if feeds is not None and iid not in feeds:
                continue
            if needs_doc:
                d = get(iid)
                if d is None:
                    continue
                if (
                    tag
                    and (by_tag is None or iid not in by_tag)
                    and tag not in (d.get("tags") or ())
                ):
                    continue
                if flt.since is not None and str(d.get("first_seen") or "") < flt.since:
                    continue
                if flt.min_sharers and sharer_count(d) < flt.min_sharers:
                    continue
                if flt.kind and (d.get("kind") or "article") != flt.kind:
                    continue
            yield iid


def _smallest_first(sets: list[set[str]]) -> list[set[str]]:
    return sorted(sets, key=len)


def _toggle(members: set[str], iid: str, on: bool) -> None:
    if on:
        members.add(iid)
    else:
        members.discard(iid)
