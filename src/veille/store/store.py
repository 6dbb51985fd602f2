"""The veille store: feeds, items, content, shares, drafts and undo history in TinyDB files.

Layout under the store folder::

    meta.json             schema version (see store/schema.py)
    feeds.json            feeds and social sources with their poll state (small)
    items/2026-11-27.json light item documents + read/star/tag state, by day
                          (items/2025-03.json by month for back-dated ones; a busy
                          day spills into 2026-11-27~1.json, ~2...)
    items/2026-11-27.keys what that file's items were seen through and link to, so a
                          refresh reads only the files it may touch (store/keys.py)
    content/<same>.json   bodies, same partitions, loaded on demand
    shares.json drafts.json tombstones.json undo.json
    rules.json            mute rules and alerts (see store/rules.py)
    removed.json          unsubscribed feeds, kept a while so `veille feed restore` can undo
    .lock                 inter-process flush lock

Why this shape (measured in benchmarks/store_bench.py): a state change touches
one small in-memory document and returns in microseconds; a background thread
writes the changed files within ``flush_delay`` (atomic replace + fsync), so a
keypress never waits for the disk and a crash loses at most that delay.  Opening
reads only the light item files; bodies stay on disk until an item is shown.
Files stay small (a day, at most ``SHARD_SIZE`` items) because TinyDB's table
methods cost in proportion to the file they touch.

Records go out as frozen copies (domain.records); nothing outside this module
reads or writes a stored document.
"""

from __future__ import annotations

import atexit
import gc
import itertools
import logging
import os
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from veille.domain.filter import ItemFilter
from veille.domain.records import Content, Draft, Feed, Item
from veille.domain.share import Share, ShareResponse
from veille.domain.text import natural_key
from veille.store import keys as item_keys
from veille.store import schema
from veille.store.errors import StoreError, StoreWriteError
from veille.store.ids import new_feed_id
from veille.store.index import ItemIndex, doc_sources, sort_key
from veille.store.ingest import IngestMixin
from veille.store.jsonfile import looks_whole
from veille.store.lock import ProcessLock
from veille.store.partition import Partition, file_sig
from veille.util.atomicfile import remove_stale_temps, write_atomic_many
from veille.util.dates import iso, now, parse_iso
from veille.util.urls import url_key

log = logging.getLogger(__name__)

STATE_KEYS = {"read", "starred", "hidden", "tags", "shared"}
UNDO_DEPTH = 100
REMOVED_KEEP_DAYS = 30  # an unsubscribed feed can be restored this long
REMOVED_KEEP = 50  # and at most this many of them
BATCH_FILES = 64  # files a flush writes side by side at most
BATCH_BYTES = 32 * 2**20  # and their bytes at most
KEPT_SUMMARIES = 4  # item files whose keys summary is kept between flushes
FEED_FIELDS = frozenset(f.name for f in fields(Feed))
EVERYTHING = ItemFilter()
T = TypeVar("T")


