"""Source names (mastodon:..., bluesky:...) and the "paste any URL" step of `veille add`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.servers import fake_mastodon as fake_module
from tests.servers.fake_mastodon import FakeMastodon
from veille.sources.names import (
    Getter,
    SourceName,
    SourceNameError,
    channel_id_from_page,
    is_did,
    is_handle,
    looks_like_source_name,
    parse_at_uri,
    parse_source_name,
    resolve_url,
)

fake_mastodon = fake_module.fake_mastodon
SYNTAX = Path("social/bluesky/interop-syntax")


def lines(corpus: Path, name: str) -> list[str]:
    text = (corpus / SYNTAX / name).read_text("utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# --- atproto syntax, against the reference interop files ------------------------------------


def test_handles_as_the_atproto_interop_files_say(corpus: Path) -> None:
    for handle in lines(corpus, "handle_syntax_valid.txt"):
        assert is_handle(handle), handle
    for handle in lines(corpus, "handle_syntax_invalid.txt"):
        assert not is_handle(handle), handle


def test_dids_as_the_atproto_interop_files_say(corpus: Path) -> None:
    for did in lines(corpus, "did_syntax_valid.txt"):
        assert is_did(did), did
    for did in lines(corpus, "did_syntax_invalid.txt"):
        assert not is_did(did), did


def test_at_uris_of_records(corpus: Path) -> None:
    records = [u for u in lines(corpus, "aturi_syntax_valid.txt") if u.count("/") == 4]
    assert records
    for uri in records:
        if "#" in uri or "?" in uri:
            continue
        assert parse_at_uri(uri) is not None, uri
    assert parse_at_uri("at://did:plc:abc/app.bsky.feed.generator/whats-hot") == (
        "did:plc:abc",
        "app.bsky.feed.generator",
        "whats-hot",
    )
    for bad in (
        "https://x/y/z",
        "at://did:plc:abc",
        "at://bad handle/app.x.y/z",
        "at://a.test/x/y",
    ):
        assert parse_at_uri(bad) is None


# --- source names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed", "canonical"),
    [
        ("mastodon:home", SourceName("mastodon", "home"), "mastodon:home"),
        ("Mastodon:list/42", SourceName("mastodon", "list", "42"), "mastodon:list/42"),
        ("mastodon:tag/#RSS", SourceName("mastodon", "tag", "RSS"), "mastodon:tag/RSS"),
        ("mastodon:tag/café", SourceName("mastodon", "tag", "café"), "mastodon:tag/café"),
        (
            "mastodon:@Gargron@Mastodon.Social",
            SourceName("mastodon", "account", "Gargron@mastodon.social"),
            "mastodon:@Gargron@mastodon.social",
        ),
        (
            "mastodon:@alice@127.0.0.1:8080",
            SourceName("mastodon", "account", "alice@127.0.0.1:8080"),
            "mastodon:@alice@127.0.0.1:8080",
        ),
        ("bluesky:following", SourceName("bluesky", "following"), "bluesky:following"),
        ("bluesky:timeline", SourceName("bluesky", "timeline"), "bluesky:timeline"),
        (
            "bluesky:@Alice.bsky.social",
            SourceName("bluesky", "account", "alice.bsky.social"),
            "bluesky:@alice.bsky.social",
        ),
        (
            "bluesky:@did:plc:z72i7hdynmk6r22z27h6tvur",
            SourceName("bluesky", "account", "did:plc:z72i7hdynmk6r22z27h6tvur"),
            "bluesky:@did:plc:z72i7hdynmk6r22z27h6tvur",
        ),
        (
            "bluesky:feed/at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/bsky-team",
            SourceName(
                "bluesky",
                "feed",
                "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/bsky-team",
            ),
            "bluesky:feed/at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/bsky-team",
        ),
    ],
)
def test_good_names(text: str, parsed: SourceName, canonical: str) -> None:
    assert parse_source_name(text) == parsed
    assert str(parsed) == canonical
    assert looks_like_source_name(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mastodon:", "nothing after"),
        ("mastodon:homes", "use mastodon:home"),
        ("mastodon:list/", "by its id"),
        ("mastodon:list/a b", "spaces"),
        ("mastodon:tag/", "a hashtag"),
        ("mastodon:tag/1234", "a hashtag"),
        ("mastodon:@alice", "say which instance"),
        ("mastodon:@al!ce@example.social", "not a Mastodon user name"),
        ("mastodon:@alice@exa_mple", "not an instance"),
        ("bluesky:@not a handle", "spaces"),
        ("bluesky:@alice", "not a Bluesky handle"),
        ("bluesky:feed/https://bsky.app/x", "AT-URI"),
        ("bluesky:feed/at://did:plc:abc/app.bsky.feed.post/3k", "AT-URI"),
        ("bluesky:followers", "use bluesky:following"),
        ("twitter:@jack", "starts with mastodon: or bluesky:"),
    ],
)
def test_bad_names_say_why_in_one_line(text: str, says: str) -> None:
    with pytest.raises(SourceNameError) as caught:
        parse_source_name(text)
    message = str(caught.value)
    assert says in message and "\n" not in message


def test_which_names_need_an_account() -> None:
    assert parse_source_name("mastodon:home").needs_account
    assert not parse_source_name("mastodon:@a@b.example").needs_account
    assert parse_source_name("bluesky:following").needs_account
    assert not parse_source_name("bluesky:@a.bsky.social").needs_account


# --- URLs people paste ----------------------------------------------------------------------


@pytest.fixture
def get() -> Getter:
    """A getter over plain httpx (the CLI passes its Fetcher)."""

    async def fetch(url: str) -> tuple[int | None, str, bytes | None, str]:
        async with httpx.AsyncClient(timeout=10) as http:
            try:
                r = await http.get(url)
            except httpx.HTTPError:
                return None, "", None, url
        return r.status_code, r.headers.get("content-type", ""), r.content, str(r.url)

    return fetch


@pytest.mark.parametrize(
    ("url", "feed", "kind"),
    [
        (
            "https://www.youtube.com/channel/UCXuqSBlHAE6Xw-yeJA0Tunw",
            "https://www.youtube.com/feeds/videos.xml?channel_id=UCXuqSBlHAE6Xw-yeJA0Tunw",
            "feed",
        ),
        (
            "https://www.youtube.com/user/LinusTechTips",
            "https://www.youtube.com/feeds/videos.xml?user=LinusTechTips",
            "feed",
        ),
        (
            "https://www.youtube.com/playlist?list=PLKByxjzUC-N8mEDQF9ARMMkSv0AmYbpsh",
            "https://www.youtube.com/feeds/videos.xml?playlist_id=PLKByxjzUC-N8mEDQF9ARMMkSv0AmYbpsh",
            "feed",
        ),
        (
            "https://github.com/lemon24/reader",
            "https://github.com/lemon24/reader/releases.atom",
            "feed",
        ),
        (
            "https://github.com/lemon24/reader/commits/master",
            "https://github.com/lemon24/reader/commits/master.atom",
            "feed",
        ),
        ("https://github.com/lemon24", "https://github.com/lemon24.atom", "feed"),
        ("https://www.reddit.com/r/rss/", "https://www.reddit.com/r/rss/.rss", "feed"),
        (
            "https://old.reddit.com/r/rss/comments/abc123/some_title/",
            "https://www.reddit.com/r/rss/.rss",
            "feed",
        ),
        ("https://news.ycombinator.com/item?id=1", "https://news.ycombinator.com/rss", "feed"),
        ("https://bsky.app/profile/Alice.bsky.social", "bluesky:@alice.bsky.social", "bluesky"),
        (
            "https://bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur/feed/bsky-team",
            "bluesky:feed/at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/bsky-team",
            "bluesky",
        ),
        (
            "https://bsky.app/profile/alice.bsky.social/post/3lpk3nnns5u2b",
            "bluesky:@alice.bsky.social",
            "bluesky",
        ),
        ("https://medium.com/@someone", "https://medium.com/feed/@someone", "feed"),
        ("@Gargron@mastodon.social", "mastodon:@Gargron@mastodon.social", "mastodon"),
    ],
)
async def test_known_sites(url: str, feed: str, kind: str) -> None:
    resolved = await resolve_url(url)
    assert resolved is not None
    assert (resolved.url, resolved.kind) == (feed, kind)
    assert resolved.note.endswith(".") and "\n" not in resolved.note


async def test_github_says_which_feed_and_offers_commits() -> None:
    resolved = await resolve_url("https://github.com/lemon24/reader")
    assert resolved is not None
    assert "releases" in resolved.note and "commits.atom" in resolved.note
    assert (
        "https://github.com/lemon24/reader/commits.atom",
        "every commit on the default branch",
    ) in (resolved.alternatives)


async def test_other_urls_are_left_to_feed_discovery() -> None:
    for url in ("https://example.com/blog/", "https://github.com/settings", "mailto:a@b", "nope"):
        assert await resolve_url(url) is None


async def test_malformed_urls_are_no_known_site_not_an_exception() -> None:
    for url in ("https://mastodon.example:99999/@user", "http://[::1/@user", "https://\t/@x"):
        assert await resolve_url(url) is None


YOUTUBE_PAGE = """<!DOCTYPE html><html><head>
<link rel="canonical" href="https://www.youtube.com/channel/UCXuqSBlHAE6Xw-yeJA0Tunw">
<link rel="alternate" type="application/rss+xml" title="RSS"
 href="https://www.youtube.com/feeds/videos.xml?channel_id=UCXuqSBlHAE6Xw-yeJA0Tunw">
