"""Refresh: fetch due feeds concurrently, parse changed bodies off the event loop,
store the entries, and schedule each feed's next poll.

Modelled on lemon24/reader's update loop: retrieve -> parse -> decide -> store,
one result per feed so a progress bar can follow.  A failing feed never stops
the others: every problem becomes a one-line message on that feed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from veille.config import Config
from veille.domain.entries import ParsedFeed
from veille.net.fetcher import Fetcher, FetchRequest, FetchResult
from veille.refresh.schedule import backoff_until, next_poll
from veille.sources.feed.parse import parse_feed
from veille.store.ids import entry_hash
from veille.store.store import Store
from veille.util.dates import iso, now, parse_iso

# Below this many bodies to parse, a process pool costs more than it saves.
POOL_THRESHOLD = 4
MAX_PARSE_ERRORS = 5  # then the feed waits for a manual refresh


@dataclass
class Progress:
    done: int
    total: int
    new_items: int
    errors: int
    feed_title: str = ""


@dataclass
class FeedOutcome:
    feed_id: str
    url: str
    status: str  # ok | not_modified | unchanged | error | gone | throttled
    new: int = 0
    updated: int = 0
    message: str = ""


@dataclass
class Summary:
    feeds: int = 0
    fetched: int = 0  # feeds that answered (including 304)
    new_items: int = 0
    updated_items: int = 0
    errors: int = 0
    not_modified: int = 0
    held_back: int = 0
    outcomes: list[FeedOutcome] = field(default_factory=list)

    def line(self) -> str:
        parts = [f"{self.feeds} feed{'s' if self.feeds != 1 else ''} polled"]
        parts.append(f"{self.new_items} new item{'s' if self.new_items != 1 else ''}")
        if self.updated_items:
            parts.append(f"{self.updated_items} updated")
        if self.not_modified:
            parts.append(f"{self.not_modified} unchanged")
        if self.errors:
            parts.append(
                f"{self.errors} error{'s' if self.errors != 1 else ''} (see `veille feeds`)"
            )
        if self.held_back:
            parts.append(f"{self.held_back} held back")
        return ", ".join(parts)


def select_feeds(
    store: Store,
    *,
    feed_ids: Iterable[str] | None = None,
    due_only: bool = False,
    when: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Feeds to poll now, and how many were held back (server's wish, back-off, 410)."""
    when = when or now()
    named = set(feed_ids) if feed_ids is not None else None
    chosen: list[dict[str, Any]] = []
    held = 0
    for f in store.feeds():
        if named is not None:
            if f["id"] not in named:
                continue
            # A named feed is a manual refresh: it skips back-off and 410, but a
            # server's explicit Retry-After is still honoured.
            hold = parse_iso(f.get("retry_until"))
            if hold and hold > when:
                held += 1
                continue
            chosen.append(f)
            continue
        if f.get("disabled"):
            held += 1
            continue
        hold = parse_iso(f.get("retry_until"))
        nxt = parse_iso(f.get("next_poll"))
        if hold and hold > when:
            held += 1
            continue
        if f.get("errors") and nxt and nxt > when:  # backing off
            held += 1
            continue
        if due_only and nxt and nxt > when:
            continue
        chosen.append(f)
    return chosen, held


def fetcher_for(config: Config) -> Fetcher:
    """A Fetcher with the limits and time-outs of ``[fetch]`` in config.toml."""
    return Fetcher(
        concurrency=config["fetch.concurrency"],
        per_host=config["fetch.per_host"],
        connect_timeout=config["fetch.connect_timeout"],
        read_timeout=config["fetch.read_timeout"],
        total_timeout=config["fetch.total_timeout"],
        max_body=int(config["fetch.max_body_mb"] * 2**20),
    )


def parse_and_hash(body: bytes, url: str, headers: dict[str, str]) -> ParsedFeed:
    """parse_feed plus the entries' content hashes, computed in the worker."""
    parsed = parse_feed(body, url, headers)
    for e in parsed.entries:
        e.content_hash = entry_hash(e)
    return parsed


def _warm() -> None:
    """Runs once in each worker so they start while the first bodies download."""


