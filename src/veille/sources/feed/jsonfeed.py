"""JSON Feed 1.0 / 1.1 → :class:`ParsedFeed` (feedparser 6.0.14 cannot read JSON Feed).

Real JSON feeds are sloppy (numbers for ids, a dict where a list belongs), so
every field is type-checked and a wrong type is simply ignored, never fatal.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.render.hygiene import clean_line, clean_text
from veille.sources.feed.common import (
    ENCLOSURE_SCHEMES,
    entry_key,
    iso_utc,
    one_line,
    plain_summary,
    to_int,
)
from veille.util.dates import parse_http_date, parse_iso
from veille.util.urls import resolve_link

__all__ = ["parse_json_feed"]

_BOM = b"\xef\xbb\xbf"


def parse_json_feed(body: bytes, url: str = "") -> ParsedFeed:
    """Parse a JSON Feed document; problems become ``ParsedFeed(error=...)``."""
    try:
        doc = _load(body)
    except ValueError as exc:
        return ParsedFeed(error=f"not a feed: invalid JSON ({one_line(exc)})")
    if not isinstance(doc, dict):
        return ParsedFeed(error="not a feed: JSON document is not an object")
    version = _version(doc.get("version"))
    items = doc.get("items")
    if not version:
        if not isinstance(items, list):
            return ParsedFeed(error="not a feed: JSON without a JSON Feed version")
        version = "json"
    feed_authors = _authors(doc)
    out = ParsedFeed(
        title=clean_line(_str(doc.get("title"))),
        link=resolve_link(doc.get("home_page_url"), url),
        version=version,
    )
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            out.entries.append(_entry(item, url, feed_authors))
    return out


def _load(body: bytes) -> Any:
    body = body.lstrip()
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        # orjson insists on valid UTF-8; the stdlib, given replaced text, is laxer.
        return json.loads(body.decode("utf-8", "replace"))


def _version(value: Any) -> str:
    if not isinstance(value, str) or "jsonfeed.org/version/" not in value:
        return ""
    tail = value.rstrip("/").rsplit("/", 1)[-1]
    return {"1": "json10", "1.1": "json11"}.get(tail, "json")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _entry(item: dict[str, Any], base: str, feed_authors: str) -> ParsedEntry:
    link = resolve_link(item.get("url"), base) or resolve_link(item.get("external_url"), base)
    title = clean_line(_str(item.get("title")))
    published = _date(item.get("date_published"))
    updated = _date(item.get("date_modified"))
    html, text = _str(item.get("content_html")), _str(item.get("content_text"))
    content, ctype = (html, "html") if html else (text, "text")
    summary_src = _str(item.get("summary"))
    summary = plain_summary(summary_src, "text") if summary_src else plain_summary(content, ctype)
    tags = item.get("tags")
    categories = (
        list(dict.fromkeys(t for t in (clean_line(x) for x in tags if isinstance(x, str)) if t))
        if isinstance(tags, list)
        else []
    )
    image = resolve_link(item.get("image"), base) or resolve_link(item.get("banner_image"), base)
    enclosures = _attachments(item.get("attachments"), base)
    if not image:
        image = next((e["url"] for e in enclosures if (e["type"] or "").startswith("image/")), "")
    return ParsedEntry(
        key=entry_key(item.get("id"), link, title, published or updated or "", content),
        title=title,
        link=link,
        author=_authors(item) or feed_authors,
        # As for XML feeds: the item's own dates, never the time it was fetched.
        published=published or updated,
        updated=updated,
        summary=summary,
        content=clean_text(content),
        content_type=ctype,
        categories=categories,
        enclosures=enclosures,
        image=image,
        # JSON Feed has no xml:base: relative URLs are relative to the document.
        base=base,
    )


def _authors(obj: dict[str, Any]) -> str:
    """Names from 1.1 ``authors`` (else 1.0 ``author``), comma-joined.

    An author with no name but a ``mailto:`` URL is known by that address.
    """
    raw = obj.get("authors")
    if not isinstance(raw, list) or not raw:
        raw = [obj.get("author")]
    names: list[str] = []
    for a in raw:
        if not isinstance(a, dict):
            continue
        name = clean_line(_str(a.get("name")))
        if not name and _str(a.get("url")).startswith("mailto:"):
            name = clean_line(a["url"][len("mailto:") :])
        if name and name not in names:
            names.append(name)
    return ", ".join(names)


def _attachments(raw: Any, base: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for att in raw if isinstance(raw, list) else []:
        if not isinstance(att, dict):
            continue
        url = resolve_link(att.get("url"), base, ENCLOSURE_SCHEMES)
        if url:
            out.append(
                {
                    "url": url,
                    "type": clean_line(_str(att.get("mime_type"))) or None,
                    "length": to_int(att.get("size_in_bytes")),
                }
            )
    return out


def _date(value: Any) -> str | None:
    """RFC 3339 (the spec), with RFC 822 as a fallback for feeds that get it wrong."""
    if not isinstance(value, str) or not value.strip():
        return None
    return iso_utc(parse_iso(value) or parse_http_date(value))
