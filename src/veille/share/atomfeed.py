"""The curator's shares as a public Atom 1.0 feed, like Google Reader's
"shared items with note": each entry links to the original item, carries the
comment as its content and names the original feed in ``atom:source``.

Built with ElementTree (it escapes); characters XML 1.0 forbids are removed
from every text first, since feed text is untrusted.  The file is replaced
atomically so a reader polling it never sees half a feed.
"""

from __future__ import annotations

import html
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from veille import __version__
from veille.domain.share import Share
from veille.share.compose import paragraphs_html
from veille.util.atomicfile import write_atomic
from veille.util.dates import iso, parse_iso
from veille.util.urls import resolve_link

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_SHARE_NS = uuid.UUID("6f1c7a52-3d0e-5b8e-9a4e-7c2b0d9e4f11")  # fixed: ids must stay stable
_ILLEGAL_XML = re.compile(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LINK_SCHEMES = frozenset({"http", "https", "gemini", "gopher"})

ET.register_namespace("", ATOM_NS)


def xml_text(text: str | None) -> str:
    """Text with the characters XML 1.0 cannot carry removed."""
    return _ILLEGAL_XML.sub("", text or "")


def entry_id(share_id: str) -> str:
    """A stable ``urn:uuid:`` for a share, the same on every write."""
    return f"urn:uuid:{uuid.uuid5(_SHARE_NS, share_id)}"


def _share_time(share: Share) -> datetime:
    return parse_iso(share.created) or datetime.fromtimestamp(0, UTC)


def _safe_url(url: str) -> str:
    """The URL if it is a web link; "" for javascript:, data: and the like."""
    return resolve_link(xml_text(url), "", _LINK_SCHEMES)


def site_url(share: Share) -> str:
    """Where "via" points: the source's website, not its feed XML.

    The feed's ``site_url`` when known; else the feed URL's origin (a feed at
    ``https://example.com/feed.xml`` is most often the site ``https://example.com/``);
    else the item's own link.
    """
    site = _safe_url(share.source_site)
    if site:
        return site
    feed = _safe_url(share.source_url)
    if feed:
        parts = urlsplit(feed)
        return f"{parts.scheme}://{parts.netloc}/"
    return _safe_url(share.link)


def comment_html(share: Share) -> str:
    """The comment as escaped HTML paragraphs, '> ' runs as blockquotes, then "via"."""
    body = paragraphs_html(xml_text(share.comment))
    parts: list[str] = [body] if body else []
    via = xml_text(share.via).strip()
    if via:
        link = site_url(share)
        text = html.escape(via)
        if link:
            text = f'<a href="{html.escape(link)}">{text}</a>'
        parts.append(f"<p>{text}</p>")
    return "\n".join(parts)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def _entry(feed: ET.Element, share: Share, author: str) -> None:
    entry = _sub(feed, "entry")
    if share.language:
        entry.set(XML_LANG, xml_text(share.language))
    when = iso(_share_time(share))
    _sub(entry, "id", entry_id(share.id))
    _sub(entry, "title", " ".join(xml_text(share.title).split()) or share.link or "Shared item")
    _sub(entry, "updated", when)
    _sub(entry, "published", when)
    link = _safe_url(share.link)
    if link:
        _sub(entry, "link", rel="alternate", type="text/html", href=link)
    if author:
        _sub(_sub(entry, "author"), "name", author)
    for tag in share.hashtags:
        term = tag.lstrip("#").strip()
        if term:
            _sub(entry, "category", term=term)
    _sub(entry, "content", comment_html(share), type="html")
    source_url = _safe_url(share.source_url)
    if source_url or share.source:
        source = _sub(entry, "source")
        if source_url:
            _sub(source, "id", source_url)
            _sub(source, "link", rel="self", href=source_url)
        _sub(source, "title", share.source or source_url)
        origin = parse_iso(share.published) or _share_time(share)
        _sub(source, "updated", iso(origin))
        if share.author:
            _sub(_sub(source, "author"), "name", share.author)


def build_atom(
    shares: list[Share], *, title: str, author: str, feed_id: str, self_url: str | None = None
) -> bytes:
    """The feed document, newest share first."""
    ordered = sorted(shares, key=_share_time, reverse=True)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title or "Shared items")
    newest = _share_time(ordered[0]) if ordered else datetime.now(UTC)
    _sub(feed, "updated", iso(newest))
    if self_url:
        _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(_sub(feed, "author"), "name", author or "veille")
    _sub(feed, "generator", "veille", version=__version__)
    for share in ordered:
        _entry(feed, share, author)
    ET.indent(feed)
    data: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def write_atom(
    path: Path,
    shares: list[Share],
    *,
    title: str,
    author: str,
    feed_id: str,
    self_url: str | None = None,
) -> None:
    """Write the shares' Atom feed to ``path`` atomically."""
    data = build_atom(shares, title=title, author=author, feed_id=feed_id, self_url=self_url)
    write_atomic(Path(path), data)