def fork_pool(workers: int) -> Executor:
    """Parser processes forked from a caller that has no other thread yet.

    The CLI calls this before it opens the store (whose flusher is a thread):
    forking is then safe, and ~0.3 s faster than a forkserver, whose fresh
    interpreter must import feedparser before the first body can be parsed.
    """
    import feedparser  # noqa: F401  - imported once here, inherited by the workers

    if threading.active_count() > 1:  # not safe to fork: fall back
        return _pool(POOL_THRESHOLD, workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    for _ in range(workers):
        pool.submit(_warm)
    return pool


def _pool(n_feeds: int, workers: int) -> Executor:
    if n_feeds < POOL_THRESHOLD:
        return ThreadPoolExecutor(max_workers=1)
    # forkserver: the caller (TUI, store flusher) has threads, and forking a
    # threaded process can deadlock the child; the server preloads the parser.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["veille.sources.feed.parse", "feedparser"])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    for _ in range(workers):
        pool.submit(_warm)
    return pool


async def refresh_feeds(
    store: Store,
    config: Config,
    *,
    feed_ids: list[str] | None = None,
    due_only: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    executor: Executor | None = None,
) -> Summary:
    """Poll feeds (all not held back, the named ones, or the due ones).

    ``executor``: parser processes the caller made (see :func:`fork_pool`); it
    stays the caller's to shut down.  Without one, a pool is made when enough
    feeds are polled to pay for it."""
    own_executor = executor is None
    feeds, held = select_feeds(store, feed_ids=feed_ids, due_only=due_only)
    summary = Summary(feeds=len(feeds), held_back=held)
    if not feeds:
        return summary
    workers = config["fetch.workers"] or (os.cpu_count() or 1)
    loop = asyncio.get_running_loop()
    progress = Progress(0, len(feeds), 0, 0)

    if executor is None and len(feeds) >= POOL_THRESHOLD:
        executor = _pool(len(feeds), workers)

    async def parse(result: FetchResult) -> ParsedFeed:
        nonlocal executor
        if executor is None:
            executor = _pool(len(feeds), workers)
        headers = dict(result.headers)
        return await loop.run_in_executor(
            executor, parse_and_hash, result.body or b"", result.final_url, headers
        )

    fetcher = fetcher_for(config)
    try:
        async with fetcher:

            async def one(feed: dict[str, Any]) -> FeedOutcome:
                try:
                    return await _refresh_one(store, config, fetcher, feed, parse)
                except Exception as exc:  # a bug must not stop the other feeds
                    msg = f"internal error: {type(exc).__name__}: {exc}"
                    _record_error(store, config, feed, msg.splitlines()[0])
                    return FeedOutcome(feed["id"], feed["url"], "error", message=msg)

            tasks = [asyncio.create_task(one(f)) for f in feeds]
            for fut in asyncio.as_completed(tasks):
                out = await fut
                summary.outcomes.append(out)
                summary.new_items += out.new
                summary.updated_items += out.updated
                if out.status in ("error", "gone", "throttled"):
                    summary.errors += 1
                else:
                    summary.fetched += 1
                if out.status in ("not_modified", "unchanged"):
                    summary.not_modified += 1
                progress.done += 1
                progress.new_items = summary.new_items
                progress.errors = summary.errors
                done_feed = store.get_feed(out.feed_id) or {}
                progress.feed_title = done_feed.get("title") or out.url
                if on_progress is not None:
                    on_progress(progress)
    finally:
        if executor is not None and own_executor:
            executor.shutdown(wait=True, cancel_futures=True)
    store.apply_retention(keep_days=config["keep_days"], max_per_feed=config["max_items_per_feed"])
    return summary


def _interval(config: Config, feed: dict[str, Any]) -> float:
    if feed.get("interval"):
        return float(feed["interval"])
    return config.interval_minutes(feed["url"], feed.get("tags", []))


def _record_error(
    store: Store,
    config: Config,
    feed: dict[str, Any],
    message: str,
    *,
    retry_after: float | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    t = now()
    errors = int(feed.get("errors") or 0) + 1
    nxt = backoff_until(
        t,
        errors,
        _interval(config, feed),
        retry_after=retry_after,
        cap_hours=config["fetch.max_backoff_hours"],
    )
    fields: dict[str, Any] = {
        "last_fetch": iso(t),
        "status": "error",
        "message": message,
        "errors": errors,
        "next_poll": iso(nxt),
    }
    if retry_after:
        fields["retry_until"] = iso(t + timedelta(seconds=min(retry_after, 7 * 86400)))
    if extra:
        fields.update(extra)
    store.update_feed(feed["id"], **fields)


async def _refresh_one(
    store: Store,
    config: Config,
    fetcher: Fetcher,
    feed: dict[str, Any],
    parse: Callable[[FetchResult], Any],
) -> FeedOutcome:
    fid, url = feed["id"], feed["url"]
    res = await fetcher.fetch(
        FetchRequest(
            url=url,
            etag=feed.get("etag"),
            last_modified=feed.get("last_modified"),
            body_hash=feed.get("body_hash"),
        )
    )
    t = now()
    if res.gone:
        msg = res.error or "HTTP 410 Gone"
        store.update_feed(
            fid, last_fetch=iso(t), status="gone", message=msg, disabled=msg, next_poll=None
        )
        return FeedOutcome(fid, url, "gone", message=msg)
    if res.error:
        _record_error(store, config, feed, res.error, retry_after=res.retry_after)
        status = "throttled" if res.error_kind == "throttled" else "error"
        return FeedOutcome(fid, url, status, message=res.error)

    fields: dict[str, Any] = {
        "last_fetch": iso(t),
        "last_ok": iso(t),
        "status": "ok",
        "errors": 0,
        "disabled": None,
        "retry_until": None,
        "etag": res.etag,
        "last_modified": res.last_modified,
        "http_status": res.status,
    }
    moved = _apply_permanent_redirect(store, feed, res, fields)
    out = FeedOutcome(fid, url, "ok")
    ttl = feed.get("ttl")
    if res.not_modified or res.unchanged:
        out.status = "not_modified" if res.not_modified else "unchanged"
        fields["message"] = "not modified" if res.not_modified else "unchanged"
    else:
        parsed: ParsedFeed = await parse(res)
        if parsed.error and not parsed.entries:
            n = int(feed.get("parse_errors") or 0) + 1
            extra: dict[str, Any] = {"parse_errors": n, "etag": None, "last_modified": None}
            if n >= MAX_PARSE_ERRORS:
                extra["disabled"] = f"{parsed.error} ({n} times in a row; refresh it by name)"
            _record_error(store, config, feed, parsed.error, extra=extra)
            return FeedOutcome(fid, url, "error", message=parsed.error)
        up = store.upsert_entries(fid, parsed, when=t)
        out.new, out.updated = up.new, up.updated
        ttl = parsed.ttl_minutes
        fields.update(
            body_hash=res.body_hash,
            parse_errors=0,
            ttl=ttl,
            message=(
                f"{len(parsed.entries)} entries, {up.new} new"
                + (f" (recovered from malformed feed: {parsed.bozo_reason})" if parsed.bozo else "")
            ),
        )
        if parsed.title and not feed.get("user_title"):
            fields["title"] = parsed.title
        if parsed.link:
            fields["site_url"] = parsed.link
    if moved:
        fields["message"] = f"{fields.get('message', 'ok')}; moved permanently to {moved}"
    fields["next_poll"] = iso(
        next_poll(
            t,
            _interval(config, feed),
            max_age=res.max_age,
            ttl_minutes=ttl,
            cap_hours=config["fetch.max_interval_hours"],
        )
    )
    store.update_feed(fid, **fields)
    out.message = fields.get("message", "")
    return out


def _apply_permanent_redirect(
    store: Store, feed: dict[str, Any], res: FetchResult, fields: dict[str, Any]
) -> str | None:
    """301/308 chains update the stored URL, unless we already follow the target."""
    target = res.permanent_url
    if not target or target == feed["url"]:
        return None
    other = store.find_feed(target)
    if other is not None and other["id"] != feed["id"]:
        fields["disabled"] = f"moved to {target}, which you already follow"
        return None
    fields["url"] = target
    fields["old_urls"] = [*feed.get("old_urls", []), feed["url"]]
    return target
