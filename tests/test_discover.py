"""Feed discovery against a real HTTP server on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from pytest_httpserver import HTTPServer

from veille.sources.feed.discover import (
    COMMON_PATHS,
    Discovery,
    FeedCandidate,
    Getter,
    discover,
    find_feed_links,
    looks_like_feed,
    sniff_feed_type,
)

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- generator: test -->
<rss version="2.0"><channel><title>Site &amp; Co RSS</title><link>http://x/</link>
<item><title>one</title></item></channel></rss>"""
ATOM = b"""\xef\xbb\xbf<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="text"><![CDATA[Atom <Title>]]></title>
</feed>"""
RDF = b"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY x "y"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel><title>RDF site</title></channel></rdf:RDF>"""
JSON_FEED = b'{"version": "https://jsonfeed.org/version/1.1", "title": "JSON site", "items": []}'
HTML_NO_LINKS = b"<!doctype html><html><head><title>Plain</title></head><body>hi</body></html>"


@pytest.fixture
async def get() -> AsyncIterator[Getter]:
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as client:

        async def _get(url: str) -> tuple[int | None, str, bytes | None, str]:
            r = await client.get(url)
            return r.status_code, r.headers.get("content-type", ""), r.content, str(r.url)

        yield _get


def page(head: str, body: str = "<p>text</p>") -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


# --- find_feed_links (pure) -----------------------------------------------------------------


def test_find_feed_links_filters_types_rels_and_resolves() -> None:
    html = page(
        '<link rel="stylesheet" href="/s.css">'
        '<LINK REL="Alternate" TYPE="application/RSS+xml; charset=utf-8" title="Posts" '
        'href="/feed/">'
        '<link rel="alternate" type="application/atom+xml" title="Atom" href="atom.xml">'
        '<link rel="alternate feed" type="application/feed+json" href="//cdn.example/f.json">'
        '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/12">'
        '<link rel="alternate" type="application/json+oembed" href="/oembed?x=1">'
        '<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">'
        '<link rel="alternate stylesheet" type="text/css" href="/alt.css">'
        '<link rel="alternate" href="/comments/rss">'  # no type, feed-like href
        '<link rel="alternate" href="/about">'  # no type, not feed-like
        '<link rel="alternate" type="application/rss+xml" href="/feed/">'  # duplicate
        '<link rel="alternate" type="application/rss+xml" href="ftp://x.example/f">'
        '<link rel="alternate" type="application/rss+xml" title="Evil\x1b[2J&#x202e;" '
        'href="feed://y.example/rss">'
    )
    found = find_feed_links(html, "https://site.example/blog/post.html")
    assert found == [
        FeedCandidate("https://site.example/feed/", "Posts", "application/rss+xml"),
        FeedCandidate("https://site.example/blog/atom.xml", "Atom", "application/atom+xml"),
        FeedCandidate("https://cdn.example/f.json", "", "application/feed+json"),
        FeedCandidate("https://site.example/comments/rss", "", ""),
        FeedCandidate("http://y.example/rss", "Evil", "application/rss+xml"),
    ]


def test_find_feed_links_base_href_and_head_only() -> None:
    html = page(
        '<link rel="alternate" type="application/rss+xml" href="rss.xml"><base href="/sub/dir/">',
        body='<link rel="alternate" type="application/atom+xml" href="/in-body.xml">',
    )
    found = find_feed_links(html, "https://b.example/a/b/page")
    # <base> applies to links before it too; links after </head> are not read.
    assert [c.url for c in found] == ["https://b.example/sub/dir/rss.xml"]


def test_find_feed_links_broken_html_and_charset() -> None:
    html = (
        b'<html><head><meta charset="iso-8859-1"><link rel=alternate '
        b"type=application/rss+xml title='Caf\xe9' href=/rss><p><div>"
        b'<link rel="alternate" type="application/atom+xml" href="/atom"'
    )
    found = find_feed_links(html, "http://c.example/")
    assert found[0] == FeedCandidate("http://c.example/rss", "Café", "application/rss+xml")
    assert find_feed_links("", "http://c.example/") == []
    assert find_feed_links(b"\x00\xff<<<>>>", "http://c.example/") == []


