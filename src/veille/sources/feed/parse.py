"""Feed bytes → :class:`ParsedFeed`: RSS/Atom/RDF through feedparser, JSON Feed ourselves.

:func:`parse_feed` runs in a ``ProcessPoolExecutor`` (parsing is CPU-bound:
SAX callbacks per entry), so it is module-level, takes and returns only
picklable data, and never raises.  All text is cleaned here, once, at ingest.

Well-formed RSS and Atom go through :mod:`fastparse` first: feedparser's own
handlers under a faster engine, which declines whatever it cannot reproduce
exactly; feedparser then parses it as before.  Either way the same code below
turns the result into entries, so both paths give identical records.
"""

from __future__ import annotations

import io
import logging
import re
import xml.sax
import zlib
from typing import Any, Literal

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.render.hygiene import clean_line, clean_text, html_to_text
from veille.sources.feed.common import (
    ENCLOSURE_SCHEMES,
    entry_key,
    iso_utc,
    one_line,
    plain_summary,
    to_int,
)
from veille.sources.feed.jsonfeed import parse_json_feed
from veille.util.urls import resolve_link

__all__ = ["Engine", "looks_like_html", "parse_feed", "parse_feed_with"]

Engine = Literal["auto", "feedparser", "fast"]

_WS_BYTES = b" \t\r\n\x0c"
_BOM = b"\xef\xbb\xbf"
_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]")
_FEED_START = re.compile(rb"<(?:rss|feed|rdf:rdf|channel)[\s>/]")
_JSON_TYPES = ("application/feed+json", "application/json")
_GUNZIP_CAP = 64 * 1024 * 1024

log = logging.getLogger(__name__)


def looks_like_html(body: bytes) -> bool:
    """True when the document opens as an HTML page rather than a feed.

    Only the head is looked at: a feed root element before any ``<html``
    wins, so feeds that embed escaped HTML are not mistaken for pages.
    """
    head = body[:4096].lstrip(_BOM + _WS_BYTES).lower()
    m = _HTML_START.search(head)
    if m is None:
        return False
    f = _FEED_START.search(head)
    return f is None or m.start() < f.start()


def parse_feed(body: bytes, url: str = "", headers: dict[str, str] | None = None) -> ParsedFeed:
    """Parse a fetched document; any failure comes back as ``ParsedFeed(error=...)``."""
    return parse_feed_with(body, url, headers, "auto") or ParsedFeed(error="parse failed")


def parse_feed_with(
    body: bytes, url: str = "", headers: dict[str, str] | None = None, engine: Engine = "auto"
) -> ParsedFeed | None:
    """:func:`parse_feed` with the XML engine chosen: for tests and benchmarks.

    ``"fast"`` returns None unless the fast XML path produced the result (it
    declined the document, or the body is JSON, empty or gzip junk);
    ``"feedparser"`` never tries the fast path; ``"auto"`` is what
    :func:`parse_feed` does.
    """
    try:
        return _parse(body, url, {k.lower(): v for k, v in (headers or {}).items()}, engine)
    except Exception as exc:  # never let one feed break a refresh
        log.exception("parsing %s failed", url or "a document")
        return ParsedFeed(error=f"parse failed: {type(exc).__name__}: {one_line(exc)}")


def _parse(body: bytes, url: str, headers: dict[str, str], engine: Engine) -> ParsedFeed | None:
    if not body:
        return None if engine == "fast" else ParsedFeed(error="empty response")
    if body[:2] == b"\x1f\x8b":  # gzip bytes without Content-Encoding (double-gzipped)
        body = _gunzip(body)
    stripped = body.lstrip(_BOM + _WS_BYTES)
    if not stripped:
        return None if engine == "fast" else ParsedFeed(error="empty response")
    if stripped is not body and stripped.startswith(b"<?xml"):
        # Blank lines before the XML declaration (a common CMS plugin bug) make the
        # strict parser fail; without them it succeeds, faster and more faithfully.
        body = _BOM + stripped if body.startswith(_BOM) else stripped
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if stripped[:1] == b"{" or (ctype in _JSON_TYPES and stripped[:1] != b"<"):
        if engine == "fast":
            return None
        return parse_json_feed(body, url)
    return _parse_xml(body, url, headers, engine)


def _gunzip(body: bytes) -> bytes:
    """Decompress, capped so a gzip bomb cannot eat the worker's memory."""
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return d.decompress(body, _GUNZIP_CAP)
    except zlib.error:
        return body


