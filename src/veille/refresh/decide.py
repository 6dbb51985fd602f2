"""What a poll means for a feed: pure decisions, no I/O (as lemon24/reader's ``_update``).

``decide`` turns (the stored feed, what its source returned, now, config) into
one FeedUpdate: the feed fields to store, the entries to store, and the outcome
for the summary.  The runner applies it to the store in one step.  Keeping the
rules here means every kind of source gets the same back-off, the same
treatment of validators, redirects and parse errors, and that they can be tested
with fixed clocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from veille.domain.entries import ParsedEntry
from veille.domain.records import Feed
from veille.refresh.schedule import backoff_until, next_poll
from veille.sources.base import PollResult
from veille.util.dates import iso, parse_iso

MAX_PARSE_ERRORS = 5  # then the feed waits for a manual refresh
BACKLOG_MINUTES = 1.0  # a capped backlog resumes this soon


@dataclass
class FeedOutcome:
    feed_id: str
    url: str
    status: str  # ok | not_modified | unchanged | error | gone | throttled
    new: int = 0
    updated: int = 0
    merged: int = 0
    message: str = ""
    responses: int = 0  # new replies, likes, reposts, quotes attached to your shares


@dataclass
class FeedUpdate:
    """One feed's new state after a poll, and the entries to store with it."""

    fields: dict[str, Any]
    entries: list[ParsedEntry] | None
    outcome: FeedOutcome
    responses: list[Any] = field(default_factory=list)

    def message_after(self, new: int) -> str:
        """The status line once the store says how many entries were new."""
        msg = str(self.fields.get("message") or "")
        if self.entries is None:
            return msg
        return msg.replace("{new}", str(new))


def interval_minutes(config: Any, feed: Feed) -> float:
    """The feed's own interval, else the config's for its URL and tags."""
    if feed.interval:
        return float(feed.interval)
    return float(config.interval_minutes(feed.url, list(feed.tags)))


def select_feeds(
    feeds: Iterable[Feed],
    *,
    when: datetime,
    feed_ids: Iterable[str] | None = None,
    due_only: bool = False,
) -> tuple[list[Feed], int]:
    """Feeds to poll now, and how many were held back (server's wish, back-off, 410)."""
    named = set(feed_ids) if feed_ids is not None else None
    chosen: list[Feed] = []
    held = 0
    for f in feeds:
        hold = parse_iso(f.retry_until)
        if named is not None:
            if f.id not in named:
                continue
            # A named feed is a manual refresh: it skips back-off and 410, but a
            # server's explicit Retry-After is still honoured.
            if hold and hold > when:
                held += 1
                continue
            chosen.append(f)
            continue
        if f.disabled:
            held += 1
            continue
        nxt = parse_iso(f.next_poll)
        if hold and hold > when:
            held += 1
            continue
        if f.errors and nxt and nxt > when:  # backing off
            held += 1
            continue
        if due_only and nxt and nxt > when:
            continue
        chosen.append(f)
    return chosen, held


def decide(
    feed: Feed,
    result: PollResult,
    when: datetime,
    config: Any,
    *,
    moved_taken_by: str | None = None,
) -> FeedUpdate:
    """The feed's new fields after ``result``.

    ``moved_taken_by``: the id of another subscription already at the URL a
    permanent redirect points to (the runner looks it up), if any.
    """
    t = iso(when)
    if result.status == "gone":
        msg = result.error or "HTTP 410 Gone"
        gone: dict[str, Any] = {"last_fetch": t, "status": "gone", "message": msg,
                                "disabled": msg, "next_poll": None}  # fmt: skip
        return FeedUpdate(gone, None, FeedOutcome(feed.id, feed.url, "gone", message=msg))
    if result.status in ("error", "throttled") and result.error_kind != "parse":
        failed = _error_fields(feed, config, when, result.error, retry_after=result.retry_after)
        out = FeedOutcome(feed.id, feed.url, result.status, message=result.error)
        return FeedUpdate(failed, None, out)
    if result.error_kind == "parse":
        n = feed.parse_errors + 1
        extra: dict[str, Any] = {"parse_errors": n, "etag": None, "last_modified": None}
        if n >= MAX_PARSE_ERRORS:
            extra["disabled"] = f"{result.error} ({n} times in a row; refresh it by name)"
        unparsed = _error_fields(feed, config, when, result.error)
        unparsed.update(extra)
        out = FeedOutcome(feed.id, feed.url, "error", message=result.error)
        return FeedUpdate(unparsed, None, out)

    fields: dict[str, Any] = {
        "last_fetch": t,
        "last_ok": t,
        "status": "ok",
        "errors": 0,
        "disabled": None,
        "retry_until": None,
        "etag": result.etag,
        "last_modified": result.last_modified,
        "http_status": result.http_status,
        # What failed inside a poll that worked (a few followed accounts): shown
        # beside the feed until a poll goes through without it.
        "warning": result.warning,
    }
    moved = _permanent_move(feed, result.moved_to, moved_taken_by, fields)
    out = FeedOutcome(feed.id, feed.url, "ok")
    ttl = feed.ttl
    entries: list[ParsedEntry] | None = None
    if result.status in ("not_modified", "unchanged"):
        out.status = result.status
        fields["message"] = "not modified" if result.status == "not_modified" else "unchanged"
    else:
        entries = result.entries
        ttl = result.ttl_minutes
        what = "entries" if feed.kind == "feed" else ("post" if len(entries) == 1 else "posts")
        message = f"{len(entries)} {what}, {{new}} new"
        if result.bozo_reason:
            message += f" (recovered from malformed feed: {result.bozo_reason})"
        fields.update(body_hash=result.body_hash, parse_errors=0, ttl=ttl, message=message)
        if result.title and not feed.user_title:
            fields["title"] = result.title
        if result.site_url:
            fields["site_url"] = result.site_url
        if result.cursor is not None:
            fields["cursor"] = dict(result.cursor)
    if moved:
        fields["message"] = f"{fields.get('message', 'ok')}; moved permanently to {moved}"
    minutes = BACKLOG_MINUTES if result.more else interval_minutes(config, feed)
    fields["next_poll"] = iso(
        next_poll(
            when,
            minutes,
            max_age=result.max_age,
            ttl_minutes=ttl,
            cap_hours=config["fetch.max_interval_hours"],
        )
    )
    if result.more:
        fields["message"] = f"{fields.get('message', 'ok')}; more to come next poll"
    return FeedUpdate(fields, entries, out, list(result.responses))


def _error_fields(
    feed: Feed,
    config: Any,
    when: datetime,
    message: str,
    *,
    retry_after: float | None = None,
) -> dict[str, Any]:
    errors = feed.errors + 1
    nxt = backoff_until(
        when,
        errors,
        interval_minutes(config, feed),
        retry_after=retry_after,
        cap_hours=config["fetch.max_backoff_hours"],
    )
    fields: dict[str, Any] = {
        "last_fetch": iso(when),
        "status": "error",
        "message": message,
        "errors": errors,
        "next_poll": iso(nxt),
    }
    if retry_after:
        fields["retry_until"] = iso(when + timedelta(seconds=min(retry_after, 7 * 86400)))
    return fields


def _permanent_move(
    feed: Feed, target: str | None, taken_by: str | None, fields: dict[str, Any]
) -> str | None:
    """301/308 chains update the stored URL, unless we already follow the target."""
    if not target or target == feed.url:
        return None
    if taken_by is not None and taken_by != feed.id:
        fields["disabled"] = f"moved to {target}, which you already follow"
        return None
    fields["url"] = target
    fields["old_urls"] = [*feed.old_urls, feed.url]
    return target