def test_find_feed_links_decodes_as_a_browser_does() -> None:
    link = b"<link rel=alternate type=application/rss+xml title='Caf\xe9 cr\xe8me' href=/rss>"
    # No charset anywhere and not UTF-8: windows-1252, the web's default.
    found = find_feed_links(b"<html><head>" + link, "http://c.example/")
    assert found[0].title == "Café crème"
    # The HTTP header's charset comes before the page's own guess.
    koi8 = "<head><link rel=alternate type=application/rss+xml title='Лента' href=/rss>"
    found = find_feed_links(koi8.encode("koi8-r"), "http://c.example/", "text/html; charset=koi8-r")
    assert found[0].title == "Лента"


def test_find_feed_links_reads_a_long_utf8_head_as_utf8() -> None:
    # The 200 KB cut must not split a character: "é" on both sides of it.
    filler = "<meta name=x content='" + "é" * 90_000 + "'>"
    html = page(filler + "<link rel=alternate type=application/rss+xml title='Café' href=/f>")
    html += ("<meta content='" + "é" * 60_000 + "'>").encode()
    assert len(html) > 200_000
    assert find_feed_links(html, "http://c.example/")[0].title == "Café"


def test_find_feed_links_on_text_that_looks_like_unclosed_tags() -> None:
    # html.parser is quadratic on this when no ">" follows (about a minute for 109 KB;
    # benchmarks/discover_bench.py has the figures); the links around it must be found.
    junk = "x <a y " * 10_000
    html = f"<html><head><title>{junk}</title><script>{junk}</script>"
    html += "<link rel=alternate type=application/atom+xml href=/atom></head><body>" + junk
    assert [c.url for c in find_feed_links(html, "http://c.example/")] == ["http://c.example/atom"]
    html = "<html><head><link rel=feed href=/feed.xml>" + junk * 3
    assert [c.url for c in find_feed_links(html, "http://c.example/")] == [
        "http://c.example/feed.xml"
    ]


# --- sniffing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "mime"),
    [
        (RSS, "application/rss+xml"),
        (ATOM, "application/atom+xml"),
        (RDF, "application/rdf+xml"),
        (JSON_FEED, "application/feed+json"),
        (b'  <atom:feed xmlns:atom="http://www.w3.org/2005/Atom"/>', "application/atom+xml"),
        ('<?xml version="1.0" encoding="utf-16"?><rss/>'.encode("utf-16"), "application/rss+xml"),
        (HTML_NO_LINKS, ""),
        (b"<?xml version='1.0'?><opml version='2.0'/>", ""),
        (b'<?xml version="1.0"?><RDF/>', ""),  # no rdf prefix: not RSS 1.0
        (b'{"version": "1.0", "items": []}', ""),
        (b'["https://jsonfeed.org/version/1"]', ""),
        (b"{not json", ""),
        (b"", ""),
        (None, ""),
    ],
)
def test_sniff(body: bytes | None, mime: str) -> None:
    assert sniff_feed_type(body, "text/html") == mime
    assert looks_like_feed(body, "application/rss+xml") is bool(mime)


# --- discover against a real server ---------------------------------------------------------


async def test_page_with_alternate_links(httpserver: HTTPServer, get: Getter) -> None:
    httpserver.expect_request("/blog/").respond_with_data(
        page(
            '<link rel="alternate" type="application/rss+xml" title="RSS" href="/blog/feed">'
            '<link rel="alternate" type="application/atom+xml" title="Atom" href="atom.xml">'
        ),
        content_type="text/html; charset=utf-8",
    )
    url = httpserver.url_for("/blog/")
    result = await discover(url, get)
    assert isinstance(result, Discovery)
    kind, candidates = result
    assert kind == "page"
    assert candidates == [
        FeedCandidate(httpserver.url_for("/blog/feed"), "RSS", "application/rss+xml"),
        FeedCandidate(httpserver.url_for("/blog/atom.xml"), "Atom", "application/atom+xml"),
    ]
    assert result.error == ""
    # Declared links are trusted, not fetched: only the page was requested.
    assert [r.path for r, _ in httpserver.log] == ["/blog/"]


