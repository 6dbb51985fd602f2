"""Find the feed(s) behind a web page URL: the "paste a site, get its feed" step.

Order of attempts: the URL itself may be a feed; else the page's
``<link rel="alternate">`` tags; else a few well-known paths (WordPress, Blogger, Hugo,
Jekyll...) probed with the same ``get`` and kept only when they sniff as a feed.

The HTTP client is injected (``get(url) -> (status, content_type, body, final_url)``,
status ``None`` for a network failure) so the CLI can pass its Fetcher, with its
politeness rules, and tests can pass a plain httpx client.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin, urlsplit

from veille.extract import decode_html
from veille.render.hygiene import HtmlTokenizer, clean_line, parse_attrs
from veille.util.urls import UrlError, http_url

__all__ = [
    "COMMON_PATHS",
    "Discovery",
    "FeedCandidate",
    "Getter",
    "discover",
    "find_feed_links",
    "looks_like_feed",
    "sniff_feed_type",
]

COMMON_PATHS = (
    "/feed",
    "/rss.xml",
    "/atom.xml",
    "/feed.xml",
    "/index.xml",
    "/rss",
    "/feed.json",
    "/feeds/posts/default",
    "/?feed=rss2",
)

Getter = Callable[[str], Awaitable[tuple[int | None, str, bytes | None, str]]]

log = logging.getLogger(__name__)

_HEAD_LIMIT = 200_000  # bytes of HTML we read looking for <link> tags
_SLICE = 16_384  # characters tokenized between two looks at "is the head over?"
_FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "application/x-rss+xml",
    "application/x-atom+xml",
}
_FEEDISH_HREF = re.compile(r"(\.rss|\.xml|\.atom|rss|feed|atom)/?$", re.I)
_PROBE_CONCURRENCY = 3


@dataclass
class FeedCandidate:
    """A URL that is (or is declared to be) a feed."""

    url: str
    title: str = ""
    type: str = ""  # MIME type if declared (or sniffed, for a URL that is itself a feed)


@dataclass
class Discovery:
    """What :func:`discover` found.

    ``kind`` is ``"feed"`` (the URL is a feed: one candidate), ``"page"`` (candidates
    found on or around a page; an empty list means none) or ``"error"`` (``error`` holds
    a one-line reason; no exception escapes for HTTP or network failures).
    It unpacks as ``kind, candidates = await discover(...)``.
    """

    kind: Literal["feed", "page", "error"]
    candidates: list[FeedCandidate] = field(default_factory=list)
    error: str = ""
    url: str = ""  # the final URL of the page (after redirects)

    def __iter__(self) -> Iterator[object]:
        yield self.kind
        yield self.candidates


# --- <link rel="alternate"> ---------------------------------------------------------------


class _LinkParser(HtmlTokenizer):
    """The head's ``<base href>`` and feed ``<link>`` elements.

    On the renderer's tokenizer (:class:`~veille.render.hygiene.HtmlTokenizer`), not
    the stdlib ``HTMLParser``: discovery reads up to 200 KB of an arbitrary page, and
    ``HTMLParser`` is quadratic on text that looks like unclosed tags (``x <a y``
    repeated), where this one is linear.
    """

    def __init__(self) -> None:
        self.base: str | None = None
        self.links: list[tuple[str, str, str]] = []  # href, title, type
        self.done = False

    def read(self, text: str) -> None:
        """Tokenize ``text`` up to the end of the head, in slices, so a huge body is
        not read once the head is closed."""
        pos, n = 0, len(text)
        while pos < n and not self.done:
            pos = self.scan(text, pos, pos + _SLICE)

    def handle_starttag(self, tag: str, attrs: str, closed: bool) -> None:
        if self.done or tag == "body":  # <body> closes the head, even without </head>
            self.done = True
            return
        if tag not in ("base", "link"):
            return
        a = parse_attrs(attrs)
        if tag == "base" and self.base is None and a.get("href", "").strip():
            self.base = a["href"].strip()
        elif tag == "link":
            rels = a.get("rel", "").lower().split()
            mime = a.get("type", "").split(";", 1)[0].strip().lower()
            href = a.get("href", "").strip()
            if href and _is_feed_link(rels, mime, href, a.get("title", "")):
                self.links.append((href, a.get("title", ""), mime))

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.done = True


def _is_feed_link(rels: list[str], mime: str, href: str, title: str) -> bool:
    if "alternate" not in rels and "feed" not in rels:
        return False
    if mime in _FEED_TYPES:
        return True
    if mime == "application/json":
        # WordPress declares its REST API the same way; only JSON Feeds say "feed".
        return "/wp-json/" not in href and ("feed" in href.lower() or "feed" in title.lower())
    if mime:
        return False
    try:
        path = urlsplit(href).path
    except ValueError:  # "http://[::1" in a page: not a link we could follow anyway
        return False
    return bool(_FEEDISH_HREF.search(path or href))


def _absolute(base: str, href: str) -> str:
    """``href`` resolved against ``base`` if that gives a usable http(s) URL, else ""."""
    try:
        return http_url(urljoin(base, href), bare=False)
    except ValueError:  # UrlError, or urljoin meeting a malformed IPv6 literal
        return ""


def find_feed_links(
    html_doc: str | bytes, base_url: str, content_type: str = ""
) -> list[FeedCandidate]:
    """Feed links declared in a page's head, resolved, de-duplicated, in page order.

    Reads up to ``</head>`` (or the first 200 KB); honours ``<base href>`` wherever it
    appears in the head; keeps only http(s) URLs.  Bytes are decoded as a browser
    would (:func:`veille.extract.decode_html`: BOM, the ``charset`` of
    ``content_type``, ``<meta charset>``, UTF-8, else windows-1252).
    """
    text = _head_text(html_doc, content_type)
    p = _LinkParser()
    p.read(text)
    base = (_absolute(base_url, p.base) or base_url) if p.base else base_url
    out: list[FeedCandidate] = []
    seen: set[str] = set()
    for href, title, mime in p.links:
        url = _absolute(base, href)
        if url and url not in seen:
            seen.add(url)
            out.append(FeedCandidate(url, clean_line(title), mime))
    return out


def _head_text(html_doc: str | bytes, content_type: str) -> str:
    """The first 200 KB of the page as text."""
    if isinstance(html_doc, str):
        return html_doc[:_HEAD_LIMIT]
    head = html_doc[:_HEAD_LIMIT]
    if len(html_doc) > _HEAD_LIMIT:
        # Cut before a "<": never inside a multi-byte character, which would make
        # valid UTF-8 look invalid and the whole head be read as windows-1252.
        cut = head.rfind(b"<")
        head = head[:cut] if cut > 0 else head
    return decode_html(head, content_type)


# --- sniffing -----------------------------------------------------------------------------

_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)", re.S | re.I)
_ROOT = re.compile(r"\s*<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_XML_ROOTS = {
    "rss": "application/rss+xml",
    "feed": "application/atom+xml",
    "rdf": "application/rdf+xml",
}
_JSONFEED_VERSION = "jsonfeed.org/version/"


def sniff_feed_type(body: bytes | None, content_type: str = "") -> str:
    """The feed MIME type the body looks like, or "" if it is not a feed.

    The body decides, not the header: servers label feeds text/html, text/plain or
    octet-stream all the time, and label HTML error pages application/rss+xml.
    """
    if not body:
        return ""
    head = body[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8", errors="ignore")
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        return "application/feed+json" if _is_json_feed(body) else ""
    pos = 0
    while m := _PROLOG.match(text, pos):
        pos = m.end()
    root = _ROOT.match(text, pos)
    if not root:
        return ""
    local = root.group(2).lower()
    if local == "rdf" and not (root.group(1) or "").lower().startswith("rdf"):
        return ""
    return _XML_ROOTS.get(local, "")


def looks_like_feed(body: bytes | None, content_type: str = "") -> bool:
    """Cheap sniff: an XML document rooted at rss/feed/rdf:RDF, or a JSON Feed."""
    return bool(sniff_feed_type(body, content_type))


def _is_json_feed(body: bytes) -> bool:
    try:
        doc = json.loads(body.decode("utf-8-sig", errors="replace"))
    except ValueError:
        return False
    version = doc.get("version") if isinstance(doc, dict) else None
    return isinstance(version, str) and _JSONFEED_VERSION in version


def _feed_title(body: bytes, mime: str) -> str:
    """The feed's own title, cheaply (a regex on the first few KB; JSON parsed)."""
    if mime == "application/feed+json":
        try:
            doc = json.loads(body.decode("utf-8-sig", errors="replace"))
        except ValueError:
            return ""
        return clean_line(doc.get("title") if isinstance(doc.get("title"), str) else "")
    m = re.search(rb"<(?:\w+:)?title(?:\s[^>]*)?>(.*?)</(?:\w+:)?title>", body[:16384], re.S)
    if not m:
        return ""
    raw = m.group(1).decode("utf-8", errors="replace")
    raw = re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", raw, flags=re.S)
    return clean_line(html.unescape(raw))


