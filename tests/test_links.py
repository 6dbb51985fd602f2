"""Canonical URLs: one article, one key, whoever shared which form of its link."""

from __future__ import annotations

import html
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from veille.domain.links import canonical_url, is_http_url, strip_tracking
from veille.net.shorteners import CACHE_FILE, ShortLinks, is_shortened


def real_links(corpus: Path, relative: str, contains: str) -> list[str]:
    """The URLs in a corpus file that contain `contains` (entities decoded)."""
    text = (corpus / relative).read_text("utf-8", "replace")
    while html.unescape(text) != text:  # some feeds escape their links twice
        text = html.unescape(text)
    found = re.findall(r"https?://[^\s\"'<>\\]+", text)
    return sorted({u for u in found if contains in u})


# --- real links from the corpus ----------------------------------------------------------


def test_heise_feed_links_lose_their_webtrekk_tag(corpus: Path) -> None:
    links = real_links(corpus, "feeds/rss-parser/input/heise.atom", "wt_mc=")
    assert len(links) >= 5
    for link in links:
        assert "wt_mc" not in strip_tracking(link)
        assert canonical_url(link) == canonical_url(link.split("?")[0])
        assert canonical_url(link).startswith("https://heise.de/")


def test_washington_post_feed_marker(corpus: Path) -> None:
    links = real_links(corpus, "feeds/node-feedparser/wapowellness.xml", "wprss=")
    assert links
    for link in links:
        assert "?" not in strip_tracking(link)
        assert canonical_url(link) == canonical_url(link.replace("http://www.", "https://"))


def test_highwire_rss_marker_only_on_its_hosts(corpus: Path) -> None:
    links = real_links(corpus, "feeds/rss-parser/input/rss-1.rss", "?rss=1")
    assert links
    for link in links:
        assert canonical_url(link) == "https://" + link.split("://", 1)[1].removesuffix("?rss=1")
    # Elsewhere "rss" may name content: kept.
    assert canonical_url("https://example.com/search?rss=1") == "https://example.com/search?rss=1"


def test_twitter_embed_source_and_medium_feed_source(corpus: Path) -> None:
    for link in real_links(corpus, "feeds/rss-parser/input/guardian.rss", "ref_src="):
        assert "ref_src" not in canonical_url(link)
    medium = real_links(corpus, "feeds/rss-parser/input/content-encoded.rss", "source=rss")
    assert medium
    for link in medium:
        assert "source=" not in strip_tracking(link)


def test_utm_in_a_real_bluesky_post_and_substack_referrer(corpus: Path) -> None:
    [link] = real_links(
        corpus, "social/bluesky/bskyr_api_responses/f_search__00.json", "open.substack.com"
    )
    assert link.endswith("?r=92vnq&utm_medium=ios")
    assert (
        strip_tracking(link)
        == "https://open.substack.com/pub/christackett/p/the-pawn-or-the-collaborator"
    )
    assert canonical_url(link) == canonical_url(
        "https://christackett.substack.com/p/the-pawn-or-the-collaborator/"
    )


def test_youtube_share_links(corpus: Path) -> None:
    [short] = real_links(
        corpus, "social/bluesky/bskyr_api_responses/f_search__00.json", "youtu.be/"
    )
    assert "si=" in short
    assert canonical_url(short) == canonical_url("https://www.youtube.com/watch?v=CSdW5ZnI_K4")
    assert canonical_url("https://m.youtube.com/watch?v=CSdW5ZnI_K4&feature=share") == (
        canonical_url(short)
    )
    # The video id is content: never dropped; another video is another key.
    assert canonical_url("https://youtu.be/other") != canonical_url(short)


def test_feedburner_utm_campaigns(corpus: Path) -> None:
    links = real_links(corpus, "feeds/feedjira/FeedBurnerXHTML.xml", "utm_campaign=Linker")
    assert links
    for link in links:
        key = canonical_url(link)
        assert "utm_" not in key
        # Every other parameter (id=..., results=...) names content and stays.
        others = sorted(p for p in parse_qsl(urlsplit(link).query) if not p[0].startswith("utm_"))
        assert sorted(parse_qsl(urlsplit(key).query)) == others


