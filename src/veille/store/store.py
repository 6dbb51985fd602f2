"""The veille store: feeds, items, content, shares and drafts in TinyDB files.

Layout under the store folder::

    feeds.json            feeds and their fetch state (small)
    items/2026-11-27.json light item documents + read/star/tag state, by day
                          (items/2025-03.json by month for back-dated ones)
    content/2026-11-27.json  HTML bodies, same partitions, loaded on demand
    shares.json drafts.json tombstones.json
    .lock                 inter-process flush lock

Why this shape (measured in benchmarks/store_bench.py): a state change touches
one small in-memory dict and returns in microseconds; a background thread
writes the changed partition files within ``flush_delay`` (atomic replace +
fsync), so a keypress never waits for the disk and a crash loses at most that
delay.  Opening reads only the light item files; bodies stay on disk until an
item is shown.  A day is the partition because a refresh mostly adds to
today, so it rewrites one small file, not the whole store.
"""

from __future__ import annotations

import atexit
import gc
import logging
import threading
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.domain.share import Share
from veille.store.ids import entry_hash, item_id, new_feed_id
from veille.store.lock import ProcessLock
from veille.store.partition import Partition
from veille.util.atomicfile import remove_stale_temps
from veille.util.dates import iso, now, parse_iso

log = logging.getLogger(__name__)

STATE_KEYS = {"read", "starred", "hidden", "tags", "shared"}
DAY_FILES_FOR = 62  # days: items newer than this at arrival get a file per day
MAX_CONTENT_ONLY_UPDATES = 24  # entries that embed timestamps change on every poll
SUMMARY_LIMIT = 300  # searchable text kept in memory; the body stays on disk


class StoreError(Exception):
    """A store operation got bad input (unknown id, ambiguous prefix...)."""


@dataclass
class UpsertResult:
    new: int = 0
    updated: int = 0


def _partition_key(sort: str, stamp: str) -> str:
    """Which file an item lives in, fixed when it arrives.

    Recent items go by day, so the file a refresh or a keypress rewrites stays
    small (a day of items, not a month: ~1 ms to serialise instead of ~40 ms at
    a heavy 1,000 items a day); back-dated ones by month, so a feed's ten-year
    archive does not make thousands of files.  File names sort in time order.
    """
    ref = parse_iso(stamp) or now()
    if sort[:10] >= (ref - timedelta(days=DAY_FILES_FOR)).strftime("%Y-%m-%d"):
        return sort[:10]
    return sort[:7]


