"""Times as veille stores and shows them: the one place that writes, reads and says them.

Stored times are UTC ISO 8601 strings ("2026-11-27T10:00:00Z"), sortable as text;
every layer writes them with :func:`iso` and reads them (and the ISO times APIs send)
with :func:`parse_iso`.  HTTP headers carry RFC 5322 dates: :func:`parse_http_date`.
On screen a time is an age ("5m") or a phrase ("in 25 min", "3h ago"):
:func:`age`, :func:`until`, :func:`relative`.  One implementation of each, so the
stream, ``veille feeds`` and the share queue never disagree about what "now" is.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import overload

__all__ = ["age", "iso", "now", "parse_http_date", "parse_iso", "relative", "until"]


def now() -> datetime:
    return datetime.now(UTC)


@overload
def iso(dt: datetime, *, precise: bool = False) -> str: ...
@overload
def iso(dt: None, *, precise: bool = False) -> None: ...
@overload
def iso(dt: datetime | None, *, precise: bool = False) -> str | None: ...
def iso(dt: datetime | None, *, precise: bool = False) -> str | None:
    """``dt`` as a stored time, in UTC; a naive ``dt`` is taken as UTC.

    ``precise`` keeps microseconds ("...T10:00:00.123456Z"): for records created
    several per second whose order matters (shares); they still sort as text
    against second-precision times of other seconds.
    """
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if precise else "%Y-%m-%dT%H:%M:%SZ"
    return dt.astimezone(UTC).strftime(fmt)


def parse_iso(s: object) -> datetime | None:
    """An ISO 8601 time (stored, or from an API) as an aware datetime; None if unreadable.

    A time without a zone is taken as UTC, as veille and the APIs it reads write them.
    Anything that is not a non-empty string gives None: API fields are untrusted.
    """
    if not isinstance(s, str) or not s:
        return None
    try:
        dt = datetime.fromisoformat(s.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_http_date(value: object) -> datetime | None:
    """An HTTP-date (``Retry-After``, ``Last-Modified``) or RFC 822 date, aware; else None.

    A date without a zone ("-0000") is UTC, as HTTP dates always are.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        dt = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:  # pragma: no cover - Pythons before 3.10 returned None
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def age(s: str | None, ref: datetime | None = None) -> str:
    """Compact age for lists: "5m", "3h", "2d", "7w", "2y"."""
    dt = parse_iso(s)
    if dt is None:
        return ""
    secs = max(0, int(((ref or now()) - dt).total_seconds()))
    if secs < 3600:
        return f"{max(1, secs // 60)}m"
    if secs < 86400:
        return f"{secs // 3600}h"
    days = secs // 86400
    if days < 14:
        return f"{days}d"
    if days < 365:
        return f"{days // 7}w"
    return f"{days // 365}y"


def until(when: datetime, ref: datetime | None = None) -> str:
    """How long until ``when``, for a status line: "now", "in 40 s", "in 25 min",
    "in 3 h", "in 2 d"."""
    seconds = (when - (ref or now())).total_seconds()
    if seconds <= 0:
        return "now"
    if seconds < 60:
        return f"in {math.ceil(seconds)} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"in {max(1, round(minutes))} min"
    hours = minutes / 60
    if hours < 48:
        return f"in {round(hours)} h"
    return f"in {round(hours / 24)} d"


def relative(s: str | None, ref: datetime | None = None) -> str:
    """A stored time said from now: "never", "in 25 min", "just now", "3h ago"."""
    dt = parse_iso(s)
    if dt is None:
        return "never"
    ref = ref or now()
    secs = (dt - ref).total_seconds()
    if secs > 0:
        return until(dt, ref)
    if secs > -60:
        return "just now"
    return f"{age(s, ref)} ago"


_RELATIVE = re.compile(r"(\d{1,6})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A start time, aware UTC, from an age (30m, 24h, 7d, 2w) or a date (2026-11-01)."""
    raw = (text or "").strip()
    now = now or datetime.now(UTC)
    m = _RELATIVE.fullmatch(raw.lower())
    if m:
        try:
            return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        except OverflowError:
            raise ValueError(f"{raw!r} reaches back before year 1") from None
    t = parse_iso(raw)
    if t is None:
        raise ValueError(
            f"can't read {raw!r} as a start time: give an age such as 30m, 24h, 7d or 2w, "
            "or a date such as 2026-11-01"
        )
    return t.astimezone(UTC)
