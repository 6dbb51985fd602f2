"""What a source hands to refresh: entries, as parsed from a feed or a timeline.

No I/O here.  An entry becomes an item, or one more *sighting* of an item the
store already has (the same article reached through another feed or a post).
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
    # The canonical form of ``link`` (domain.links.canonical_url), the key an item is
    # recognised by from other sources; also filled in the parser processes.
    link_key: str = ""
    base: str = ""  # xml:base (or the feed URL) that relative links in ``content`` resolve to
    # A social post: who shared it and with what words.  For a post that links to an
    # article, ``link`` is the article and these describe the post around it.
    kind: str = "entry"  # entry | post | repost | quote | reply (see domain.records)
    handle: str = ""  # @user@instance, @handle.bsky.social
    post_url: str = ""
    post_text: str = ""  # the sharer's own words, plain text
    reposter: str = ""  # who reposted it, for a repost
    content_warning: str = ""
    reply_to: str = ""  # URI/URL of the post this one answers (feedback on your shares)


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