class Store:
    """All persistence for veille.  Thread-safe; safe with other veille processes."""

    def __init__(
        self,
        root: Path,
        *,
        flush_delay: float = 0.2,
        autoflush: bool = True,
        lazy: int | None = None,
    ) -> None:
        """Open the store at ``root``.

        With ``lazy=N`` only the newest files holding at least N items are read
        now, so the app can paint its first screen at once; :meth:`load_rest`
        reads the others (``loaded`` is set then).  Operations that need every
        item (refresh, retention, id prefixes) call it themselves.
        """
        self.root = Path(root)
        (self.root / "items").mkdir(parents=True, exist_ok=True)
        (self.root / "content").mkdir(parents=True, exist_ok=True)
        for folder in (self.root, self.root / "items", self.root / "content"):
            remove_stale_temps(folder)
        self.flush_delay = flush_delay
        self._mu = threading.RLock()
        self._plock = ProcessLock(self.root / ".lock")
        self.feeds_p = Partition(self.root / "feeds.json", "feeds")
        self.shares_p = Partition(self.root / "shares.json", "shares")
        self.drafts_p = Partition(self.root / "drafts.json", "drafts")
        self.tomb_p = Partition(self.root / "tombstones.json", "tombstones")
        self._items: dict[str, Partition] = {}
        self._content: dict[str, Partition] = {}
        self._where: dict[str, Partition] = {}  # item id -> its items partition
        self._unread: set[str] = set()  # unread and not dismissed: counts in O(1)
        self._order: list[str] | None = None  # item ids, newest first
        self.version = 0  # bumped on every change, for views to notice
        self._text_version = 0  # bumped when searchable text changes
        self._search: tuple[int, str, list[int], list[str]] | None = None
        self.loaded = threading.Event()
        self._load_lock = threading.Lock()
        with self._mu:
            self._rest = self._load_items(first=lazy)
        if not self._rest:
            self.loaded.set()
        self._wake = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        self.flush_errors = 0
        if autoflush:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="veille-flush", daemon=True
            )
            self._flusher.start()
            atexit.register(self.close)

    # ------------------------------------------------------------------ load
    def _items_partition(self, month: str) -> Partition:
        p = self._items.get(month)
        if p is None:
            p = self._items[month] = Partition(
                self.root / "items" / f"{month}.json", "items", order_by="sort"
            )
        return p

    def _content_partition(self, month: str) -> Partition:
        p = self._content.get(month)
        if p is None:
            p = self._content[month] = Partition(self.root / "content" / f"{month}.json", "content")
        return p

    def _load_items(self, first: int | None = None) -> list[Path]:
        """Load month files newest first; with ``first``, stop once that many items
        are in and return the paths left for the background loader."""
        paths = sorted((self.root / "items").glob("*.json"), reverse=True)
        count = 0
        for i, path in enumerate(paths):
            if first is not None and count >= first:
                return paths[i:]
            p = self._items_partition(path.stem)
            p.ensure_loaded()
            self._index_loaded(p)
            count += len(p.docs())
        self._order = None
        return []

    def _index_loaded(self, p: Partition) -> None:
        docs = p.docs()
        self._where.update(dict.fromkeys(docs, p))
        self._unread.update(k for k, d in docs.items() if not d.get("read") and not d.get("hidden"))
        # 100k long-lived documents make every full garbage collection walk them
        # (a 30 ms pause, mid-keypress); frozen, the collector skips them.
        gc.freeze()

    def load_rest(self) -> None:
        """Read the month files a lazy open left out (at once, in this thread).

        The app calls it from a worker after its first paint; anything that needs
        every item calls it too, and waits if another thread is already at it."""
        if self.loaded.is_set():
            return
        with self._load_lock:
            if not self.loaded.is_set():
                self._load_rest(self._rest)
                self._rest = []

    def _load_rest(self, paths: list[Path]) -> None:
        for path in paths:
            p = Partition(path, "items", order_by="sort")
            p.ensure_loaded()  # parse outside the lock: readers keep going
            with self._mu:
                if path.stem in self._items:  # a refresh or sync got there first
                    continue
                self._items[path.stem] = p
                self._index_loaded(p)
                self._order = None
                self.version += 1
                self._text_version += 1
        self.loaded.set()

    def _all_partitions(self) -> list[Partition]:
        # Flush order matters after a crash: bodies before the items that point
        # to them, items before the feed's validators (a saved ETag with lost
        # items would make the next poll skip them for good).
        return [
            *self._content.values(),
            *self._items.values(),
            self.tomb_p,
            self.feeds_p,
            self.shares_p,
            self.drafts_p,
        ]

    # ----------------------------------------------------------------- flush
    def _touch(self) -> None:
        self.version += 1
        self._wake.set()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait()
            if self._closed:
                break
            # Coalesce a burst of changes (a run of keypresses) into one write.
            threading.Event().wait(self.flush_delay)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep the thread alive; the data stays pending
                self.flush_errors += 1
                log.exception("flushing the store failed; will retry")
                threading.Event().wait(1.0)
                self._wake.set()

    def flush(self) -> None:
        """Write every changed file now (merging with other processes' writes).

        One file at a time, taking the thread lock only to snapshot it, so a
        keypress waits for at most one small serialisation, never for the disk.
        """
        with self._plock:
            with self._mu:
                dirty = [p for p in self._all_partitions() if p.dirty]
            for p in dirty:
                with self._mu:
                    if not p.dirty:
                        continue
                    if p.changed_on_disk():
                        p.reload()
                        self._reindex_partition(p)
                    payload, done = p.serialize(), p.pending
                    p.pending = {}
                try:
                    p.write(payload)
                except BaseException:
                    with self._mu:  # keep what was not written for the next try
                        done.update(p.pending)
                        p.pending = done
                    raise

    def sync(self) -> bool:
        """Pick up what other processes wrote; True when anything changed."""
        changed = False
        with self._plock, self._mu:
            known = set(self._items)
            for path in (self.root / "items").glob("*.json"):
                if path.stem not in known:
                    p = self._items_partition(path.stem)
                    p.ensure_loaded()
                    self._reindex_partition(p)
                    changed = True
            for p in self._all_partitions():
                if p.changed_on_disk():
                    p.reload()
                    self._reindex_partition(p)
                    changed = True
            if changed:
                self._order = None
                self.version += 1
                self._text_version += 1
        if changed:
            self.flush()  # our pending changes were merged in: write them
        return changed

    def _reindex_partition(self, p: Partition) -> None:
        if p not in self._items.values():
            return
        docs = p.docs()
        for doc_id, where in list(self._where.items()):
            if where is p and doc_id not in docs:
                del self._where[doc_id]
                self._unread.discard(doc_id)
        for doc_id, d in docs.items():
            self._where[doc_id] = p
            if _is_unread(d):
                self._unread.add(doc_id)
            else:
                self._unread.discard(doc_id)
        self._order = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)
        self.flush()
        atexit.unregister(self.close)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- feeds
    def feeds(self) -> list[dict[str, Any]]:
        with self._mu:
            return sorted(
                self.feeds_p.docs().values(), key=lambda f: (f.get("title") or f["url"]).lower()
            )

    def get_feed(self, feed_id: str) -> dict[str, Any] | None:
        with self._mu:
            return self.feeds_p.get(feed_id)

    def find_feed(self, url_or_id: str) -> dict[str, Any] | None:
        """A feed by id, by exact URL, or by URL ignoring a trailing slash / scheme."""
        with self._mu:
            docs = self.feeds_p.docs()
            if url_or_id in docs:
                return docs[url_or_id]
            want = _norm_url(url_or_id)
            for f in docs.values():
                if f["url"] == url_or_id or _norm_url(f["url"]) == want:
                    return f
                if any(_norm_url(u) == want for u in f.get("old_urls", ())):
                    return f
        return None

    def add_feed(
        self, url: str, *, title: str = "", tags: Iterable[str] = (), site_url: str = ""
    ) -> tuple[dict[str, Any], bool]:
        """Subscribe; returns (feed, created).  An existing URL is left as it is."""
        with self._mu:
            existing = self.find_feed(url)
            if existing is not None:
                return existing, False
            fid = new_feed_id()
            while fid in self.feeds_p.docs():
                fid = new_feed_id()
            feed = {
                "id": fid,
                "url": url,
                "title": title,
                "user_title": bool(title),
                "site_url": site_url,
                "tags": sorted(set(tags)),
                "added": iso(now()),
                "status": "new",
                "message": "not fetched yet",
                "errors": 0,
                "next_poll": None,
                "disabled": None,
            }
            self.feeds_p.put(fid, feed)
            self._touch()
            return self.feeds_p.get(fid) or feed, True

    def add_feeds(self, feeds: Iterable[tuple[str, str, list[str], str]]) -> tuple[int, int]:
        """Subscribe many (url, title, tags, site_url) at once; (added, already there)."""
        added = known = 0
        with self._mu:
            for url, title, tags, site in feeds:
                _, created = self.add_feed(url, title=title, tags=tags, site_url=site)
                added += created
                known += not created
        return added, known

    def update_feed(self, feed_id: str, **fields: Any) -> None:
        with self._mu:
            if not self.feeds_p.patch(feed_id, fields):
                raise StoreError(f"no feed with id {feed_id}")
            if "title" in fields:
                self._text_version += 1
            self._touch()

    def remove_feed(self, feed_id: str) -> int:
        """Unsubscribe and drop its items, except starred or shared ones (kept forever)."""
        self.load_rest()
        with self._mu:
            if self.feeds_p.get(feed_id) is None:
                raise StoreError(f"no feed with id {feed_id}")
            doomed = [
                i
                for i, p in self._where.items()
                if (d := p.get(i))
                and d["feed"] == feed_id
                and not d.get("starred")
                and not d.get("shared")
            ]
            self._delete_items(doomed)
            self.feeds_p.delete([feed_id])
            self._touch()
            return len(doomed)

    # ----------------------------------------------------------------- items
    def __len__(self) -> int:
        return len(self._where)

    def get_item(self, iid: str) -> dict[str, Any] | None:
        with self._mu:
            p = self._where.get(iid)
            return p.get(iid) if p else None

    def resolve_id(self, prefix: str) -> str:
        """Full item id from an id or a unique prefix (at least 4 characters)."""
        self.load_rest()
        with self._mu:
            if prefix in self._where:
                return prefix
            if len(prefix) < 4:
                raise StoreError(f"unknown item id '{prefix}'")
            hits = [i for i in self._where if i.startswith(prefix)]
        if not hits:
            raise StoreError(f"unknown item id '{prefix}'")
        if len(hits) > 1:
            raise StoreError(f"item id '{prefix}' is ambiguous ({len(hits)} items)")
        return hits[0]

    def get_content(self, iid: str) -> dict[str, Any]:
        """The item's body: {"html": str, "type": "html"|"text", "enclosures": [...]}."""
        with self._mu:
            item = self.get_item(iid)
            if item is None:
                return {}
            return self._content_partition(self._where[iid].path.stem).get(iid) or {}

    def ordered_ids(self) -> list[str]:
        """All item ids, newest first (cached until items are added or removed)."""
        with self._mu:
            if self._order is None:
                # Month files are named by sort month and written in sort order,
                # so this is a concatenation plus a sort over presorted runs.
                docs: list[dict[str, Any]] = []
                for month in sorted(self._items, reverse=True):
                    docs.extend(self._items[month].docs().values())
                docs.sort(key=_sort_key, reverse=True)
                self._order = [d["id"] for d in docs]
            return self._order

    def _search_index(self) -> tuple[int, str, list[int], list[str]]:
        """All searchable text casefolded into one string, rebuilt when text changes.

        A search is then one C-speed ``str.find`` pass (~10 ms at 100k items)
        instead of a Python loop over every item (~150 ms)."""
        with self._mu:
            cached = self._search
            if cached is not None and cached[0] == self._text_version:
                return cached
            version = self._text_version
            feeds = self.feeds_p.docs()
            titles = {f: (d.get("title") or d["url"]) for f, d in feeds.items()}
            ids: list[str] = []
            texts: list[str] = []
            for iid, p in self._where.items():
                d = p.get(iid)
                if d is None:
                    continue
                ids.append(iid)
                texts.append(
                    f"{d.get('title', '')}\x1f{d.get('author', '')}\x1f{d.get('summary', '')}"
                    f"\x1f{d.get('comment', '')}\x1f{titles.get(d['feed'], '')}"
                )
        big = "\x00".join(texts).casefold()
        starts = [0]
        for t in texts:  # casefold can change lengths (ß -> ss): recount below if so
            starts.append(starts[-1] + len(t) + 1)
        if starts[-1] - 1 != len(big):
            starts = [0]
            for t in texts:
                starts.append(starts[-1] + len(t.casefold()) + 1)
        index = (version, big, starts, ids)
        with self._mu:
            if self._text_version == version:
                self._search = index
        return index

    def search_ids(self, text: str) -> set[str]:
        """Ids of items whose title, author, summary, your share comment or source
        contains ``text``, ignoring case."""
        needle = text.casefold()
        if not needle or "\x00" in needle or "\x1f" in needle:
            return set(self._where) if not needle else set()
        _, big, starts, ids = self._search_index()
        found: set[str] = set()
        pos = big.find(needle)
        while pos != -1:
            i = bisect_right(starts, pos) - 1
            found.add(ids[i])
            pos = big.find(needle, starts[i + 1])
        return found

    def iter_items(
        self,
        *,
        unread: bool | None = None,
        starred: bool | None = None,
        shared: bool | None = None,
        hidden: bool | None = None,
        feed_ids: Iterable[str] | None = None,
        tag: str | None = None,
        search: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items newest first, filtered; lazily, so a view can stop after a screenful."""
        feed_set = set(feed_ids) if feed_ids is not None else None
        feeds = self.feeds_p.docs()
        tagged_feeds = {f for f, d in feeds.items() if tag in d.get("tags", ())} if tag else set()
        matched = self.search_ids(search) if search else None
        for iid in self.ordered_ids():
            p = self._where.get(iid)
            d = p.get(iid) if p else None
            if d is None:
                continue
            if unread is not None and bool(d.get("read")) == unread:
                continue
            if starred is not None and bool(d.get("starred")) != starred:
                continue
            if shared is not None and bool(d.get("shared")) != shared:
                continue
            if hidden is not None and bool(d.get("hidden")) != hidden:
                continue
            if feed_set is not None and d["feed"] not in feed_set:
                continue
            if tag and d["feed"] not in tagged_feeds and tag not in d.get("tags", ()):
                continue
            if matched is not None and iid not in matched:
                continue
            yield d

    def items(self, *, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        out = []
        for d in self.iter_items(**filters):
            out.append(d)
            if limit is not None and len(out) >= limit:
                break
        return out

    def set_state(self, ids: Iterable[str], **fields: Any) -> int:
        """Change read/starred/hidden/tags/shared of items: memory now, disk within ~1 s."""
        bad = set(fields) - STATE_KEYS
        if bad:
            raise StoreError(f"not a state field: {', '.join(sorted(bad))}")
        if "read" in fields:
            fields["read_at"] = iso(now()) if fields["read"] else None
        n = 0
        with self._mu:
            for iid in ids:
                p = self._where.get(iid)
                if p is None:
                    raise StoreError(f"unknown item id '{iid}'")
                p.patch(iid, fields)
                if _is_unread(p.get(iid) or {}):
                    self._unread.add(iid)
                else:
                    self._unread.discard(iid)
                n += 1
            if n:
                self._touch()
        return n

    def totals(self) -> tuple[int, int]:
        """(unread and not dismissed, total) over all items, in O(1)."""
        return len(self._unread), len(self._where)

    def counts(self) -> dict[str, tuple[int, int]]:
        """feed id -> (items, unread)."""
        out: dict[str, list[int]] = {}
        with self._mu:
            for iid, p in self._where.items():
                d = p.get(iid)
                if d is None:
                    continue
                c = out.setdefault(d["feed"], [0, 0])
                c[0] += 1
                c[1] += not d.get("read")
        return {k: (v[0], v[1]) for k, v in out.items()}

    def upsert_entries(
        self, feed_id: str, parsed: ParsedFeed, *, when: datetime | None = None
    ) -> UpsertResult:
        """Store a parsed feed's entries.  New ones are added unread; changed ones are
        updated and keep their read/star state; unchanged ones are not touched."""
        self.load_rest()  # an entry in a month not read yet would look new
        when = when or now()
        stamp = iso(when) or ""
        res = UpsertResult()
        with self._mu:
            feed = self.feeds_p.get(feed_id)
            if feed is None:
                raise StoreError(f"no feed with id {feed_id}")
            first_fetch = not feed.get("fetched_once")
            tombs = self.tomb_p.docs()
            new_items: dict[str, dict[str, dict[str, Any]]] = {}
            new_content: dict[str, dict[str, dict[str, Any]]] = {}
            for e in parsed.entries:
                iid = item_id(feed_id, e.key)
                if iid in tombs:
                    continue
                h = e.content_hash or entry_hash(e)
                old_p = self._where.get(iid)
                if old_p is None:
                    # Back-dated posts of a known feed sort by arrival, so they still surface.
                    sort = (e.published or e.updated or stamp) if first_fetch else stamp
                    part = _partition_key(sort, stamp)
                    new_items.setdefault(part, {})[iid] = _item_doc(iid, feed_id, e, sort, stamp, h)
                    self._where[iid] = self._items_partition(part)
                    self._unread.add(iid)
                    if e.content or e.enclosures:
                        new_content.setdefault(part, {})[iid] = _content_doc(e)
                    res.new += 1
                    continue
                old = old_p.get(iid) or {}
                if old.get("chash") == h:
                    continue
                upd_changed = (e.updated or "") != (old.get("updated") or "")
                n = old.get("nupd", 0)
                if not upd_changed and n >= MAX_CONTENT_ONLY_UPDATES:
                    continue
                fields = _entry_fields(e, h)
                fields["nupd"] = n if upd_changed else n + 1
                old_p.patch(iid, fields)
                self._store_content(iid, old_p.path.stem, e)
                res.updated += 1
            for part, docs in new_items.items():
                self._items_partition(part).put_many(docs)
            for part, docs in new_content.items():
                self._content_partition(part).put_many(docs)
            if first_fetch:
                self.feeds_p.patch(feed_id, {"fetched_once": True})
            if res.new:
                self._order = None
            if res.new or res.updated:
                self._text_version += 1
            self._touch()
        return res

    def _store_content(self, iid: str, part: str, e: ParsedEntry) -> None:
        if e.content or e.enclosures:
            self._content_partition(part).put(iid, _content_doc(e))

    def _delete_items(self, ids: Iterable[str], *, tombstone: bool = False) -> int:
        by_part: dict[str, list[str]] = {}
        for iid in ids:
            p = self._where.pop(iid, None)
            self._unread.discard(iid)
            if p is None:
                continue
            by_part.setdefault(p.path.stem, []).append(iid)
            if tombstone:
                self.tomb_p.put(iid, {"at": iso(now())})
        n = 0
        for month, part_ids in by_part.items():
            n += self._items_partition(month).delete(part_ids)
            cp = self._content_partition(month)
            if cp.path.exists() or cp.loaded:
                cp.delete(part_ids)
        if n:
            self._order = None
            self._text_version += 1
        return n

    def apply_retention(self, *, keep_days: int, max_per_feed: int) -> int:
        """Drop read, unstarred, unshared items older than keep_days or beyond
        max_per_feed per feed.  Dropped ids are remembered (tombstones) so an
        entry still present in its feed does not come back as unread."""
        self.load_rest()
        cutoff = iso(now() - timedelta(days=keep_days)) or ""
        tomb_cutoff = iso(now() - timedelta(days=max(keep_days * 2, 30))) or ""
        with self._mu:
            per_feed: dict[str, int] = {}
            doomed: list[str] = []
            for iid in self.ordered_ids():
                d = self.get_item(iid)
                if d is None:
                    continue
                rank = per_feed[d["feed"]] = per_feed.get(d["feed"], 0) + 1
                if not d.get("read") or d.get("starred") or d.get("shared"):
                    continue
                if d["first_seen"] < cutoff or rank > max_per_feed:
                    doomed.append(iid)
            n = self._delete_items(doomed, tombstone=True)
            old_tombs = [t for t, v in self.tomb_p.docs().items() if v["at"] < tomb_cutoff]
            self.tomb_p.delete(old_tombs)
            if n or old_tombs:
                self._touch()
        return n

    # ---------------------------------------------------------------- shares
    def put_share(self, share: Share, *, durable: bool = True) -> None:
        """Save a share; ``durable`` writes it before returning, because a share
        must be on disk before any network call is made for it."""
        with self._mu:
            self.shares_p.put(share.id, share.to_dict())
            iid = share.item_id
            p = self._where.get(iid) if iid else None
            if p is not None:
                p.patch(iid, {"shared": True, "comment": share.comment})
            self._text_version += 1
            self._touch()
        if durable:
            self.flush()

    def get_share(self, share_id: str) -> Share | None:
        """A copy of the share: changing it changes nothing until put_share."""
        with self._mu:
            doc = self.shares_p.get(share_id)
            return Share.from_dict(doc) if doc is not None else None

    def shares(self) -> list[Share]:
        """All shares (copies), newest first."""
        with self._mu:
            shares = [Share.from_dict(d) for d in self.shares_p.docs().values()]
        return sorted(shares, key=lambda s: s.created or "", reverse=True)

    def resolve_share_id(self, prefix: str) -> str:
        with self._mu:
            docs = self.shares_p.docs()
            if prefix in docs:
                return prefix
            hits = [i for i in docs if i.startswith(prefix)] if len(prefix) >= 4 else []
        if len(hits) != 1:
            what = "ambiguous" if hits else "unknown"
            raise StoreError(f"{what} share id '{prefix}'")
        return hits[0]

    # ------------------------------------------------------- small key/values
    def drafts(self) -> Partition:
        return self.drafts_p

    def save_draft(self, key: str, draft: dict[str, Any], *, durable: bool = True) -> None:
        """Autosave a draft; ``durable`` writes it to disk before returning."""
        with self._mu:
            self.drafts_p.put(key, draft)
            self._touch()
        if durable:
            self.flush()

    def get_draft(self, key: str) -> dict[str, Any] | None:
        with self._mu:
            return self.drafts_p.get(key)

    def delete_draft(self, key: str) -> None:
        with self._mu:
            if self.drafts_p.delete([key]):
                self._touch()

    # -------------------------------------------------------- full articles
    def get_article(self, item_id: str) -> tuple[str, str] | None:
        """The cached full article of an item as (html, url), or None if never fetched."""
        with self._mu:
            doc = self.get_content(item_id)
            html = doc.get("article")
            if not isinstance(html, str) or not html:
                return None
            return html, str(doc.get("article_url") or "")

    def save_article(self, item_id: str, html: str, url: str) -> None:
        """Cache an item's full article beside the feed's body, which it never replaces
        (the item pane falls back to the feed's text when the article is unwanted)."""
        with self._mu:
            p = self._where.get(item_id)
            if p is None:
                raise StoreError(f"unknown item id '{item_id}'")
            cp = self._content_partition(p.path.stem)
            fields = {"article": html, "article_url": url}
            if not cp.patch(item_id, fields):
                cp.put(item_id, fields)
            self._touch()


def _item_doc(
    iid: str, feed_id: str, e: ParsedEntry, sort: str, stamp: str, h: str
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": iid,
        "feed": feed_id,
        "key": e.key,
        "sort": sort,
        "first_seen": stamp,
        "read": False,
    }
    doc.update(_entry_fields(e, h))
    return doc


def _is_unread(d: dict[str, Any]) -> bool:
    return not d.get("read") and not d.get("hidden")


def _sort_key(d: dict[str, Any]) -> str:
    return d["sort"]


def _content_doc(e: ParsedEntry) -> dict[str, Any]:
    return {"html": e.content, "type": e.content_type, "enclosures": e.enclosures}


def _entry_fields(e: ParsedEntry, h: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": e.title,
        "link": e.link,
        "author": e.author,
        "published": e.published,
        "summary": e.summary[:SUMMARY_LIMIT],
        "chash": h,
    }
    if e.updated:
        fields["updated"] = e.updated
    if e.categories:
        fields["cats"] = e.categories
    if e.image:
        fields["image"] = e.image
    return fields


def _norm_url(url: str) -> str:
    u = url.strip()
    for prefix in ("https://", "http://"):
        if u.lower().startswith(prefix):
            u = u[len(prefix) :]
            break
    return u.rstrip("/").lower()
