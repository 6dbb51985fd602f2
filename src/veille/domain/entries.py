"""Plain data shared by the fetcher, the store, the CLI and the TUI.

No I/O here.  An *item* is what the user triages; it can be reached through
several *sightings* (a feed entry today; a Mastodon or Bluesky post later), so
an item carries a list of them rather than a single ``feed`` field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ParsedEntry:
    """One entry as the parser returns it; every text field is already clean."""

    key: str  # identity inside its source: guid/id, else link, else hash(title+date)
    title: str = ""
    link: str = ""
    author: str = ""
    published: str | None = None  # ISO 8601 UTC, "2026-11-27T10:00:00Z"
    updated: str | None = None
    summary: str = ""  # plain text, at most ~600 characters
    content: str = ""  # HTML (or text) body kept for rendering; not sanitised
    content_type: str = "html"  # "html" or "text"
    categories: list[str] = field(default_factory=list)
    enclosures: list[dict[str, Any]] = field(default_factory=list)  # {url,type,length}
    image: str = ""  # a representative image URL, if any
    content_hash: str = ""  # filled in the parser processes, to spare the main one


@dataclass
class ParsedFeed:
    """A parsed feed document.  ``error`` is set when nothing usable came out."""

    title: str = ""
    link: str = ""  # the site's home page
    version: str = ""  # "rss20", "atom10", "json11", ...
    ttl_minutes: int | None = None
    entries: list[ParsedEntry] = field(default_factory=list)
    bozo: bool = False
    bozo_reason: str = ""
    error: str = ""  # one line, for `veille feeds`


# Fields of the light item document kept in memory (items/YYYY-MM.json).
ITEM_TEXT_FIELDS = ("title", "link", "author", "summary")
STATE_FIELDS = ("read", "starred", "tags", "hidden", "shared", "read_at")
