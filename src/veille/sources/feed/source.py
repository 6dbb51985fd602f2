"""The RSS/Atom/JSON Feed source: a conditional GET, then a parse off the event loop.

It reports what the server said (validators, Retry-After, max-age, a permanent
move) and what the parser found; it decides nothing about the feed's state
(``refresh.decide`` does) and never touches the store.
"""

from __future__ import annotations

from typing import ClassVar

from veille.domain.records import Feed
from veille.net.fetcher import FetchRequest
from veille.sources.base import PollContext, PollResult


class FeedSource:
    kind: ClassVar[str] = "feed"

    async def poll(self, feed: Feed, ctx: PollContext) -> PollResult:
        res = await ctx.fetcher.fetch(
            FetchRequest(
                url=feed.url,
                etag=feed.etag,
                last_modified=feed.last_modified,
                body_hash=feed.body_hash,
            )
        )
        if res.gone:
            return PollResult(status="gone", error=res.error or "HTTP 410 Gone", http_status=410)
        if res.error:
            return PollResult(
                status="throttled" if res.error_kind == "throttled" else "error",
                error=res.error,
                error_kind=res.error_kind or "other",
                retry_after=res.retry_after,
                http_status=res.status,
            )
        out = PollResult(
            etag=res.etag,
            last_modified=res.last_modified,
            http_status=res.status,
            max_age=res.max_age,
            moved_to=res.permanent_url if res.permanent_url != feed.url else None,
        )
        if res.not_modified or res.unchanged:
            out.status = "not_modified" if res.not_modified else "unchanged"
            return out
        parsed = await ctx.parse(res.body or b"", res.final_url, dict(res.headers))
        if parsed.error and not parsed.entries:
            out.status = "error"
            out.error_kind = "parse"
            out.error = parsed.error
            return out
        out.entries = parsed.entries
        out.title = parsed.title
        out.site_url = parsed.link
        out.ttl_minutes = parsed.ttl_minutes
        out.body_hash = res.body_hash
        out.bozo_reason = parsed.bozo_reason if parsed.bozo else ""
        return out