</head><body><script>var ytInitialData = {"metadata":{"channelMetadataRenderer":
{"externalId":"UCXuqSBlHAE6Xw-yeJA0Tunw"}}};</script></body></html>"""


def test_channel_id_from_the_page_markup() -> None:
    assert channel_id_from_page(YOUTUBE_PAGE) == "UCXuqSBlHAE6Xw-yeJA0Tunw"
    only_json = '{"videoDetails":{"channelId":"UC_x5XG1OV2P6uZZ5FSM9Ttw"}}'
    assert channel_id_from_page(only_json) == "UC_x5XG1OV2P6uZZ5FSM9Ttw"
    assert channel_id_from_page("<html>nothing</html>") is None


async def test_youtube_handle_page_is_read_for_its_channel(httpserver: HTTPServer) -> None:
    """A /@handle page: the channel id is only in the page, fetched with the getter."""
    httpserver.expect_request("/@LinusTechTips").respond_with_data(
        YOUTUBE_PAGE, content_type="text/html"
    )
    httpserver.expect_request("/@missing").respond_with_data("not found", status=404)
    seen: list[str] = []

    async def get(url: str) -> tuple[int | None, str, bytes | None, str]:
        seen.append(url)
        path = url.split("youtube.com", 1)[1]  # the page, served by our server
        async with httpx.AsyncClient() as http:
            r = await http.get(httpserver.url_for(path))
        return r.status_code, r.headers.get("content-type", ""), r.content, url

    resolved = await resolve_url("https://www.youtube.com/@LinusTechTips", get)
    assert resolved is not None
    assert resolved.url.endswith("videos.xml?channel_id=UCXuqSBlHAE6Xw-yeJA0Tunw")
    assert seen == ["https://www.youtube.com/@LinusTechTips"]

    with pytest.raises(SourceNameError, match="HTTP 404"):
        await resolve_url("https://www.youtube.com/@missing", get)
    with pytest.raises(SourceNameError, match="needs its id"):
        await resolve_url("https://www.youtube.com/@LinusTechTips")


async def test_mastodon_profile_is_checked_on_the_server(
    fake_mastodon: FakeMastodon, get: Getter
) -> None:
    fake_mastodon.lookup_accounts["mastodonpy_test"] = fake_module.load_recorded_page(
        "test_account_lookup__00.json"
    )[1]
    fake_mastodon.public_paths.add("/api/v1/accounts/lookup")
    host = fake_mastodon.base_url.removeprefix("http://")
    resolved = await resolve_url(f"{fake_mastodon.base_url}/@mastodonpy_test", get)
    assert resolved is not None
    assert (resolved.url, resolved.kind) == (f"mastodon:@mastodonpy_test@{host}", "mastodon")
    post = await resolve_url(f"{fake_mastodon.base_url}/@mastodonpy_test/1234", get)
    assert post is not None and "author of this post" in post.note
    # A /@author page that is no Mastodon server is left to feed discovery.
    assert await resolve_url(f"{fake_mastodon.base_url}/@nobody", get) is None


# --- the registry ------------------------------------------------------------------------------


async def test_registry_gives_each_kind_its_source() -> None:
    from typing import Any, cast

    from veille.domain.records import Feed
    from veille.sources.base import PollContext
    from veille.sources.bluesky import BlueskySource
    from veille.sources.mastodon import MastodonSource
    from veille.sources.registry import source_for

    mastodon = source_for(Feed(id="a", url="mastodon:home", kind="mastodon"))
    assert isinstance(mastodon, MastodonSource)
    assert source_for(Feed(id="b", url="mastodon:tag/x", kind="mastodon")) is mastodon
    assert isinstance(
        source_for(Feed(id="c", url="bluesky:following", kind="bluesky")), BlueskySource
    )
    # The feed kind is the integrator's FeedSource, loaded lazily; never an exception.
    assert source_for(Feed(id="d", url="https://example.com/feed.xml")) is not None

    odd = source_for(Feed(id="e", url="x", kind="gopher"))
    ctx = PollContext(fetcher=cast(Any, None), parse=cast(Any, None), config=None)
    result = await odd.poll(Feed(id="e", url="x", kind="gopher"), ctx)
    assert result.status == "error" and "unknown kind of source 'gopher'" in result.error
