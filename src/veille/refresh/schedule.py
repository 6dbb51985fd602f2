"""When to poll a feed next: pure functions over datetimes (UTC), no I/O.

Kept pure so the refresh loop, the CLI and the tests share one set of rules, and so the
rules can be checked with fixed clocks. Servers give hints (Retry-After, Cache-Control
max-age, RSS <ttl>); we honour them to avoid getting banned, but cap them so a silly value
cannot silence a feed for months.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

#: Retry-After values above this are treated as this: a server asking for a year is wrong,
#: but one asking for a few days probably means it.
RETRY_AFTER_CAP_SECONDS = 7 * 24 * 3600.0


# 2**60 minutes is already far beyond any cap; bigger exponents would only overflow floats.
_MAX_EXPONENT = 60


def _hint_seconds(*hints: float | None) -> float:
    """The largest usable hint, in seconds (negative or NaN values count as absent)."""
    best = 0.0
    for hint in hints:
        if hint is not None and not math.isnan(hint) and hint > best:
            best = hint
    return best


def next_poll(
    now: datetime,
    interval_minutes: float,
    *,
    retry_after: float | None = None,
    max_age: float | None = None,
    ttl_minutes: int | None = None,
    cap_hours: float = 24,
) -> datetime:
    """Next poll after a successful fetch: now + max(interval, server hints).

    The hints (Retry-After and max-age in seconds, RSS ttl in minutes) may push the poll
    later, up to ``cap_hours``; they never bring it earlier than the user's interval.
    """
    interval = max(0.0, interval_minutes) * 60.0
    ttl = ttl_minutes * 60.0 if ttl_minutes is not None else None
    hint = min(_hint_seconds(retry_after, max_age, ttl), max(0.0, cap_hours) * 3600.0)
    return now + timedelta(seconds=max(interval, hint))


def backoff_until(
    now: datetime,
    error_count: int,
    interval_minutes: float,
    *,
    retry_after: float | None = None,
    cap_hours: float = 24,
) -> datetime:
    """When to retry a failing feed: interval × 2^(errors-1), capped, but ≥ Retry-After.

    The cap keeps a long-broken feed checked daily (it may come back); it never shortens
    the normal interval. Retry-After is honoured even beyond the cap (the server asked),
    up to RETRY_AFTER_CAP_SECONDS so an absurd value cannot park a feed forever.
    """
    interval = max(0.0, interval_minutes) * 60.0
    exponent = min(max(error_count, 1) - 1, _MAX_EXPONENT)
    delay = min(interval * 2.0**exponent, max(0.0, cap_hours) * 3600.0)
    delay = max(delay, interval)
    if retry_after is not None and not math.isnan(retry_after):
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP_SECONDS))
    return now + timedelta(seconds=delay)