async def test_relative_hrefs_after_a_redirect(httpserver: HTTPServer, get: Getter) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/new/section/index.html")}
    )
    httpserver.expect_request("/new/section/index.html").respond_with_data(
        page('<link rel="alternate" type="application/rss+xml" href="../feed.rss">'),
        content_type="text/html",
    )
    result = await discover(httpserver.url_for("/old"), get)
    assert result.kind == "page"
    assert result.url == httpserver.url_for("/new/section/index.html")
    assert [c.url for c in result.candidates] == [httpserver.url_for("/new/feed.rss")]


async def test_base_href(httpserver: HTTPServer, get: Getter) -> None:
    httpserver.expect_request("/a/page").respond_with_data(
        page(
            '<base href="/elsewhere/">'
            '<link rel="alternate" type="application/atom+xml" href="posts.atom">'
            '<link rel="alternate" type="application/feed+json" href="https://j.example/f">'
        ),
        content_type="text/html",
    )
    kind, candidates = await discover(httpserver.url_for("/a/page"), get)
    assert kind == "page"
    assert [c.url for c in candidates] == [
        httpserver.url_for("/elsewhere/posts.atom"),
        "https://j.example/f",
    ]


async def test_no_links_but_common_paths(httpserver: HTTPServer, get: Getter) -> None:
    # Registered before "/", which would match any query string.
    httpserver.expect_request("/", query_string="feed=rss2").respond_with_data(
        JSON_FEED, content_type="application/json"
    )
    httpserver.expect_request("/").respond_with_data(HTML_NO_LINKS, content_type="text/html")
    httpserver.expect_request("/feed").respond_with_data(RSS, content_type="text/plain")
    # The same document under a second path is one candidate, not two.
    httpserver.expect_request("/rss").respond_with_data(RSS, content_type="application/xml")
    # A soft 404 (HTML with 200) and a real 404 are not feeds.
    httpserver.expect_request("/atom.xml").respond_with_data(HTML_NO_LINKS)
    httpserver.expect_request("/rss.xml").respond_with_data("nope", status=404)
    result = await discover(httpserver.url_for("/"), get)
    assert result.kind == "page"
    assert result.candidates == [
        FeedCandidate(httpserver.url_for("/feed"), "Site & Co RSS", "application/rss+xml"),
        FeedCandidate(httpserver.url_for("/?feed=rss2"), "JSON site", "application/feed+json"),
    ]
    probed = {r.full_path.rstrip("?") for r, _ in httpserver.log}
    assert probed == {"/", *COMMON_PATHS}


async def test_common_paths_in_the_page_directory(httpserver: HTTPServer, get: Getter) -> None:
    httpserver.expect_request("/~ann/index.html").respond_with_data(
        HTML_NO_LINKS, content_type="text/html"
    )
    httpserver.expect_request("/~ann/atom.xml").respond_with_data(ATOM)
    httpserver.expect_request("/feed.xml").respond_with_data(RDF)
    kind, candidates = await discover(httpserver.url_for("/~ann/index.html"), get)
    assert kind == "page"
    # The page's own directory first, then the site's origin.
    assert candidates == [
        FeedCandidate(httpserver.url_for("/~ann/atom.xml"), "Atom <Title>", "application/atom+xml"),
        FeedCandidate(httpserver.url_for("/feed.xml"), "RDF site", "application/rdf+xml"),
    ]


async def test_nothing_found(httpserver: HTTPServer, get: Getter) -> None:
    httpserver.expect_request("/plain").respond_with_data(HTML_NO_LINKS, content_type="text/html")
    result = await discover(httpserver.url_for("/plain"), get)
    assert result.kind == "page"
    assert result.candidates == []
    assert result.error == ""
    assert len(httpserver.log) == 1 + len(COMMON_PATHS)


