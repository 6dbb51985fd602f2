"""What the XML and JSON Feed parsers share: turning raw fields into entry fields.

A module of its own so that :mod:`parse` (which hands JSON documents to
:mod:`jsonfeed`) and :mod:`jsonfeed` both import it, and neither imports the
other back: an entry from an RSS item and one from a JSON Feed item get their
keys, dates, summaries and numbers by the same rules.  Links go through
:func:`veille.util.urls.resolve_link`, text through :mod:`veille.render.hygiene`.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from datetime import UTC, datetime
from typing import Any

from veille.render.hygiene import clean_line, clean_text, first_words, html_to_text
from veille.util.dates import iso

__all__ = [
    "ENCLOSURE_SCHEMES",
    "SUMMARY_LIMIT",
    "entry_key",
    "iso_utc",
    "one_line",
    "plain_summary",
    "to_int",
]

SUMMARY_LIMIT = 300  # the store keeps this much searchable text in memory
#: Enclosures (podcast episodes, torrents) may be fetched by other programs than a
#: browser: these schemes are kept for them, where a link must be http(s).
ENCLOSURE_SCHEMES = frozenset({"http", "https", "ftp", "magnet"})
REASON_MAX = 200
_MIN_TS = 0  # 1970-01-01
_FUTURE_SLACK = 2 * 86400
_SAX_POSITION = re.compile(r"^<unknown>:(\d+):(\d+):\s*")


def one_line(exc: Any) -> str:
    """A short single-line reason from an exception (or any object)."""
    if exc is None:
        return ""
    text = clean_line(str(exc)) or type(exc).__name__
    return first_words(_SAX_POSITION.sub(r"line \1, column \2: ", text), REASON_MAX)


def to_int(value: Any) -> int | None:
    """A non-negative int from an int/float/str ("1,000" and "xyz" → None)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value) if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def iso_utc(value: Any) -> str | None:
    """A stored time from a UTC struct_time or a datetime; absurd dates → None.

    Naive datetimes are taken as UTC.  Years before 1970 and anything more
    than two days ahead are junk (zeroed fields, typos, "sticky" posts).
    """
    if value is None:
        return None
    try:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            ts = value.timestamp()
        else:
            ts = calendar.timegm(tuple(value)[:6])
    except (TypeError, ValueError, OverflowError):
        return None
    if ts < _MIN_TS or ts > time.time() + _FUTURE_SLACK:
        return None
    return iso(datetime.fromtimestamp(int(ts), UTC))


def entry_key(ident: Any, link: str, title: str, date: str, content: str = "") -> str:
    """guid/id, else link, else ``"h:" + sha1(title + date)[:16]`` (content if both empty)."""
    if isinstance(ident, int | float) and not isinstance(ident, bool):
        ident = str(ident)
    if isinstance(ident, str) and (key := clean_text(ident).strip()):
        return key
    if link:
        return link
    basis = title + date if (title or date) else content
    return "h:" + hashlib.sha1(basis.encode("utf-8", "replace")).hexdigest()[:16]


def plain_summary(value: str, kind: str) -> str:
    """At most :data:`SUMMARY_LIMIT` characters of plain text from an HTML or text body."""
    if not value:
        return ""
    if kind == "text":  # escape, keeping its line structure, and reuse the HTML path
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace("\r", "")
        value = value.replace("\n\n", "<p>").replace("\n", "<br>")
    return html_to_text(value, SUMMARY_LIMIT)