def _parse_xml(body: bytes, url: str, headers: dict[str, str], engine: Engine) -> ParsedFeed | None:
    # Our own base for links: a relative Content-Location is relative to the URL,
    # and one that is not http(s) (javascript:, say) is ignored.
    location = headers.pop("content-location", "")
    base = resolve_link(location, url) or url if url else ""
    # Without a base feedparser leaves ids alone: an RSS <guid> is a permalink by
    # default, and resolving "1234" against the feed URL would make entry identity
    # change whenever the feed moves.  Links are resolved below, by us.
    # Headers without a Content-Type make feedparser flag "no Content-type specified";
    # application/xml lets the document's own encoding declaration decide, as if none.
    headers.setdefault("content-type", "application/xml")
    d: Any = None
    if engine != "feedparser":
        from veille.sources.feed import fastparse  # lazy, as feedparser: worker only

        d, _declined = fastparse.parse(body, headers)
        if d is None and engine == "fast":
            return None
    if d is None:
        import feedparser  # worker process only, when needed

        # BytesIO, not bytes: feedparser tries to open() a bytes argument as a file name.
        d = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    bozo = bool(d.get("bozo"))
    reason = one_line(d.get("bozo_exception")) if bozo else ""
    raw_entries = d.get("entries") or []
    version = d.get("version") or ""
    if not raw_entries:
        if looks_like_html(body):
            return ParsedFeed(error="this is an HTML page, not a feed")
        # Malformed XML with nothing recovered is an error.  An empty channel is a
        # feed, even one flagged for its charset, or whose title the loose parser
        # recovered (an undeclared itunes: prefix in a podcast with no episodes yet).
        feed = d.get("feed") or {}
        broken = isinstance(d.get("bozo_exception"), xml.sax.SAXException)
        if (broken and not (feed.get("title") or feed.get("link"))) or not (version or feed):
            return ParsedFeed(error=f"not a feed: {reason or 'no feed elements found'}")
    feed = d.get("feed") or {}  # e.g. a CDF channel: no version, still a feed
    feed_author = clean_line(feed.get("author"))
    out = ParsedFeed(
        title=_detail_line(feed, "title"),
        link=resolve_link(feed.get("link"), base),
        version=version,
        ttl_minutes=_ttl(feed.get("ttl")),
        bozo=bozo,
        bozo_reason=reason,
    )
    for e in raw_entries:
        try:
            out.entries.append(_entry(e, base, feed_author))
        except Exception:  # one odd entry must not cost the others
            log.exception("skipped an entry of %s", url or "a feed")
    return out


def _entry(fpd: Any, base: str, feed_author: str) -> ParsedEntry:
    # FeedParserDict lookups go through alias and fallback logic (~1 us each, a
    # quarter of the parse time); read the computed key once, then use a dict.
    try:
        encs = fpd.get("enclosures")
    except (TypeError, KeyError):  # a stray <links> element: its text where links go
        encs = None
    e = dict(fpd)
    title = _detail_line(e, "title")
    link = resolve_link(e.get("link"), base)
    published = iso_utc(e.get("published_parsed"))
    # dict.get: FeedParserDict falls back from updated to published (and warns).
    # updated_parsed holds Atom <updated>, RSS 1.0 <dc:date> and <lastBuildDate>.
    updated = iso_utc(e.get("updated_parsed"))
    content, ctype, content_base = _pick_content(e)
    # Relative links in the body resolve against the xml:base in force where the
    # body was written (Daring Fireball puts it on <content>), else the document's.
    content_base = resolve_link(content_base, base) or base
    summary_src = e.get("summary") or ""
    if summary_src and summary_src != content:
        summary = plain_summary(summary_src, _kind(e.get("summary_detail")))
    else:
        summary = plain_summary(content, ctype)
    return ParsedEntry(
        # The key keeps its historical date basis: changing it would resurface items.
        key=entry_key(e.get("id"), link, title, published or updated or "", content),
        title=title,
        link=link,
        author=clean_line(e.get("author")) or feed_author,
        # The entry's own dates, never the fetch time: with none at all it stays None.
        published=published or updated or iso_utc(e.get("created_parsed")),
        updated=updated,
        summary=summary,
        content=clean_text(content),
        content_type=ctype,
        categories=_categories(e.get("tags")),
        enclosures=_enclosures(encs, content_base),
        image=_image(e, encs, content_base),
        base=content_base,
    )


def _kind(detail: Any) -> str:
    """feedparser's MIME type of a text construct → "html" or "text" (other text/*)."""
    t = ((detail or {}).get("type") or "text/html").lower()
    return "html" if "html" in t or not t.startswith("text/") else "text"


def _detail_line(obj: Any, name: str) -> str:
    """A one-line title; HTML-typed titles (Atom type="html") lose their tags."""
    value = obj.get(name) or ""
    if value and _kind(obj.get(name + "_detail")) == "html" and ("<" in value or "&" in value):
        return clean_line(html_to_text(value))
    return clean_line(value)


def _pick_content(e: Any) -> tuple[str, str, str]:
    """The body to render (the first HTML ``content``, else the first, else the
    summary), its kind, and the xml:base feedparser saw in force around it."""
    contents = [c for c in e.get("content") or [] if c.get("value")]
    if contents:
        chosen = next((c for c in contents if _kind(c) == "html"), contents[0])
        return chosen["value"], _kind(chosen), chosen.get("base") or ""
    summary = e.get("summary") or ""
    detail = e.get("summary_detail") or e.get("title_detail") or {}
    return summary, _kind(e.get("summary_detail")), detail.get("base") or ""


def _categories(tags: Any) -> list[str]:
    seen: dict[str, None] = {}
    for t in tags or []:
        term = clean_line(t.get("term") or t.get("label"))
        if term:
            seen.setdefault(term, None)
    return list(seen)


def _enclosures(encs: Any, base: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for enc in encs or []:
        href = resolve_link(enc.get("href") or enc.get("url"), base, ENCLOSURE_SCHEMES)
        if href:
            out.append(
                {
                    "url": href,
                    "type": clean_line(enc.get("type")) or None,
                    "length": to_int(enc.get("length")),
                }
            )
    return out


def _image(e: Any, encs: Any, base: str) -> str:
    for thumb in e.get("media_thumbnail") or []:
        if url := resolve_link(thumb.get("url"), base):
            return url
    for media in e.get("media_content") or []:
        is_image = media.get("medium") == "image" or (media.get("type") or "").startswith("image/")
        if is_image and (url := resolve_link(media.get("url"), base)):
            return url
    for enc in encs or []:
        is_image = (enc.get("type") or "").startswith("image/")
        if is_image and (url := resolve_link(enc.get("href"), base)):
            return url
    image = e.get("image")
    if isinstance(image, dict):
        return resolve_link(image.get("href") or image.get("url"), base)
    return ""


def _ttl(value: Any) -> int | None:
    n = to_int(value)
    return n if n and n > 0 else None
