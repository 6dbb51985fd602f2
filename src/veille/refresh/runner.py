"""Refresh: poll the chosen sources concurrently and apply each result to the store once.

Modelled on lemon24/reader's update loop: retrieve (the source's ``poll``) ->
decide (``refresh.decide``, pure) -> store (one ``upsert_entries`` call carrying
the entries and the feed's new state together).  One outcome per feed, so a
progress bar can follow; a failing source never stops the others: every
problem becomes a one-line message on that feed, and an unexpected one is also
logged with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import BrokenExecutor, Executor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from veille.config import Config
from veille.domain.entries import ParsedFeed
from veille.domain.errors import VeilleError
from veille.domain.records import Feed
from veille.domain.share import ShareResponse
from veille.net.fetcher import Fetcher
from veille.refresh.decide import FeedOutcome, FeedUpdate, decide, select_feeds
from veille.refresh.pool import POOL_THRESHOLD, make_pool, parse_and_hash
from veille.sources.base import PollContext, PollResult, Response
from veille.sources.registry import source_for
from veille.store.store import Store
from veille.util.dates import now

if TYPE_CHECKING:
    from veille.domain.share import SentPost

log = logging.getLogger(__name__)


@dataclass
class Progress:
    done: int
    total: int
    new_items: int
    errors: int
    feed_title: str = ""


@dataclass
class Summary:
    feeds: int = 0
    fetched: int = 0  # feeds that answered (including 304)
    new_items: int = 0
    updated_items: int = 0
    errors: int = 0
    not_modified: int = 0
    held_back: int = 0
    responses: int = 0  # new replies, likes, reposts, quotes of your shares
    outcomes: list[FeedOutcome] = field(default_factory=list)

    def add(self, out: FeedOutcome) -> None:
        self.outcomes.append(out)
        self.new_items += out.new
        self.updated_items += out.updated
        self.responses += out.responses
        if out.status in ("error", "gone", "throttled"):
            self.errors += 1
        else:
            self.fetched += 1
        if out.status in ("not_modified", "unchanged"):
            self.not_modified += 1

    def line(self) -> str:
        parts = [f"{self.feeds} feed{'s' if self.feeds != 1 else ''} polled"]
        parts.append(f"{self.new_items} new item{'s' if self.new_items != 1 else ''}")
        if self.updated_items:
            parts.append(f"{self.updated_items} updated")
        if self.not_modified:
            parts.append(f"{self.not_modified} unchanged")
        if self.responses:
            n = self.responses
            parts.append(f"{n} new response{'s' if n != 1 else ''} to your shares")
        if self.errors:
            parts.append(
                f"{self.errors} error{'s' if self.errors != 1 else ''} (see `veille feeds`)"
            )
        if self.held_back:
            parts.append(f"{self.held_back} held back")
        return ", ".join(parts)


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


def workers_for(config: Config) -> int:
    return int(config["fetch.workers"] or (os.cpu_count() or 1))


def needs_pool(feeds: list[Feed]) -> bool:
    """Whether enough bodies will likely need parsing to pay for processes: feeds
    never fetched, or without validators, will send a body."""
    cold = sum(1 for f in feeds if f.kind == "feed" and not (f.etag or f.last_modified))
    return cold >= POOL_THRESHOLD


async def refresh_feeds(
    store: Store,
    config: Config,
    *,
    feed_ids: list[str] | None = None,
    due_only: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    executor: Executor | None = None,
    accounts: Mapping[str, Any] | None = None,
    secrets: Any = None,
    cache_dir: Path | None = None,
) -> Summary:
    """Poll sources (all not held back, the named ones, or the due ones).

    ``executor``: parser processes the caller made (see refresh.pool.fork_pool);
    it stays the caller's to shut down.  Without one, a pool is made only when
    enough bodies turn up to pay for it.

    Social sources (Mastodon, Bluesky) poll in the same refresh.  They read
    through ``accounts`` and ``secrets``; left out, both are read from
    config.toml's folder (what the app relies on).  ``cache_dir`` keeps resolved
    short links between refreshes (None: for this refresh only).  Replies,
    likes, reposts and quotes of your shares are attached to those shares.
    """
    feeds, held = select_feeds(store.feeds(), when=now(), feed_ids=feed_ids, due_only=due_only)
    summary = Summary(feeds=len(feeds), held_back=held)
    if not feeds:
        return summary
    loop = asyncio.get_running_loop()
    progress = Progress(0, len(feeds), 0, 0)
    own: Executor | None = None

    async def parse(body: bytes, url: str, headers: dict[str, str]) -> ParsedFeed:
        nonlocal own
        pool = executor or own
        if pool is None:
            # Decided at the first body: a few changed feeds parse on a thread,
            # a cold refresh of many gets processes.
            remaining = len(feeds) - progress.done
            pool = own = make_pool(remaining, workers_for(config))
        return await loop.run_in_executor(pool, parse_and_hash, body, url, headers)

    fetcher = fetcher_for(config)
    social = _Social.prepare(store, config, feeds, accounts, secrets)
    try:
        async with fetcher, AsyncExitStack() as stack:
            ctx = PollContext(
                fetcher=fetcher,
                parse=parse,
                config=config,
                accounts=social.accounts,
                secrets=social.secrets,
            )
            if social.feeds:
                ctx = await social.open(ctx, stack, cache_dir)

            async def one(feed: Feed) -> FeedOutcome:
                try:
                    return await _refresh_one(store, config, ctx, feed, social)
                except asyncio.CancelledError:
                    raise
                except BrokenExecutor:
                    # The parser processes died (a SIGTERM to the whole process
                    # group, the OOM killer): not this feed's doing.  Nothing is
                    # recorded, so no error and no back-off hold it back: the next
                    # refresh polls it as if this one had not reached it.
                    log.warning("parser processes stopped while refreshing %s", feed.url)
                    return FeedOutcome(
                        feed.id, feed.url, "error", message="not refreshed: the parser stopped"
                    )
                except Exception as exc:  # a bug must not stop the other feeds
                    log.exception("refreshing %s failed", feed.url)
                    msg = f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]
                    result = PollResult(status="error", error=msg, error_kind="other")
                    update = decide(feed, result, now(), config)
                    store.update_feed(feed.id, **update.fields)
                    return update.outcome

            tasks = [asyncio.create_task(one(f)) for f in feeds]
            try:
                for fut in asyncio.as_completed(tasks):
                    out = await fut
                    summary.add(out)
                    progress.done += 1
                    progress.new_items = summary.new_items
                    progress.errors = summary.errors
                    if on_progress is not None:  # (a cron refresh builds no titles)
                        done_feed = store.get_feed(out.feed_id)
                        progress.feed_title = done_feed.name if done_feed else out.url
                        on_progress(progress)
            finally:
                for t in tasks:
                    t.cancel()
    finally:
        if own is not None:
            own.shutdown(wait=True, cancel_futures=True)
    # Retention looks only at the feeds that grew (its cost follows what changed,
    # not the store's size), and at every feed once a day.
    touched = [o.feed_id for o in summary.outcomes if o.new or o.merged]
    full = feed_ids is None and store.maintenance_due("retention", hours=24)
    if touched or full:
        store.apply_retention(
            keep_days=config["keep_days"],
            max_per_feed=config["max_items_per_feed"],
            feed_ids=None if full else touched,
        )
        if full:
            store.maintenance_done("retention")
    return summary


@dataclass
class _Social:
    """What the social sources of one refresh share: accounts and secrets, your
    sent posts (to recognise answers to them), one HTTP client, one short-link
    resolver."""

    feeds: list[Feed]
    accounts: Mapping[str, Any]
    secrets: Any
    problem: str = ""  # why the accounts could not be read ("" if they could)
    posts: list[SentPost] = field(default_factory=list)

    @classmethod
    def prepare(
        cls,
        store: Store,
        config: Config,
        feeds: list[Feed],
        accounts: Mapping[str, Any] | None,
        secrets: Any,
    ) -> _Social:
        social = [f for f in feeds if f.kind != "feed"]
        if not social:
            return cls([], accounts or {}, secrets)
        problem = ""
        if accounts is None:
            accounts, problem = _load_accounts(store, config)
        if secrets is None and config.path is not None:
            from veille.accounts.config import open_secrets

            secrets = open_secrets(config.path.parent)
        from veille.domain.share import sent_posts

        return cls(social, accounts, secrets, problem, sent_posts(store.shares()))

    async def open(
        self, ctx: PollContext, stack: AsyncExitStack, cache_dir: Path | None
    ) -> PollContext:
        """``ctx`` with the shared client and short-link resolver (closed by ``stack``)."""
        from veille.net.shorteners import ShortLinks
        from veille.sources.social import social_client

        http = await stack.enter_async_context(social_client())
        links = ShortLinks(cache_dir, fetcher=ctx.fetcher, client=http)
        stack.push_async_callback(links.aclose)
        return replace(ctx, http=http, shortlinks=links)

    def targets(self, feed: Feed) -> dict[str, SentPost]:
        """Your sent posts that answers seen through ``feed`` may name: id, URI or URL
        -> the post.  A Mastodon status id only means something on its own
        instance, so bare ids count only for sources read from that instance."""
        if feed.kind == "bluesky":
            return {
                v: p for p in self.posts if p.kind == "bluesky" for v in (p.remote_id, p.url) if v
            }
        if feed.kind != "mastodon":
            return {}
        host = self._mastodon_host(feed)
        out: dict[str, SentPost] = {}
        for p in self.posts:
            if p.kind != "mastodon":
                continue
            if p.url:
                out[p.url] = p
            if p.remote_id and host and self._host(p.destination) == host:
                out[p.remote_id] = p
        return out

    def _host(self, account_name: str) -> str:
        account = self.accounts.get(account_name)
        instance = getattr(account, "instance", "") if account is not None else ""
        return urlsplit(instance).netloc.lower() if instance else ""

    def _mastodon_host(self, feed: Feed) -> str:
        from veille.sources.names import SourceNameError, parse_source_name

        try:
            name = parse_source_name(feed.url)
        except SourceNameError:
            return ""
        if name.view == "account":
            return name.instance.lower()
        if feed.account:
            return self._host(feed.account)
        mine = [n for n, a in self.accounts.items() if getattr(a, "type", "") == "mastodon"]
        return self._host(mine[0]) if len(mine) == 1 else ""


def _load_accounts(store: Store, config: Config) -> tuple[Mapping[str, Any], str]:
    """config.toml's accounts as the file says now (the app's config may be older),
    or none and the one-line reason."""
    from veille.accounts.config import fresh_config, load_accounts

    try:
        return load_accounts(fresh_config(config), Path(store.root).parent), ""
    except VeilleError as exc:
        return {}, f"your accounts could not be read: {exc}"


def responses_by_share(
    responses: Iterable[Response], targets: Mapping[str, SentPost]
) -> dict[str, list[ShareResponse]]:
    """The responses that answer one of your sent posts, grouped by its share."""
    out: dict[str, list[ShareResponse]] = {}
    for r in responses:
        post = targets.get(r.target)
        if post is None:
            continue
        key = r.key or f"{r.kind}:{r.handle}:{r.target}"
        out.setdefault(post.share_id, []).append(
            ShareResponse(
                kind=r.kind,
                key=key,
                destination=post.destination,
                target=r.target,
                author=r.author,
                handle=r.handle,
                text=r.text,
                url=r.url,
                at=r.at,
            )
        )
    return out


async def _refresh_one(
    store: Store, config: Config, ctx: PollContext, feed: Feed, social: _Social
) -> FeedOutcome:
    targets: dict[str, SentPost] = {}
    if feed.kind != "feed":
        if social.problem:
            failed = decide(
                feed,
                PollResult(status="error", error=social.problem, error_kind="auth"),
                now(),
                config,
            )
            store.update_feed(feed.id, **failed.fields)
            return failed.outcome
        targets = social.targets(feed)
        ctx = replace(ctx, sent=frozenset(targets))
    result = await source_for(feed).poll(feed, ctx)
    taken = None
    if result.moved_to:
        other = store.find_feed(result.moved_to)
        taken = other.id if other is not None else None
    update: FeedUpdate = decide(feed, result, now(), config, moved_taken_by=taken)
    out = update.outcome
    if update.responses and targets:
        out.responses = store.attach_responses(responses_by_share(update.responses, targets))
    if update.entries is None:
        store.update_feed(feed.id, **update.fields)
        return out
    fields = dict(update.fields)
    fields.pop("message", None)
    res = store.upsert_entries(feed.id, update.entries, when=now(), feed_fields=fields)
    out.new, out.updated, out.merged = res.new, res.updated, res.merged
    out.message = update.message_after(res.new)
    if out.responses:
        n = out.responses
        out.message += f", {n} new response{'s' if n != 1 else ''} to your shares"
    store.update_feed(feed.id, message=out.message)
    if feed.full_text and res.new_ids:
        await _fetch_articles(store, ctx, res.new_ids)
    return out


FULL_TEXT_AT_ONCE = 4  # article pages fetched at once per feed (the fetcher's host limits apply)


async def _fetch_articles(store: Store, ctx: PollContext, ids: list[str]) -> None:
    """A feed marked "always fetch the full article": its new items' pages are
    fetched, extracted (in a thread) and cached now, so reading them needs no
    wait.  A page that fails keeps the feed's text; the app says why when asked."""
    from veille.extract import fetch_article

    gate = asyncio.Semaphore(FULL_TEXT_AT_ONCE)

    async def one(iid: str) -> None:
        item = store.get_item(iid)
        if item is None or not item.link or store.get_article(iid) is not None:
            return
        async with gate:
            article = await fetch_article(ctx.fetcher, item.link)
        if article.ok:
            store.save_article(iid, article.html, article.url)
        else:
            log.info("full article of %s: %s", item.link, article.error)

    await asyncio.gather(*(one(i) for i in ids))