# --- the rules, one by one ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTP://Example.COM/a", "https://example.com/a"),  # scheme and host case
        ("https://example.com:443/a", "https://example.com/a"),  # default ports
        ("http://example.com:80/a", "https://example.com/a"),
        ("https://example.com/a/", "https://example.com/a"),  # trailing slash
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#comments", "https://example.com/a"),  # fragments
        ("https://www.example.com/a", "https://example.com/a"),  # www.
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),  # order
        ("https://example.com/a?utm_source=x&utm_medium=y", "https://example.com/a"),
        ("https://example.com/a?fbclid=IwAR0", "https://example.com/a"),
        ("https://example.com/a?gclid=Cj0&msclkid=1", "https://example.com/a"),
        ("https://example.com/a?mc_cid=1&mc_eid=2", "https://example.com/a"),
        ("https://example.com/caf%c3%a9", "https://example.com/café"),  # escapes
        ("https://EXAMPLE.com./a", "https://example.com/a"),  # trailing dot
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),  # IDNA
        # AMP: path, parameter, host and the two caches.
        ("https://example.com/news/story/amp", "https://example.com/news/story"),
        ("https://example.com/news/story.amp.html", "https://example.com/news/story.html"),
        ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
        ("https://example.com/news/story?outputType=amp", "https://example.com/news/story"),
        ("https://amp.theguardian.com/world/x", "https://www.theguardian.com/world/x"),
        (
            "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/news/story/amp",
            "https://example.com/news/story",
        ),
        ("https://www.google.com/amp/s/example.com/news/story", "https://example.com/news/story"),
        # Gift codes: the same article, whoever's gift it is.
        (
            "https://www.nytimes.com/2026/01/02/x.html?unlocked_article_code=1.abc&smid=url-share",
            "https://www.nytimes.com/2026/01/02/x.html",
        ),
        ("https://www.washingtonpost.com/x/?pwapi_token=eyJ0", "https://washingtonpost.com/x"),
        ("https://www.wsj.com/articles/x?st=abc&reflink=share", "https://www.wsj.com/articles/x"),
        ("https://www.theatlantic.com/x/?gift=abc", "https://theatlantic.com/x"),
        ("https://en.m.wikipedia.org/wiki/RSS", "https://en.wikipedia.org/wiki/RSS"),
    ],
)
def test_same_article(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/?p=123", "https://example.com/?p=124"),  # p identifies content
        ("https://example.com/item?id=1", "https://example.com/item?id=2"),
        ("https://youtube.com/watch?v=a", "https://youtube.com/watch?v=b"),
        ("https://example.com/a%2Fb", "https://example.com/a/b"),  # an escaped slash
        ("https://example.com/#!/post/1", "https://example.com/#!/post/2"),  # hashbang routes
        ("https://example.com:8080/a", "https://example.com/a"),  # another port
        ("https://a.example.com/x", "https://b.example.com/x"),
        ("https://example.com/search?q=rss", "https://example.com/search?q=atom"),
        ("https://example.com/wsj?st=1", "https://example.com/wsj?st=2"),  # st only on wsj.com
    ],
)
def test_different_articles(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


def test_the_link_to_open_keeps_what_a_browser_needs() -> None:
    gift = "https://www.nytimes.com/2026/01/02/x.html?unlocked_article_code=1.abc&smid=url-share"
    assert (
        strip_tracking(gift)
        == "https://www.nytimes.com/2026/01/02/x.html?unlocked_article_code=1.abc"
    )
    kept = "http://www.Example.com:8080/a/?id=3#section"
    assert strip_tracking(kept) == kept
    assert strip_tracking("https://example.com/?utm_source=x") == "https://example.com/"


def test_not_http_is_left_alone() -> None:
    for text in ("mailto:a@example.com", "javascript:alert(1)", "ftp://x/y", "not a url", ""):
        assert canonical_url(text) == text.strip()
        assert strip_tracking(text) == text.strip()
        assert not is_http_url(text)
    assert is_http_url("https://example.com/")


# --- short links, resolved once, on real servers ------------------------------------------


@pytest.fixture
def second_server() -> Iterator[HTTPServer]:
    """Another shortener, on its own port."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def _host(server: HTTPServer) -> str:
    return f"{server.host}:{server.port}"


def _redirect(to: str, status: int = 301) -> Response:
    return Response(status=status, headers={"Location": to})


async def test_short_link_chain_resolved_once_and_cached(
    tmp_path: Path, httpserver: HTTPServer, second_server: HTTPServer
) -> None:
    hop = second_server.url_for("/x1")
    httpserver.expect_request("/abc", method="HEAD").respond_with_response(_redirect(hop))
    # The second shortener refuses HEAD: a GET is asked, its body never read.
    second_server.expect_request("/x1", method="HEAD").respond_with_data("", status=405)
    second_server.expect_request("/x1", method="GET").respond_with_response(
        _redirect("https://article.example/post?utm_source=bitly", 302)
    )
    hosts = {_host(httpserver), _host(second_server)}
    short = httpserver.url_for("/abc")
    async with ShortLinks(tmp_path, extra_hosts=hosts) as links:
        targets = await links.resolve_many([short] * 5 + ["https://not.short/x"])
        assert links.requests == 3  # HEAD, HEAD, GET: the article's host is never asked
    assert targets == {short: "https://article.example/post?utm_source=bitly"}
    cache = json.loads((tmp_path / CACHE_FILE).read_text())
    assert cache["links"][short][0] == "https://article.example/post?utm_source=bitly"

    async with ShortLinks(tmp_path, extra_hosts=hosts) as again:
        assert await again.resolve(short) == "https://article.example/post?utm_source=bitly"
        assert again.requests == 0


async def test_short_link_to_a_non_http_target_is_kept(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/evil", method="HEAD").respond_with_response(
        _redirect("javascript:alert(1)")
    )
    httpserver.expect_request("/loop", method="HEAD").respond_with_response(
        _redirect(httpserver.url_for("/loop"))
    )
    httpserver.expect_request("/page", method="HEAD").respond_with_data("<html>", status=200)
    async with ShortLinks(tmp_path, extra_hosts={_host(httpserver)}) as links:
        for path in ("/evil", "/loop", "/page"):
            url = httpserver.url_for(path)
            assert await links.resolve(url) == url
    assert not (tmp_path / CACHE_FILE).exists()  # nothing learnt, nothing written


async def test_shortener_down_keeps_the_link(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    async with ShortLinks(tmp_path, extra_hosts={f"127.0.0.1:{port}"}) as links:
        assert await links.resolve(url) == url


def test_known_shorteners() -> None:
    for url in (
        "https://t.co/abc",
        "https://bit.ly/x",
        "http://buff.ly/y",
        "https://www.tinyurl.com/z",
    ):
        assert is_shortened(url)
    for url in ("https://example.com/bit.ly", "ftp://bit.ly/x", "https://notbit.ly/x"):
        assert not is_shortened(url)


def test_an_unreadable_cache_is_ignored(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_text("{not json")
    assert ShortLinks(tmp_path).cached("https://bit.ly/x") is None