async def test_url_is_itself_a_feed(httpserver: HTTPServer, get: Getter) -> None:
    # Mislabelled as HTML: the body decides.
    httpserver.expect_request("/feed").respond_with_data(RSS, content_type="text/html")
    kind, candidates = await discover(httpserver.url_for("/feed"), get)
    assert kind == "feed"
    assert candidates == [
        FeedCandidate(httpserver.url_for("/feed"), "Site & Co RSS", "application/rss+xml")
    ]
    assert len(httpserver.log) == 1


async def test_url_is_a_json_feed(httpserver: HTTPServer, get: Getter) -> None:
    httpserver.expect_request("/feed.json").respond_with_data(
        JSON_FEED, content_type="application/feed+json"
    )
    kind, candidates = await discover(httpserver.url_for("/feed.json"), get)
    assert kind == "feed"
    assert candidates == [
        FeedCandidate(httpserver.url_for("/feed.json"), "JSON site", "application/feed+json")
    ]


async def test_http_errors_are_results_not_exceptions(httpserver: HTTPServer, get: Getter) -> None:
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    httpserver.expect_request("/empty").respond_with_data(b"", status=200)
    gone = await discover(httpserver.url_for("/gone"), get)
    assert (gone.kind, gone.candidates) == ("error", [])
    assert gone.error == f"HTTP 410 from {httpserver.url_for('/gone')}"
    empty = await discover(httpserver.url_for("/empty"), get)
    assert empty.kind == "error" and "empty response" in empty.error


async def test_network_failure_is_a_result(get: Getter) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await discover(f"http://127.0.0.1:{port}/", get)
    assert result.kind == "error"
    assert result.error.startswith(f"could not fetch http://127.0.0.1:{port}/")
    assert "\n" not in result.error


async def test_getter_returning_none_status() -> None:
    async def offline(url: str) -> tuple[int | None, str, bytes | None, str]:
        return None, "timed out", None, url

    result = await discover("https://x.example/", offline)
    assert (result.kind, result.error) == ("error", "could not fetch https://x.example/: timed out")


async def test_url_without_scheme_or_with_feed_scheme() -> None:
    asked: list[str] = []

    async def offline(url: str) -> tuple[int | None, str, bytes | None, str]:
        asked.append(url)
        return None, "offline", None, url

    await discover("  example.com/blog ", offline)
    await discover("feed://example.org/rss", offline)
    assert asked == ["https://example.com/blog", "http://example.org/rss"]


# --- URLs that cannot be used ----------------------------------------------------------------


def test_a_malformed_link_does_not_hide_the_ones_after_it() -> None:
    # urlsplit raised on the first href inside the parser, which stopped the <link> scan.
    html = page(
        '<link rel="alternate" href="http://[::1/feed">'
        '<link rel="alternate" type="application/rss+xml" href="http://e.example:99999/rss">'
        '<link rel="alternate" type="application/atom+xml" href="/atom.xml">'
    )
    found = find_feed_links(html, "https://e.example/blog/")
    assert [c.url for c in found] == ["https://e.example/atom.xml"]


def test_a_bad_base_href_falls_back_to_the_page_url() -> None:
    html = page('<base href="http://[::1/"><link rel="alternate" href="/feed.xml">')
    assert [c.url for c in find_feed_links(html, "https://e.example/")] == [
        "https://e.example/feed.xml"
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1/x", "unbalanced [ ] around an IPv6 address"),
        ("http://e.example:99999/", "port out of range 1-65535"),
        ("mailto:me@e.example", "only http and https are supported, not mailto"),
    ],
)
async def test_discover_refuses_an_unusable_url_without_fetching(url: str, reason: str) -> None:
    asked: list[str] = []

    async def get(u: str) -> tuple[int | None, str, bytes | None, str]:
        asked.append(u)
        return None, "should not be called", None, u

    found = await discover(url, get)
    assert found.kind == "error" and asked == []
    assert found.error == f"not a usable URL: {url} ({reason})"