# --- the whole step -----------------------------------------------------------------------


async def discover(url: str, get: Getter) -> Discovery:
    """Find feeds for ``url``. Never raises for HTTP or network errors (see Discovery).

    A bare host or path without a scheme (``example.com/blog``) is tried as https;
    ``feed://`` URLs as http.
    """
    try:
        url = http_url(url)
    except UrlError as exc:
        return Discovery("error", error=str(exc))
    status, ctype, body, final = await _safe_get(get, url)
    final = final or url
    if status is None:
        return Discovery("error", error=f"could not fetch {url}: {ctype or 'no response'}")
    if not 200 <= status < 300:
        return Discovery("error", error=f"HTTP {status} from {final}", url=final)
    if not body:
        return Discovery("error", error=f"empty response from {final}", url=final)
    mime = sniff_feed_type(body, ctype)
    if mime:
        return Discovery("feed", [FeedCandidate(final, _feed_title(body, mime), mime)], url=final)
    found = find_feed_links(body, final, ctype)
    if found:
        return Discovery("page", found, url=final)
    return Discovery("page", await _probe_common_paths(final, get), url=final)


async def _safe_get(get: Getter, url: str) -> tuple[int | None, str, bytes | None, str]:
    try:
        return await get(url)
    except Exception as e:  # the injected client may raise (DNS, refused, TLS...)
        log.exception("discovery could not fetch %s", url)
        reason = clean_line(str(e)) or type(e).__name__
        return None, reason, None, url


