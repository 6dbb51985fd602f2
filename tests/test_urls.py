"""util/urls: the one URL check, the safe-link rule and the subscription key."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.conftest import Run
from veille.domain.errors import VeilleError
from veille.domain.links import is_http_url
from veille.sources.feed.parse import parse_feed
from veille.util.urls import (
    UrlError,
    http_url,
    is_safe_link,
    resolve_link,
    same_feed_url,
    shown,
    url_key,
)


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("example.com/feed", "https://example.com/feed"),
        ("  HTTPS://Example.COM/Feed?Q=1  ", "https://example.com/Feed?Q=1"),
        ("feed://e.example/f", "http://e.example/f"),
        ("feed:https://e.example/f", "https://e.example/f"),
        ("feed:e.example/rss", "https://e.example/rss"),
        ("localhost:8080/feed", "https://localhost:8080/feed"),
        ("//cdn.example/x", "https://cdn.example/x"),
        (
            "example.com/go?u=http://other.example/",
            "https://example.com/go?u=http://other.example/",
        ),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://u:Secret@Host.example:81/p", "http://u:Secret@host.example:81/p"),
        ("http://Bücher.example/x", "http://bücher.example/x"),
        ("http://xn--bcher-kva.example/", "http://xn--bcher-kva.example/"),
        ("https://my_blog.example/feed", "https://my_blog.example/feed"),
    ],
)
def test_http_url_accepts_and_normalises(text: str, url: str) -> None:
    assert http_url(text) == url


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("http://[::1/x", "unbalanced [ ] around an IPv6 address"),
        ("http://example.com:99999/feed", "port out of range 1-65535"),
        ("http://example.com:http/feed", "the port is not a number"),
        ("http://example.com:0/feed", "port 0 is not a port one can connect to"),
        ("http://xn--a.example/", "invalid host name: Codepoint U+0080"),
        ("http://a\u200db..example/", "invalid host name: Invalid IDNA hostname"),
        ("http://a..b/", "invalid host name a..b"),
        ("http://exa mple.com/", "invalid host name exa mple.com"),
        ("http://\udcff\udcfe.example/", "it contains bytes that are not UTF-8"),
        ("http://x.example/\x1b[31m", "it contains control characters"),
        ("mailto:a@b.example", "only http and https are supported, not mailto"),
        ("javascript:alert(1)", "only http and https are supported, not javascript"),
        ("file:///etc/passwd", "only http and https are supported, not file"),
        ("http://", "no host name"),
        ("https:example.com", "no host name"),
    ],
)
def test_http_url_refuses_with_one_line_naming_the_value(text: str, reason: str) -> None:
    with pytest.raises(UrlError) as info:
        http_url(text)
    err = info.value
    assert err.reason.startswith(reason)
    assert isinstance(err, VeilleError) and isinstance(err, ValueError)
    message = str(err)
    assert "\n" not in message and "\x1b" not in message
    message.encode("utf-8")  # printable: no lone surrogates left
    assert message.startswith(("not a usable URL: ", "no URL ("))


def test_bare_hosts_can_be_refused_for_files() -> None:
    assert http_url("e.example/feed") == "https://e.example/feed"
    for relative in ("e.example/feed", "/feed.xml", "|~/bin/fetch.sh"):
        with pytest.raises(UrlError, match="no http:// or https://"):
            http_url(relative, bare=False)


def test_shown_makes_any_value_printable() -> None:
    assert shown("\udcff\udcfeabc") == "\\xff\\xfeabc"
    assert shown("a\x1b[2Jb\nc") == "ab c"
    assert shown("x" * 500).endswith("…") and len(shown("x" * 500)) == 120


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.com/a", True),
        ("HTTP://example.com", True),
        ("javascript:alert(1)", False),
        ("file:///etc/passwd", False),
        ("data:text/html,x", False),
        ("http:///nohost", False),
        ("http://[::1", False),
        ("https://example.com/\x1b]8;;", False),
        (None, False),
    ],
)
def test_is_safe_link(url: object, safe: bool) -> None:
    assert is_safe_link(url) is safe


def test_same_feed_url_ignores_scheme_slash_and_host_case_only() -> None:
    assert same_feed_url("http://Example.com/feed/", "https://example.com/feed")
    assert url_key("https://Example.com/feed/") == "example.com/feed"
    # Paths and queries are case-sensitive: two YouTube channels, not one.
    assert not same_feed_url(
        "https://www.youtube.com/feeds/videos.xml?channel_id=UCabc",
        "https://www.youtube.com/feeds/videos.xml?channel_id=UCABC",
    )
    assert url_key("not a url/") == "not a url"


# --- what a user sees -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "line"),
    [
        (
            "http://127.0.0.1:99999/feed",
            "not a usable URL: http://127.0.0.1:99999/feed (port out of range 1-65535)",
        ),
        (
            "http://xn--a.example/feed",
            "not a usable URL: http://xn--a.example/feed (invalid host name: "
            "Codepoint U+0080 at position 1 of '\\x80' not allowed)",
        ),
        (
            os.fsdecode(b"https://\xff\xfe.example/feed"),
            "not a usable URL: https://\\xff\\xfe.example/feed "
            "(it contains bytes that are not UTF-8)",
        ),
        (
            "http://[::1/x",
            "not a usable URL: http://[::1/x (unbalanced [ ] around an IPv6 address)",
        ),
    ],
)
def test_add_refuses_with_one_line(cli_proc: Callable[..., Run], arg: str, line: str) -> None:
    r = cli_proc("add", arg)
    assert (r.code, r.err, r.out) == (1, f"veille: {line}\n", "")


def test_add_refuses_a_title_or_tag_that_is_not_utf8(cli_proc: Callable[..., Run]) -> None:
    # Lone surrogates reached the store, whose next save then failed: the new feed (and
    # every other change of that run) was lost, with exit status 0.
    bad = os.fsdecode(b"caf\xe9")
    r = cli_proc("add", "https://e.example/feed", "--title", bad, "--no-fetch")
    assert (r.code, r.err) == (1, "veille: title caf\\xe9 is not valid UTF-8 text\n")
    r = cli_proc("add", "https://e.example/feed", "--tag", "ok", "--tag", bad, "--no-fetch")
    assert (r.code, r.err) == (1, "veille: tag caf\\xe9 is not valid UTF-8 text\n")


# --- resolve_link: the one way a link found in a document becomes a link to keep -----------


@pytest.mark.parametrize(
    ("href", "base", "schemes", "kept"),
    [
        ("/a b", "https://example.com/feed", None, "https://example.com/a b"),
        ("  https://other.example/x\n", "", None, "https://other.example/x"),
        ("javascript:alert(1)", "https://example.com/", None, ""),
        ("http:no-host", "https://example.com/", None, ""),  # a web link needs a host
        ("https://", "", None, ""),
        ("http://[::1", "https://example.com/", None, ""),
        ("x", "http://[::1", None, ""),  # a malformed base, not an exception
        ("magnet:?xt=urn:btih:abc", "", {"http", "https", "magnet"}, "magnet:?xt=urn:btih:abc"),
        ("magnet:?xt=urn:btih:abc", "", None, ""),
        ("mailto:a@example.com", "", {"http", "https", "mailto"}, "mailto:a@example.com"),
        ("ep.mp3\x1b[31m", "ftp://files.example/pod/", {"ftp"}, "ftp://files.example/pod/ep.mp3"),
        (None, "https://example.com/", None, ""),
    ],
)
def test_resolve_link(href: object, base: str, schemes: set[str] | None, kept: str) -> None:
    if schemes is None:
        assert resolve_link(href, base) == kept
    else:
        assert resolve_link(href, base, schemes) == kept


def test_a_link_hidden_by_control_characters_is_not_safe() -> None:
    # urlsplit drops tabs and newlines silently: "https://exa\tmple.com" would pass as
    # exa mple.com's neighbour; the one check refuses it, under both of its names.
    assert not is_safe_link("https://exa\tmple.com/")
    assert not is_http_url("https://exa\nmple.com/")
    assert is_safe_link is is_http_url


def test_feed_links_without_a_host_are_dropped() -> None:
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<link>https://example.com/</link>"
        b"<item><title>A</title><link>http:no-host</link><guid>a</guid></item>"
        b"<item><title>B</title><link>/b</link><guid>b</guid></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(rss, "https://example.com/feed.xml")
    assert [e.link for e in feed.entries] == ["", "https://example.com/b"]
