"""HTTP rules every client of veille shares: how long to wait, whether to retry, what
went wrong.

One implementation each, used by the feed fetcher, the Mastodon, Bluesky and
Micropub clients and the outbox, so a 429 from any server is read the same way.
"""

from __future__ import annotations

import functools
import re
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx

from veille.domain.text import clean_line
from veille.util.dates import parse_http_date, parse_iso

MESSAGE_MAX = 300
_DELTA_RE = re.compile(r"\d+(?:\.\d+)?")


def clean_message(text: str | None) -> str:
    """Server text is untrusted: one line, no control characters, kept short (an
    error body may be a whole HTML page)."""
    return clean_line(text, limit=MESSAGE_MAX)


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS settings, built once: loading the CA bundle costs ~30 ms,
    which every short-lived ``httpx.AsyncClient`` would otherwise pay again."""
    return httpx.create_ssl_context()


def is_transient(status: int) -> bool:
    """Whether the same request may succeed later: time-outs, throttling, server trouble."""
    return status in (408, 429) or status >= 500


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    Returns None when absent or unparseable; a date in the past gives 0. ``now`` must be
    timezone-aware (UTC) or naive UTC, matching how HTTP dates are interpreted.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if _DELTA_RE.fullmatch(value):
        return float(value)  # delta-seconds; a fraction is tolerated
    when = parse_http_date(value)
    if when is None:
        return None
    ref = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return max(0.0, (when - ref).total_seconds())


def parse_rate_limit_reset(value: str | None, now: datetime) -> float | None:
    """Seconds until a rate-limit window ends.

    Mastodon sends ``X-RateLimit-Reset`` as an ISO time, Bluesky ``ratelimit-reset``
    as epoch seconds, the IETF draft a delta in seconds: all three are read here.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        when = parse_iso(value)
        if when is None:
            return None
        return max(0.0, (when - now).total_seconds())
    if number != number:  # NaN
        return None
    # Epoch seconds (large) or a delta in seconds (small, as in the IETF draft).
    return max(0.0, number - now.timestamp()) if number > 1e9 else max(0.0, number)


def parse_max_age(cache_control: str | None) -> float | None:
    """``max-age`` seconds from a Cache-Control header; None with no-cache/no-store.

    ``s-maxage`` is for shared caches and is ignored: we are a private client.
    """
    if not cache_control:
        return None
    max_age: float | None = None
    for part in cache_control.split(","):
        name, _, arg = part.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return None
        if name == "max-age":
            arg = arg.strip().strip('"').strip()
            if arg.isdigit():
                max_age = float(int(arg))
    return max_age


def retry_after_seconds(
    headers: Mapping[str, str], now: datetime | None = None, *, status: int | None = None
) -> float | None:
    """Seconds to wait before asking again: ``Retry-After`` first, then the rate-limit
    reset headers.

    The reset headers ride on every response as the window's end, so they only say
    when to retry once the limit was actually hit: a 429, or no request left.  With
    ``status`` None (the caller already knows it was throttled) they always count.
    """
    now = now or datetime.now(UTC)
    wait = parse_retry_after(headers.get("retry-after"), now)
    if wait is not None:
        return wait
    remaining = headers.get("x-ratelimit-remaining") or headers.get("ratelimit-remaining") or ""
    exhausted = remaining.strip() == "0"
    if status is not None and status != 429 and not exhausted:
        return None
    return parse_rate_limit_reset(
        headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset"), now
    )


def error_text(response: httpx.Response) -> str:
    """What a server said went wrong, in one clean line.

    Mastodon and Micropub say ``{"error", "error_description"}``, XRPC
    ``{"error", "message"}``; others send text or HTML.  A plain-text body is kept
    even when labelled text/html (django-indieweb does that); a markup page is
    replaced by the reason phrase.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [body.get("error"), body.get("error_description") or body.get("message")]
        text = ": ".join(str(p) for p in parts if isinstance(p, str) and p)
        if text:
            return clean_message(text)
    text = response.text
    if "<" in text and ">" in text:
        text = ""
    return clean_message(text) or response.reason_phrase or "request failed"