class Store(IngestMixin):
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
        item (id prefixes, daily retention) call it themselves.  ``lazy=0`` (a
        command-line refresh) reads nothing now, and a refresh then reads only
        the files that may hold what it brings (:meth:`load_for`); with N > 0 the
        app reads the rest in the background anyway, and a refresh waits for it.

        A store on a read-only file system opens for reading; writing then
        raises StoreWriteError.  Damaged files are set aside and listed in
        ``problems``; the rest opens.
        """
        self.root = Path(root)
        self.problems: list[str] = []
        self.readonly = False
        try:
            for folder in (self.root, self.root / "items", self.root / "content"):
                folder.mkdir(parents=True, exist_ok=True)
                remove_stale_temps(folder)
        except OSError as exc:
            if not (self.root / "items").is_dir():
                raise StoreWriteError(
                    f"cannot create the store in {self.root}: {exc.strerror or exc}"
                ) from None
            self.readonly = True
        self.readonly = self.readonly or not os.access(self.root, os.W_OK)
        self.flush_delay = flush_delay
        self._mu = threading.RLock()
        self._plock = ProcessLock(self.root / ".lock")
        self._flushing = threading.RLock()  # one flush at a time in this process
        self.meta_p = Partition(self.root / "meta.json", "meta")
        self.feeds_p = Partition(self.root / "feeds.json", "feeds", keep_previous=True)
        self.shares_p = Partition(self.root / "shares.json", "shares")
        self.drafts_p = Partition(self.root / "drafts.json", "drafts")
        self.tomb_p = Partition(self.root / "tombstones.json", "tombstones")
        self.undo_p = Partition(self.root / "undo.json", "undo")
        self.rules_p = Partition(self.root / "rules.json", "rules")
        self.removed_p = Partition(self.root / "removed.json", "removed")
        self._rules_cache = None
        self._rules_version = 0
        self._items: dict[str, Partition] = {}
        self._content: dict[str, Partition] = {}
        self._ix = ItemIndex()
        self._url_ix: dict[str, str] | None = None  # url key -> feed id
        self._feeds_cache: tuple[int, list[Feed]] | None = None
        self._feeds_version = 0
        self.version = 0  # bumped on every change, for views to notice
        self._text_version = 0  # bumped when searchable text changes
        self._search: tuple[int, str, array[int], list[str]] | None = None
        self.write_error: str | None = None  # why the last flush failed, until one succeeds
        self.loaded = threading.Event()
        self._load_lock = threading.Lock()
        self._rest_keys: item_keys.Unread | None = None  # see load_for
        self._by_keys = lazy == 0
        self._summaries: dict[str, tuple[Partition, int, bytes]] = {}
        self._keys_missing: set[str] = set()  # loaded item files whose keys file is stale
        self._damaged_items = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        with self._mu:
            for p in (
                self.meta_p,
                self.feeds_p,
                self.shares_p,
                self.drafts_p,
                self.tomb_p,
                self.rules_p,
            ):
                p.ensure_loaded()
                self._note_damage(p)
            self._note_lost_feeds()
            self._refresh_mutes()  # before the items: the index sorts them as they load
            self._rest = self._load_items(first=lazy)
            schema.check(self)
        if not self._rest:
            self.loaded.set()
        if autoflush:
            self.start_flusher()

    def start_flusher(self) -> None:
        """Start writing changes in the background (a thread: the CLI starts it
        after forking its parser pool, which is only safe without threads)."""
        if self._flusher is not None:
            return
        self._flusher = threading.Thread(target=self._flush_loop, name="veille-flush", daemon=True)
        self._flusher.start()
        atexit.register(self._close_at_exit)

    # ------------------------------------------------------------------ load
    def _note_damage(self, p: Partition) -> None:
        damaged = p.damaged
        if damaged is None or damaged.line() in self.problems:
            return
        line = damaged.line()
        if p.recovered is not None:
            n = len(p.docs())
            line += (
                f"; its previous version ({p.recovered.name}) was read instead: {n} "
                f"subscription{'s' if n != 1 else ''} restored (the latest change may be missing)"
            )
            # Written back whole at the next flush, so the damage is behind us.
            for doc_id, doc in p.docs().items():
                p.pending[doc_id] = ("put", doc)
        self.problems.append(line)
        if p.table_name == "items":
            # Its items are gone from memory, but their feeds would answer 304 or
            # "unchanged" and never send them again: forget the validators, so
            # the next refresh brings back whatever the feeds still publish.
            self._damaged_items = True

    def _note_lost_feeds(self) -> None:
        """An earlier run set a damaged feeds.json aside and nothing was subscribed
        since: say so at every opening, not just the first, or the store would
        pass for a new one ("No feeds yet") while the user's feeds are gone."""
        if self.feeds_p.docs() or self.feeds_p.damaged is not None:
            return
        aside = sorted(self.root.glob("feeds.json.damaged-*"))
        if aside:
            self.problems.append(
                f"feeds.json was damaged and set aside in {aside[-1].name}: no subscriptions "
                "could be read (import your OPML file again, or delete that file to start afresh)"
            )

    def _after_damage(self) -> None:
        if not self._damaged_items:
            return
        self._damaged_items = False
        for fid in list(self.feeds_p.docs()):
            self.feeds_p.patch(fid, {"etag": None, "last_modified": None, "body_hash": None})
        self._touch()

    def _items_partition(self, stem: str) -> Partition:
        """The item file ``stem``, read and indexed if it exists on disk: a file a lazy
        open left out (a refresh adding to today's) or one another process made
        must have its items indexed before anything is added to it."""
        p = self._items.get(stem)
        if p is None:
            p = _items_file(self.root / "items" / f"{stem}.json")
            if p.path.exists():
                self._adopt(p)
            else:
                self._items[stem] = p
        return p

    def _content_partition(self, stem: str) -> Partition:
        p = self._content.get(stem)
        if p is None:
            p = self._content[stem] = Partition(self.root / "content" / f"{stem}.json", "content")
        return p

    def _load_items(self, first: int | None = None) -> list[Path]:
        """Load item files newest first; with ``first``, stop once that many items
        are in and return the paths left for the background loader."""
        paths = sorted((self.root / "items").glob("*.json"), reverse=True)
        count = 0
        rest: list[Path] = []
        for i, path in enumerate(paths):
            if first is not None and count >= first:
                # Not read yet; but a file cut short must be noticed now, so that
                # its feeds are fetched again whatever the next command is.  (One
                # pass: "not in rest" was quadratic, ~0.5 s at a thousand files.)
                broken: list[Path] = []
                for later in paths[i:]:
                    (rest if looks_whole(later) else broken).append(later)
                for path in broken:
                    self._load_item_file(path)
                break
            count += self._load_item_file(path)
        self._after_damage()
        return rest

    def _load_item_file(self, path: Path) -> int:
        return len(self._adopt(_items_file(path)).docs())

    def _adopt(self, p: Partition, *, share: bool = False) -> Partition:
        """Take a read item file in (under the lock): registered, checked, indexed
        (``share``: see ItemIndex.add_many)."""
        p.ensure_loaded()
        self._items[p.path.stem] = p
        self._note_damage(p)
        self._index_loaded(p, share=share)
        if not self.readonly and isinstance(p.sig, str) and not item_keys.current(p.path, p.sig):
            self._keys_missing.add(p.path.stem)
        return p

    def _index_loaded(self, p: Partition, *, share: bool = False) -> None:
        self._ix.add_many(p.docs(), p, share=share)
        # 100k long-lived documents make every full garbage collection walk them
        # (a 30 ms pause, mid-keypress); frozen, the collector skips them.
        gc.freeze()

    def load_rest(self) -> None:
        """Read the item files a lazy open left out (at once, in this thread).

        The app calls it from a worker after its first paint; anything that needs
        every item calls it too, and waits if another thread is already at it."""
        if self.loaded.is_set():
            return
        with self._load_lock:
            if not self.loaded.is_set():
                self._load_rest(self._rest)
                self._rest = []
                self._rest_keys = None

    def _load_rest(self, paths: list[Path]) -> None:
        self._load_paths(paths)
        self.loaded.set()

    def _load_paths(self, paths: list[Path]) -> None:
        for path in paths:
            p = _items_file(path)
            p.ensure_loaded()  # parse outside the lock: readers keep going
            with self._mu:
                if path.stem in self._items:  # a refresh or sync got there first
                    continue
                # In the background (the app's loader) or for a refresh: documents
                # that stay in memory for hours share their strings (~15 MB at
                # 100k items, ~13% of this loader's time, kept off a command's open).
                self._adopt(p, share=True)
                self.version += 1
                self._text_version += 1
        with self._mu:
            self._after_damage()

    def load_for(self, sources: set[str], links: set[str]) -> None:
        """Read the item files a lazy open left out that may hold items seen through
        ``sources`` or items whose link key is in ``links``: what a refresh of
        those sources must know, so its cost follows what it brings, not the size
        of the store.  Files whose keys file is not current are read too (see
        store/keys.py: the keys are a hint, the item files the truth)."""
        if self.loaded.is_set():
            return
        if not self._by_keys:
            self.load_rest()  # the app's background loader is at it: 10 MB of keys saved
            return
        with self._load_lock:
            if self.loaded.is_set():
                return
            if self._rest_keys is None:
                self._rest_keys = item_keys.Unread(self._rest, file_sig)
            wanted = self._rest_keys.take(sources, links)
            try:
                self._load_paths([p for p in wanted if p.stem not in self._items])
            except BaseException:
                self._rest_keys.unknown.extend(wanted)  # offered again, read next time
                raise
            if all(stem in self._items for stem in self._rest_keys.stems):
                self._rest = []
                self._rest_keys = None
                self.loaded.set()

    def load_rest_now(self) -> None:
        """During opening (migrations): read every item file in this thread."""
        self._load_rest(self._rest)
        self._rest = []

    def items_partitions(self) -> list[Partition]:
        return list(self._items.values())

    def index_link(self, key: str, iid: str) -> None:
        self._ix.canon.setdefault(key, iid)

    def _doc(self, iid: str) -> dict[str, Any] | None:
        p = self._ix.where.get(iid)
        return p.get(iid) if p is not None else None

    def _all_partitions(self) -> list[Partition]:
        return [
            *self._content.values(),
            *self._items.values(),
            self.tomb_p,
            self.shares_p,
            self.drafts_p,
            self.undo_p,
            self.meta_p,
            self.rules_p,
            self.removed_p,
        ]

    # ----------------------------------------------------------------- flush
    def _touch(self) -> None:
        self.version += 1
        self._wake.set()

    def _flush_loop(self) -> None:
        failing = ""
        while not self._closed:
            self._wake.wait()
            if self._closed:
                break
            # Coalesce a burst of changes (a run of keypresses) into one write;
            # closing cuts the wait short (close flushes anyway).
            self._stop.wait(self.flush_delay)
            self._wake.clear()
            try:
                self.flush()
                failing = ""
            except Exception as exc:  # keep the thread alive; the data stays pending
                if str(exc) != failing:  # log each new trouble once, not every second
                    failing = str(exc)
                    log.exception("flushing the store failed; will retry")
                self._stop.wait(1.0)
                self._wake.set()

    @property
    def dirty(self) -> bool:
        with self._mu:
            return self.feeds_p.dirty or any(p.dirty for p in self._all_partitions())

    def flush(self) -> None:
        """Write every changed file now (merging with other processes' writes).

        One file at a time, taking the thread lock only to snapshot it, so a
        keypress waits for at most one small serialisation, never for the disk.

        Crash order: the feeds file (status, ETag, Last-Modified, body hash) is
        snapshotted *first* and written *last*: whatever it says was fetched is
        then already on disk in the item files, so a kill at any moment never
        leaves a feed that looks up to date with its items missing.

        Raises StoreWriteError when the disk refuses (full, read-only); what was
        not written stays pending and is tried again.

        A flush already under way (the flusher thread's) is waited for first: its
        changes are no longer pending but not on disk yet, so "nothing dirty" would
        let a caller about to exit (a closed terminal) lose them.
        """
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        if not self.dirty and not self._keys_missing:
            return
        try:
            with self._plock:
                feeds = self._snapshot(self.feeds_p)
                try:
                    with self._mu:
                        others = [p for p in self._all_partitions() if p.dirty]
                    self._write_each(others)
                    self._write_missing_keys()
                except BaseException:
                    if feeds is not None:
                        self._restore(self.feeds_p, feeds[1])
                    raise
                if feeds is not None:
                    self._write(self.feeds_p, *feeds)
        except OSError as exc:
            self.write_error = _disk_reason(exc, self.root)
            raise StoreWriteError(f"could not save changes: {self.write_error}") from None
        self.write_error = None

    def _write_each(self, parts: list[Partition]) -> None:
        """Write ``parts`` (item and content files) in batches of files written
        side by side (``write_atomic_many``: a first refresh of real feeds spans
        hundreds of days, ~420 files, whose fsyncs one after the other were the
        longest wait of the refresh).  A batch is bounded in files and bytes, so
        a whole-store rewrite never holds every file's JSON in memory at once."""
        batch: list[tuple[Partition, tuple[str, bytes], dict[str, Any]]] = []
        keys: list[tuple[Path, bytes]] = []
        size = 0
        for p in parts:
            if p.keeps_previous:  # the feeds file: its own way (see Partition.write)
                self._snapshot_and_write(p)
                continue
            snap = self._snapshot(p, keys)
            if snap is None:
                continue
            batch.append((p, *snap))
            size += len(snap[0][1])
            if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
                self._write_batch(batch, keys)
                batch, size, keys = [], 0, []
        self._write_batch(batch, keys)

    def _write_batch(
        self,
        batch: list[tuple[Partition, tuple[str, bytes], dict[str, Any]]],
        keys: list[tuple[Path, bytes]],
    ) -> None:
        """Write a batch of files, then the keys files of its item files (store/keys.py):
        a crash between the two leaves keys naming the old versions, not trusted."""
        if not batch:
            return
        try:
            write_atomic_many([(p.path, payload[1]) for p, payload, _ in batch])
        except BaseException:
            for p, _, done in batch:  # all kept for the next try (rewriting one is harmless)
                self._restore(p, done)
            raise
        for p, payload, _ in batch:
            p.written(payload[0])
        self._write_keys(keys)

    def _write_keys(self, files: list[tuple[Path, bytes]]) -> None:
        """Keys files, without fsync: one that a power cut leaves empty or torn is not
        trusted (store/keys.py), and they were a third of the files a first refresh
        synced (~210 item and ~210 content files of the corpus: ~630 instead of ~420)."""
        try:
            write_atomic_many(files, durable=False)
        except OSError:  # only a hint: those item files are read whole meanwhile
            log.warning("could not write the store's keys files", exc_info=True)

    def _snapshot_and_write(self, p: Partition) -> None:
        snap = self._snapshot(p)
        if snap is not None:
            self._write(p, *snap)

    def _snapshot(
        self, p: Partition, keys: list[tuple[Path, bytes]] | None = None
    ) -> tuple[tuple[str, bytes], dict[str, Any]] | None:
        """Serialise ``p`` for writing; for an item file, also its keys file (into
        ``keys``), under the same hold of the lock so both describe one version."""
        with self._mu:
            if not p.dirty:
                return None
            if p.changed_on_disk():
                p.reload()
                self._reindex_partition(p)
            payload, done = p.serialize(), p.pending
            p.pending = {}
            if keys is not None and p.table_name == "items" and self._items.get(p.path.stem) is p:
                keys.append(self._keys_file(p, payload[0]))
            return payload, done

    def _keys_file(self, p: Partition, token: str) -> tuple[Path, bytes]:
        """The keys file of item file ``p`` at version ``token`` (under the lock).
        Summaries are kept for a few files, so a run of keypresses on one day's
        items does not summarise its 2,000 links at every flush."""
        self._keys_missing.discard(p.path.stem)
        cached = self._summaries.pop(p.path.stem, None)
        if cached is None or cached[0] is not p or cached[1] != p.keys_version:
            cached = (p, p.keys_version, item_keys.body(item_keys.summarize(p.docs().values())))
        self._summaries[p.path.stem] = cached
        while len(self._summaries) > KEPT_SUMMARIES:
            del self._summaries[next(iter(self._summaries))]
        return item_keys.keys_path(p.path), item_keys.dump(token, cached[2])

    def _write_missing_keys(self) -> None:
        """Keys files for item files read whole because theirs was not current (a
        store written before keys files, a crash between two renames), once."""
        with self._mu:
            files = []
            for stem in list(self._keys_missing):
                p = self._items.get(stem)
                # (a dirty file gets its keys when it is written)
                if p is not None and not p.dirty and isinstance(p.sig, str):
                    files.append(self._keys_file(p, p.sig))
            self._keys_missing.clear()
        self._write_keys(files)

    def _write(self, p: Partition, payload: tuple[str, bytes], done: dict[str, Any]) -> None:
        try:
            p.write(payload)
        except BaseException:
            self._restore(p, done)
            raise

    def _restore(self, p: Partition, done: dict[str, Any]) -> None:
        with self._mu:  # keep what was not written for the next try
            done.update(p.pending)
            p.pending = done

    def sync(self) -> bool:
        """Pick up what other processes wrote; True when anything changed."""
        changed = False
        with self._mu:
            known = set(self._items) | {path.stem for path in self._rest}
            for path in (self.root / "items").glob("*.json"):
                if path.stem not in known:
                    self._items_partition(path.stem)  # read and indexed
                    changed = True
            for p in [*self._all_partitions(), self.feeds_p]:
                if p.changed_on_disk():
                    p.reload()
                    self._reindex_partition(p)
                    changed = True
            if changed:
                self._feeds_changed()
                self.version += 1
                self._text_version += 1
        if changed and self.dirty and not self.readonly:
            try:
                self.flush()  # our pending changes were merged in: write them
            except StoreWriteError:
                log.warning("could not write merged changes: %s", self.write_error)
        return changed

    def _reindex_partition(self, p: Partition) -> None:
        if p is self.feeds_p:
            self._feeds_changed()
            self._refresh_mutes()
            return
        if p is self.rules_p:
            self._rules_changed()
            return
        if p.table_name != "items" or self._items.get(p.path.stem) is not p:
            return
        docs = p.docs()
        self._ix.forget_partition(p, docs)
        for iid, d in docs.items():
            self._ix.add(iid, d, p)
        self._ix.order = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)
        atexit.unregister(self._close_at_exit)
        self.flush()

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except Exception:  # at exit there is no one left to tell but the log
            log.exception("the store could not be saved at exit")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- feeds
    def _feeds_changed(self) -> None:
        self._feeds_version += 1
        self._url_ix = None

    def feeds(self) -> list[Feed]:
        """Every subscription, by name (a cached list of frozen records)."""
        with self._mu:
            cached = self._feeds_cache
            if cached is None or cached[0] != self._feeds_version:
                feeds = [Feed.from_doc(d) for d in self.feeds_p.docs().values()]
                feeds.sort(key=lambda f: natural_key(f.name))
                cached = self._feeds_cache = (self._feeds_version, feeds)
            return list(cached[1])

    def get_feed(self, feed_id: str) -> Feed | None:
        with self._mu:
            d = self.feeds_p.get(feed_id)
            return Feed.from_doc(d) if d is not None else None

    def _url_index(self) -> dict[str, str]:
        if self._url_ix is None:
            ix: dict[str, str] = {}
            for fid, d in self.feeds_p.docs().items():
                for u in (d["url"], *(d.get("old_urls") or ())):
                    ix.setdefault(url_key(u), fid)
            self._url_ix = ix
        return self._url_ix

    def find_feed(self, url_or_id: str) -> Feed | None:
        """A feed by id, by URL (ignoring scheme and a trailing slash) or an old URL."""
        with self._mu:
            docs = self.feeds_p.docs()
            if url_or_id in docs:
                return Feed.from_doc(docs[url_or_id])
            fid = self._url_index().get(url_key(url_or_id))
            return Feed.from_doc(docs[fid]) if fid in docs else None

    def add_feed(
        self,
        url: str,
        *,
        kind: str = "feed",
        title: str = "",
        tags: Iterable[str] = (),
        site_url: str = "",
        account: str = "",
    ) -> tuple[Feed, bool]:
        """Subscribe; returns (feed, created).  An existing URL is left as it is."""
        with self._mu:
            existing = self.find_feed(url)
            if existing is not None:
                return existing, False
            docs = self.feeds_p.docs()
            fid = new_feed_id()
            while fid in docs:
                fid = new_feed_id()
            feed = Feed(
                id=fid,
                url=url,
                kind=kind,
                title=title,
                user_title=bool(title),
                site_url=site_url,
                tags=tuple(sorted(set(tags))),
                added=iso(now()),
                account=account,
                message="not fetched yet",
            )
            self.feeds_p.put(fid, feed.to_doc())
            if self._url_ix is not None:
                self._url_ix.setdefault(url_key(url), fid)
            self._feeds_version += 1
            if self._ix.muted_tags:
                self._refresh_mutes()
            self._touch()
            return feed, True

    def add_feeds(self, feeds: Iterable[tuple[Any, ...]]) -> tuple[int, int]:
        """Subscribe many (url, title, tags, site_url[, folder]) at once; (added,
        already there).  ``folder`` is the path of OPML folders the feed sat in
        (("Blogs", "Apple")), so an export can nest it the same way.

        One table update for the whole batch: an OPML file of 50,000 outlines
        must not cost 50,000 rewrites of a growing table."""
        added = known = 0
        with self._mu:
            ix = self._url_index()
            docs = self.feeds_p.docs()
            batch: dict[str, dict[str, Any]] = {}
            stamp = iso(now())
            for url, title, tags, site, *rest in feeds:
                key = url_key(url)
                if key in ix:
                    known += 1
                    continue
                fid = new_feed_id()
                while fid in docs or fid in batch:
                    fid = new_feed_id()
                feed = Feed(
                    id=fid,
                    url=url,
                    title=title,
                    user_title=bool(title),
                    site_url=site,
                    tags=tuple(sorted(set(tags))),
                    folder=tuple(rest[0]) if rest and rest[0] else (),
                    added=stamp,
                    message="not fetched yet",
                )
                batch[fid] = feed.to_doc()
                ix[key] = fid
                added += 1
            if batch:
                self.feeds_p.put_many(batch)
                self._feeds_version += 1
                if self._ix.muted_tags:
                    self._refresh_mutes()
                self._touch()
        return added, known

    def update_feed(self, feed_id: str, **changes: Any) -> Feed:
        """Change a feed's fields (names of ``Feed``'s fields); returns the new record."""
        bad = set(changes) - FEED_FIELDS
        if bad:
            raise StoreError(f"not a feed field: {', '.join(sorted(bad))}")
        fields_ = {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()}
        if "cursor" in fields_ and fields_["cursor"] is not None:
            fields_["cursor"] = dict(fields_["cursor"])
        with self._mu:
            if not self.feeds_p.patch(feed_id, fields_):
                raise StoreError(f"no feed with id {feed_id}")
            if {"title", "url", "old_urls"} & set(changes):
                self._text_version += 1
            self._feeds_changed()
            if {"muted", "tags"} & set(changes):
                self._refresh_mutes()  # muting a feed (or tagging it muted) hides its items
            self._touch()
            d = self.feeds_p.get(feed_id)
            assert d is not None
            return Feed.from_doc(d)

    def remove_feed(self, feed_id: str) -> int:
        """Unsubscribe and drop its items, except starred or shared ones (kept
        forever) and ones also seen through another source.

        The feed (settings, tags, folder) and its dropped items' light documents
        (read state, tags) are kept in ``removed.json`` for REMOVED_KEEP_DAYS, so
        :meth:`restore_feed` can undo it."""
        self.load_rest()
        with self._mu:
            doc = self.feeds_p.get(feed_id)
            if doc is None:
                raise StoreError(f"no feed with id {feed_id}")
            doomed = []
            for iid in list(self._ix.by_feed.get(feed_id, ())):
                d = self._doc(iid)
                if d is None or d.get("starred") or d.get("shared"):
                    continue
                if len(doc_sources(d)) > 1:
                    continue
                doomed.append(iid)
            kept = {iid: dict(d) for iid in doomed if (d := self._doc(iid)) is not None}
            self._prune_removed()
            self.removed_p.put(feed_id, {"feed": dict(doc), "at": iso(now()), "items": kept})
            self._delete_items(doomed)
            self.feeds_p.delete([feed_id])
            self._feeds_changed()
            self._refresh_mutes()
            self._touch()
            return len(doomed)

    def _prune_removed(self) -> None:
        cutoff = iso(now() - timedelta(days=REMOVED_KEEP_DAYS)) or ""
        docs = self.removed_p.docs()
        old = [fid for fid, d in docs.items() if str(d.get("at") or "") < cutoff]
        newest = sorted(docs, key=lambda f: str(docs[f].get("at") or ""), reverse=True)
        old += [f for f in newest[REMOVED_KEEP:] if f not in old]
        if old:
            self.removed_p.delete(old)

    def removed_feeds(self) -> list[tuple[Feed, str, int]]:
        """Unsubscribed feeds that can still be restored: (feed, when, items), newest first."""
        with self._mu:
            docs = self.removed_p.docs()
            out = [
                (Feed.from_doc(d["feed"]), str(d.get("at") or ""), len(d.get("items") or ()))
                for d in docs.values()
            ]
        return sorted(out, key=lambda t: t[1], reverse=True)

    def restore_feed(self, feed_id: str) -> tuple[Feed, int]:
        """Subscribe again to a removed feed, with its id, settings and tags, and its
        dropped items with their read state; (feed, items restored).

        Items keep their ids (a hash of feed id and entry key), so the next poll
        matches them instead of adding duplicates.  Their bodies were dropped:
        the feed's validators are cleared and the items forget their content
        hash, so that poll fetches the feed in full and puts the bodies back."""
        self.load_rest()
        with self._mu:
            entry = self.removed_p.get(feed_id)
            if entry is None:
                raise StoreError(f"no removed feed with id {feed_id}")
            doc = dict(entry["feed"])
            again = self.find_feed(doc["url"])
            if again is not None:
                raise StoreError(
                    f"{doc['url']} is subscribed again (id {again.id}); "
                    f"remove that one first to restore the old one"
                )
            if self.feeds_p.get(feed_id) is not None:
                raise StoreError(f"a feed with id {feed_id} exists")
            doc.update(etag=None, last_modified=None, body_hash=None, next_poll=None)
            self.feeds_p.put(feed_id, doc)
            items: dict[str, dict[str, Any]] = {}
            for iid, d in (entry.get("items") or {}).items():
                if iid in self._ix.where:
                    continue
                d = dict(d)
                d.pop("chash", None)
                items[iid] = d
                self.tomb_p.delete([iid])
            self._insert(items, {}, iso(now()) or "")
            self.removed_p.delete([feed_id])
            self._ix.order = None
            self._text_version += 1
            self._feeds_changed()
            self._refresh_mutes()
            self._touch()
            return Feed.from_doc(doc), len(items)

    # ----------------------------------------------------------------- items
    def __len__(self) -> int:
        return len(self._ix.where)

    def get_item(self, iid: str) -> Item | None:
        with self._mu:
            d = self._doc(iid)
            return Item.from_doc(d) if d is not None else None

    def get_items(self, ids: Iterable[str]) -> Iterator[Item]:
        """Records of ``ids`` (unknown ones skipped), taking the lock once per
        batch: `veille items --json` reads 100,000 of them."""
        return self.read_items(ids, Item.from_doc)

    def read_items(self, ids: Iterable[str], read: Callable[[Mapping[str, Any]], T]) -> Iterator[T]:
        """``read(document)`` for each of ``ids``, as get_items: ``read`` is
        Item.from_doc or an ItemReader of domain/records.py (which know the stored
        keys), for a caller that wants a few fields of many items without Items."""
        batch: list[str] = []
        for iid in ids:
            batch.append(iid)
            if len(batch) >= 512:
                yield from self._read_batch(batch, read)
                batch = []
        yield from self._read_batch(batch, read)

    def _read_batch(self, ids: list[str], read: Callable[[Mapping[str, Any]], T]) -> list[T]:
        """Read under the lock: documents change in place (a first star adds a key),
        and a record built while another thread does that raised "dictionary
        changed size during iteration" (a view built in a thread while keys are
        pressed).  A batch of 512 holds the lock ~2 ms."""
        where = self._ix.where
        with self._mu:
            docs = [p.docs().get(i) for i in ids if (p := where.get(i)) is not None]
            return [read(d) for d in docs if d is not None]

    def item_count(self, feed_id: str) -> int:
        return len(self._ix.by_feed.get(feed_id, ()))

    @property
    def data_dir(self) -> Path:
        """``<data>``, the folder the store lives in (``<data>/store``), where the
        shares' files (the Atom feed, the digest) go too."""
        return self.root.parent

    def resolve_id(self, prefix: str) -> str:
        """Full item id from an id or a unique prefix (at least 4 characters).

        A whole id already loaded needs no wait for the older months (the app's
        composer asks for the item it shows while they load)."""
        with self._mu:
            if prefix in self._ix.where:
                return prefix
        self.load_rest()
        with self._mu:
            if prefix in self._ix.where:
                return prefix
            if len(prefix) < 4:
                raise StoreError(
                    f"unknown item id '{prefix}' (a prefix needs at least 4 characters)"
                )
            hits = [i for i in self._ix.where if i.startswith(prefix)]
        if not hits:
            raise StoreError(f"unknown item id '{prefix}'")
        if len(hits) > 1:
            raise StoreError(f"item id '{prefix}' is ambiguous ({len(hits)} items)")
        return hits[0]

    def get_content(self, iid: str) -> Content:
        """The item's body (html or text, its base URL, enclosures, a fetched article)."""
        with self._mu:
            p = self._ix.where.get(iid)
            if p is None:
                return Content()
            return Content.from_doc(self._content_partition(p.path.stem).get(iid))

    def get_article(self, iid: str) -> tuple[str, str] | None:
        """The cached full article of an item as (html, url), or None if never fetched."""
        content = self.get_content(iid)
        return (content.article, content.article_url) if content.article else None

    def save_article(self, iid: str, html: str, url: str) -> None:
        """Keep the full article fetched from the item's page beside its body."""
        with self._mu:
            p = self._ix.where.get(iid)
            if p is None:
                raise StoreError(f"unknown item id '{iid}'")
            cp = self._content_partition(p.path.stem)
            if not cp.patch(iid, {"article": html, "article_url": url}):
                cp.put(iid, {"html": "", "type": "html", "article": html, "article_url": url})
            self._touch()

    def ordered_ids(self) -> list[str]:
        """All item ids, newest first (cached until items are added or removed)."""
        with self._mu:
            return self._ix.ordered(self._items.values())

    def ids(
        self,
        flt: ItemFilter = EVERYTHING,
        *,
        keep: frozenset[str] | set[str] = frozenset(),
        stop: Any = None,
    ) -> Iterator[str]:
        """Ids of the items passing ``flt``, newest first, lazily: a view can stop
        after a screenful.  ``keep`` and ``stop``: see ItemIndex.select."""
        with self._mu:
            order = self._ix.ordered(self._items.values())
            tag = flt.tag
            tagged = {f for f, d in self.feeds_p.docs().items() if tag and tag in d.get("tags", ())}
            drafts = set(self.drafts_p.docs()) if flt.drafts is not None else None
            conditions = self._ix.set_conditions(flt, drafts)
        matched = self.search_ids(flt.search) if flt.search else None
        return self._ix.select(
            flt,
            order,
            self._doc,
            tagged_feeds=tagged,
            matched=matched,
            keep=keep,
            stop=stop,
            conditions=conditions,
        )

    def items(self, flt: ItemFilter = EVERYTHING, *, limit: int | None = None) -> list[Item]:
        ids = self.ids(flt)
        if limit is not None:
            ids = itertools.islice(ids, limit)
        return list(self.get_items(ids))

    def count(self, flt: ItemFilter = EVERYTHING) -> int:
        """Items passing ``flt``: set algebra when the filter allows (Unread,
        Starred, Drafts... in microseconds), else a walk of the index."""
        with self._mu:
            drafts = set(self.drafts_p.docs()) if flt.drafts is not None else None
            n = self._ix.count_sets(flt, drafts)
        if n is not None:
            return n
        return sum(1 for _ in self.view_ids(flt))

    def totals(self) -> tuple[int, int]:
        """(unread and not dismissed, total) over the items not muted; O(1) plus
        the muted items, which are few."""
        with self._mu:
            muted = self._ix.muted
            unread = len(self._ix.unread) - len(self._ix.unread & muted) if muted else None
            return (
                len(self._ix.unread) if unread is None else unread,
                len(self._ix.where) - len(muted),
            )

    def counts(self) -> dict[str, tuple[int, int]]:
        """feed id -> (items, unread and not dismissed), muted items left out
        (a muted feed counts (0, 0))."""
        with self._mu:
            unread = self._ix.unread
            muted = self._ix.muted
            if muted:
                unread = unread - muted
            out: dict[str, tuple[int, int]] = {}
            for fid, ids in self._ix.by_feed.items():
                if not ids:
                    continue
                n = len(ids) - (len(ids & muted) if muted else 0)
                out[fid] = (n, len(ids & unread))
            return out

    def all_tags(self) -> list[str]:
        """Tags of feeds and of items, sorted."""
        with self._mu:
            tags: set[str] = set()
            for d in self.feeds_p.docs().values():
                tags.update(d.get("tags") or ())
            for iid in self._ix.tagged:
                item = self._doc(iid)
                if item:
                    tags.update(item.get("tags") or ())
        return sorted(tags)

    def set_state(self, ids: Iterable[str], **changes: Any) -> int:
        """Change read/starred/hidden/tags/shared of items: memory now, disk within
        ``flush_delay``.  Marking an item unread brings a dismissed one back."""
        bad = set(changes) - STATE_KEYS
        if bad:
            raise StoreError(f"not a state field: {', '.join(sorted(bad))}")
        fields_ = {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()}
        if "read" in fields_:
            fields_["read_at"] = iso(now()) if fields_["read"] else None
            if not fields_["read"]:
                fields_.setdefault("hidden", False)
        n = 0
        with self._mu:
            for iid in ids:
                p = self._ix.where.get(iid)
                if p is None:
                    raise StoreError(f"unknown item id '{iid}'")
                p.patch(iid, fields_)
                self._ix.restate(iid, p.get(iid) or {})
                n += 1
            if n:
                self._touch()
        return n

    # ---------------------------------------------------------------- search
    def _search_index(self) -> tuple[int, str, array[int], list[str]]:
        """All searchable text casefolded into one string, rebuilt when text changes.

        A search is then one C-speed ``str.find`` pass (~10 ms at 100k items)
        instead of a Python loop over every item (~150 ms)."""
        with self._mu:
            cached = self._search
            if cached is not None and cached[0] == self._text_version:
                return cached
            version = self._text_version
            titles = {f: (d.get("title") or d["url"]) for f, d in self.feeds_p.docs().items()}
            ids: list[str] = []
            texts: list[str] = []
            for iid, p in self._ix.where.items():
                d = p.get(iid)
                if d is None:
                    continue
                ids.append(iid)
                extra = ""
                for s in d.get("sightings") or ():
                    extra += f"\x1f{s.get('handle', '')}\x1f{s.get('text', '')}"
                texts.append(
                    f"{d.get('title', '')}\x1f{d.get('author', '')}\x1f{d.get('summary', '')}"
                    f"\x1f{d.get('comment', '')}\x1f{titles.get(d['feed'], '')}{extra}"
                )
        # Casefolded one by one, in place (not the joined string): the texts and the
        # index are all that is held at once (at 100k items 24 MB more at the peak,
        # not 32), and the lengths are the casefolded ones (ß -> ss) without a recount.
        starts = array("q", [0])  # 8 bytes an offset; a list of ints costs 36
        end = 0
        for i, t in enumerate(texts):
            texts[i] = t = t.casefold()
            end += len(t) + 1
            starts.append(end)
        big = "\x00".join(texts)
        index = (version, big, starts, ids)
        with self._mu:
            if self._text_version == version:
                self._search = index
        return index

    def search_ids(self, text: str) -> set[str]:
        """Ids of items whose title, author, summary, your share comment, source or
        sharers' words contain ``text``, ignoring case."""
        needle = text.casefold()
        if not needle or "\x00" in needle or "\x1f" in needle:
            return set(self._ix.where) if not needle else set()
        _, big, starts, ids = self._search_index()
        found: set[str] = set()
        pos = big.find(needle)
        while pos != -1:
            i = bisect_right(starts, pos) - 1
            found.add(ids[i])
            pos = big.find(needle, starts[i + 1])
        return found

    # ---------------------------------------------------------------- shares
    def put_share(self, share: Share, *, durable: bool = True) -> None:
        """Save a share; ``durable`` writes it before returning, because a share
        must be on disk before any network call is made for it."""
        with self._mu:
            doc = share.to_dict()
            stored = self.shares_p.get(share.id)
            if stored and stored.get("responses"):
                # A refresh may have attached responses since this copy was taken
                # (the outbox holds one across a network call): keep them.
                doc["responses"] = _merged_responses(stored["responses"], doc["responses"])
            self.shares_p.put(share.id, doc)
            iid = share.item_id
            p = self._ix.where.get(iid) if iid else None
            if p is not None:
                p.patch(iid, {"shared": True, "comment": share.comment})
                self._ix.restate(iid, p.get(iid) or {})
            self._text_version += 1
            self._touch()
        if durable:
            self.flush()

    def attach_responses(self, responses: Mapping[str, Iterable[ShareResponse]]) -> int:
        """Add replies, likes, reposts and quotes to shares (share id -> responses);
        each once (by ``key``), however many polls bring it.  Returns how many were new.

        Only the ``responses`` field of a share is changed, so a delivery being
        sent meanwhile keeps its own state."""
        added = 0
        with self._mu:
            for share_id, new in responses.items():
                doc = self.shares_p.get(share_id)
                if doc is None:
                    continue
                old = list(doc.get("responses") or ())
                merged = _merged_responses(old, [r.to_dict() for r in new])
                if len(merged) > len(old):
                    added += len(merged) - len(old)
                    self.shares_p.patch(share_id, {"responses": merged})
            if added:
                self._touch()
        return added

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

    # ---------------------------------------------------------------- drafts
    def save_draft(self, draft: Draft, *, durable: bool = True) -> None:
        """Autosave a draft; ``durable`` writes it to disk before returning."""
        with self._mu:
            self.drafts_p.put(draft.item_id, draft.to_doc())
            self._touch()
        if durable:
            self.flush()

    def get_draft(self, item_id: str) -> Draft | None:
        with self._mu:
            d = self.drafts_p.get(item_id)
            return Draft.from_doc(d) if d is not None else None

    def delete_draft(self, item_id: str) -> None:
        with self._mu:
            if self.drafts_p.delete([item_id]):
                self._touch()

    # ------------------------------------------------------------------ undo
    def push_undo(self, label: str, before: Mapping[str, Mapping[str, Any]]) -> None:
        """Remember items' state fields before a change, so ``u`` can put them back,
        also after a restart (the last UNDO_DEPTH changes are kept)."""
        with self._mu:
            docs = self.undo_p.docs()
            seq = max((int(k) for k in docs), default=0) + 1
            state = {iid: {k: list(v) if isinstance(v, tuple) else v for k, v in f.items()}
                     for iid, f in before.items()}  # fmt: skip
            self.undo_p.put(f"{seq:012d}", {"label": label, "at": iso(now()), "before": state})
            extra = sorted(docs)[:-UNDO_DEPTH]
            if extra:
                self.undo_p.delete(extra)
            self._touch()

    def pop_undo(self) -> tuple[str, dict[str, dict[str, Any]]] | None:
        """Take back the newest change: (label, state before) — None when nothing is left."""
        with self._mu:
            docs = self.undo_p.docs()
            if not docs:
                return None
            key = max(docs)
            entry = docs[key]
            self.undo_p.delete([key])
            self._touch()
            return str(entry.get("label") or "change"), dict(entry.get("before") or {})

    # ----------------------------------------------------------- maintenance
    def maintenance_due(self, task: str, *, hours: float) -> bool:
        """Whether a periodic task (a full retention pass) last ran over ``hours`` ago."""
        with self._mu:
            last = parse_iso((self.meta_p.get(f"done:{task}") or {}).get("at"))
        return last is None or now() - last > timedelta(hours=hours)

    def maintenance_done(self, task: str) -> None:
        with self._mu:
            self.meta_p.put(f"done:{task}", {"at": iso(now())})
            self._touch()

    @property
    def undo_depth(self) -> int:
        return len(self.undo_p.docs())

    def view_ids(
        self,
        flt: ItemFilter,
        *,
        keep: frozenset[str] | set[str] = frozenset(),
        stop: Any = None,
    ) -> Iterator[str]:
        """Like :meth:`ids`, but a selective view (starred, shared, a feed, shared
        by N accounts) starts from its few candidates put in order, instead of
        testing every item: the app's Starred view or one feed at 100k items opens
        in milliseconds."""
        with self._mu:
            total = len(self._ix.where)
            cands: set[str] | None = None
            if flt.starred:
                cands = self._ix.starred
            if flt.shared and (cands is None or len(self._ix.shared) < len(cands)):
                cands = self._ix.shared
            if flt.feed_ids is not None:
                in_feeds = set().union(*(self._ix.by_feed.get(f, set()) for f in flt.feed_ids))
                if cands is None or len(in_feeds) < len(cands):
                    cands = in_feeds
            if flt.min_sharers and (cands is None or len(self._ix.social) < len(cands)):
                cands = self._ix.social  # only an item with sightings has sharers
            if cands is None or len(cands) > total // 8:
                return self.ids(flt, keep=keep, stop=stop)
            # The order of ordered(): newest first, ties as the index holds them
            # (a stable sort of the index's order), without a rank of every item.
            wanted = set(cands) | set(keep)
            docs = [d for iid in self._ix.where if iid in wanted and (d := self._doc(iid))]
            docs.sort(key=sort_key, reverse=True)
            subset = [d["id"] for d in docs]
            tag = flt.tag
            tagged = {f for f, d in self.feeds_p.docs().items() if tag and tag in d.get("tags", ())}
        matched = self.search_ids(flt.search) if flt.search else None
        return self._ix.select(
            flt, subset, self._doc, tagged_feeds=tagged, matched=matched, keep=keep, stop=stop
        )


def _items_file(path: Path) -> Partition:
    return Partition(path, "items", order_by="sort", key_fields=item_keys.KEY_FIELDS)


def _merged_responses(old: Iterable[Any], new: Iterable[Any]) -> list[dict[str, Any]]:
    """``old`` then the ones of ``new`` whose key is not there yet, oldest first."""
    out = [r for r in old if isinstance(r, dict)]
    seen = {r.get("key") for r in out}
    for r in new:
        if isinstance(r, dict) and r.get("key") and r["key"] not in seen:
            seen.add(r["key"])
            out.append(r)
    return out


def _disk_reason(exc: OSError, root: Path) -> str:
    """One line for a failed write: what the disk said, and where."""
    what = exc.strerror or type(exc).__name__
    return f"{what} ({root})"