def _probe_urls(page_url: str) -> list[str]:
    """Well-known feed paths under the page's directory first (a blog at /~me/ or
    /blog/ is likelier to be what the user meant), then under the origin."""
    parts = urlsplit(page_url)
    origin = f"{parts.scheme}://{parts.netloc}/"
    directory = urljoin(page_url, ".")
    bases = [directory, origin] if directory != origin else [origin]
    out: list[str] = []
    for base in bases:
        for path in COMMON_PATHS:
            u = urljoin(base, path.lstrip("/"))
            if u not in out:
                out.append(u)
    return out


async def _probe_common_paths(page_url: str, get: Getter) -> list[FeedCandidate]:
    limit = asyncio.Semaphore(_PROBE_CONCURRENCY)

    async def probe(u: str) -> tuple[str, str, bytes] | None:
        async with limit:
            status, ctype, body, final = await _safe_get(get, u)
        if status is None or not 200 <= status < 300 or not body:
            return None
        mime = sniff_feed_type(body, ctype)
        return (final or u, mime, body) if mime else None

    results = await asyncio.gather(*(probe(u) for u in _probe_urls(page_url)))
    out: list[FeedCandidate] = []
    seen_urls: set[str] = set()
    seen_bodies: set[bytes] = set()  # /feed and /rss often serve the same document
    for r in results:
        if r is None:
            continue
        final, mime, body = r
        digest = hashlib.sha256(body).digest()
        if final in seen_urls or digest in seen_bodies:
            continue
        seen_urls.add(final)
        seen_bodies.add(digest)
        out.append(FeedCandidate(final, _feed_title(body, mime), mime))
    return out
