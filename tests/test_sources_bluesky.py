"""Bluesky as a source: against the reference PDS with its PLC and no AppView, repositories
of our own (did:web) for backlogs and broken answers, and recorded bsky.social AppView
answers replayed on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import pytest

from tests.servers import bluesky as pds_module
from tests.servers.bluesky import (
    REPLAY_DID,
    REPLAY_HANDLE,
    REPLAY_PASSWORD,
    BlueskyNetwork,
    BlueskyReplay,
    PdsUser,
    RepoServers,
    new_user,
    strong_ref,
)
from tests.servers.mastodon import free_port
from veille.accounts.config import Account
from veille.accounts.secrets import SecretStore
from veille.clients.bluesky import BlueskyClient
from veille.domain.records import Feed, Sighting
from veille.sources.base import PollContext, PollResult
from veille.sources.bluesky import (
    Author,
    BlueskySource,
    feed_item_entry,
    notification_response,
    post_entry,
    text_html,
)

bluesky_network = pds_module.bluesky_network
bluesky_replay = pds_module.bluesky_replay
fake_repos = pds_module.fake_repos

LINK = "app.bsky.richtext.facet#link"


# --- helpers ---------------------------------------------------------------------------------


def context(
    tmp_path: Path, accounts: dict[str, tuple[str, str, str]] | None = None, **kw: Any
) -> PollContext:
    """Bluesky accounts {name: (handle, service, app password)} in a real secret store."""
    secrets = SecretStore(tmp_path / f"secrets-{uuid.uuid4().hex}.json", use_keyring=False)
    found = {}
    for name, (handle, service, password) in (accounts or {}).items():
        account = Account(name=name, type="bluesky", handle=handle, service=service)
        if password:
            secrets.set(account.secret("app_password"), password)
        found[name] = account
    return PollContext(
        fetcher=cast(Any, None),
        parse=cast(Any, None),
        config=None,
        accounts=found,
        secrets=secrets,
        sent=frozenset(kw.pop("sent", ())),
        **kw,
    )


def feed(url: str, account: str = "me", cursor: dict[str, Any] | None = None) -> Feed:
    return Feed(id=url, url=url, kind="bluesky", account=account, cursor=cursor or {})


def advanced(f: Feed, result: PollResult) -> Feed:
    return replace(f, cursor=dict(result.cursor)) if result.cursor is not None else f


def link_facet(text: str, label: str, uri: str) -> dict[str, Any]:
    """A link facet over `label` in `text`, with UTF-8 byte offsets."""
    data = text.encode("utf-8")
    start = data.index(label.encode("utf-8"))
    return {
        "index": {"byteStart": start, "byteEnd": start + len(label.encode("utf-8"))},
        "features": [{"$type": LINK, "uri": uri}],
    }


@dataclass
class World:
    """me (veille's user) follows ann and bob; cat is not followed."""

    me: PdsUser
    ann: PdsUser
    bob: PdsUser
    cat: PdsUser
    shared: tuple[str, str]  # veille's post: (at:// URI, bsky.app URL)
    refs: dict[str, dict[str, Any]]


async def build_world(net: BlueskyNetwork) -> World:
    def setup() -> tuple[PdsUser, ...]:
        users = [new_user(net.pds, n) for n in ("me", "ann", "bob", "cat")]
        for user, name in zip(users, ("Me", "Ann Example", "Bob", "Cat"), strict=True):
            user.profile(name)
        return tuple(users)

    me, ann, bob, cat = await asyncio.to_thread(setup)
    refs: dict[str, dict[str, Any]] = {}

    def write() -> None:
        me.follow(ann.did)
        me.follow(bob.did)
        text = "🦋 Worth reading: example.org/deep-dive… (long)"
        refs["ann_link"] = ann.post(
            text,
            facets=[
                link_facet(
                    text, "example.org/deep-dive…", "https://example.org/deep-dive?utm_source=bsky"
                )
            ],
        )
        refs["bob_card"] = bob.post(
            "Good explainer",
            embed={
                "$type": "app.bsky.embed.external",
                "external": {
                    "uri": "https://news.example/story",
                    "title": "The story",
                    "description": "What happened, and why.",
                },
            },
        )
        cat_text = "New paper: https://cat.example/a"
        refs["cat_post"] = cat.post(
            cat_text,
            facets=[link_facet(cat_text, "https://cat.example/a", "https://cat.example/a")],
        )
        refs["bob_quote"] = bob.post(
            "This!",
            embed={"$type": "app.bsky.embed.record", "record": strong_ref(refs["cat_post"])},
        )
        refs["ann_repost"] = ann.repost(refs["cat_post"])
        refs["ann_plain"] = ann.post("Just thinking out loud today about feeds and readers")

    await asyncio.to_thread(write)
    # veille shares, as the outbox does.
    async with BlueskyClient(net.pds, me.handle, me.app_password) as client:
        shared = await client.post(
            "My share https://example.com/mine",
            rkey=_rkey(),
            link_card={"uri": "https://example.com/mine", "title": "Mine", "description": ""},
        )
        mine = await client.get_post(shared[0].rsplit("/", 1)[1])
    assert mine is not None
    refs["mine"] = {"uri": mine["uri"], "cid": mine["cid"]}

    def respond() -> None:
        ref = strong_ref(refs["mine"])
        refs["ann_reply"] = ann.post("Great pick!", reply={"root": ref, "parent": ref})
        refs["ann_like"] = ann.like(refs["mine"])
        refs["bob_repost_mine"] = bob.repost(refs["mine"])
        refs["bob_quote_mine"] = bob.post(
            "Seconded", embed={"$type": "app.bsky.embed.record", "record": ref}
        )
        cat.like(refs["mine"])  # cat is not followed: not seen without an AppView

    await asyncio.to_thread(respond)
    return World(me, ann, bob, cat, shared, refs)


def _rkey() -> str:
    from veille.clients.bluesky import rkey_for

    return rkey_for(uuid.uuid4().hex)


@pytest.fixture
def plc(bluesky_network: BlueskyNetwork, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VEILLE_PLC_URL", bluesky_network.plc)
    return bluesky_network.plc


def me_context(tmp_path: Path, world: World, net: BlueskyNetwork, **kw: Any) -> PollContext:
    return context(tmp_path, {"me": (world.me.handle, net.pds, world.me.app_password)}, **kw)


# --- text, facets and records → entries --------------------------------------------------------


def test_facets_use_utf8_byte_offsets() -> None:
    text = "café 🦋 see example.org/x… and #rss with @bob"
    facets = [
        link_facet(text, "example.org/x…", "https://example.org/x?utm_source=a"),
        {
            "index": {
                "byteStart": text.encode().index(b"#rss"),
                "byteEnd": text.encode().index(b"#rss") + 4,
            },
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "rss"}],
        },
        {
            "index": {
                "byteStart": text.encode().index(b"@bob"),
                "byteEnd": text.encode().index(b"@bob") + 4,
            },
            "features": [
                {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:abcdefghijklmnop"}
            ],
        },
        # Broken ones are ignored: out of range, inside a character, javascript:.
        {
            "index": {"byteStart": 2, "byteEnd": 4},
            "features": [{"$type": LINK, "uri": "https://x"}],
        },
        {
            "index": {"byteStart": 0, "byteEnd": 999},
            "features": [{"$type": LINK, "uri": "https://y"}],
        },
        {
            "index": {"byteStart": 0, "byteEnd": 4},
            "features": [{"$type": LINK, "uri": "javascript:x"}],
        },
    ]
    html = text_html(text, facets)
    assert html == (
        '<p>café 🦋 see <a href="https://example.org/x">example.org/x…</a> and '
        '<a href="https://bsky.app/hashtag/rss">#rss</a> with '
        '<a href="https://bsky.app/profile/did:plc:abcdefghijklmnop">@bob</a></p>'
    )


def test_html_is_escaped_and_controls_removed() -> None:
    html = text_html("<b>bold</b> & \x1b[31mred\nnext", [])
    assert html == "<p>&lt;b&gt;bold&lt;/b&gt; &amp; red<br>next</p>"


def test_recorded_post_with_external_embed(corpus: Path) -> None:
    item = pds_module.recorded("f_timeline__00.json")["feed"][0]
    entry = feed_item_entry(item)
    assert entry is not None
    assert entry.link == "https://CRAN.R-project.org/package=sfclust"
    assert entry.title == "sfclust: Bayesian Spatial Functional Clustering"
    assert entry.image.startswith("https://cdn.bsky.app/img/feed_thumbnail/")
    assert entry.handle == "@cranupdates.bsky.social" and entry.author == "CRAN Updates"
    assert entry.post_url == "https://bsky.app/profile/cranupdates.bsky.social/post/3lpk3nnns5u2b"
    assert entry.post_text == item["post"]["record"]["text"]
    assert '<a href="https://CRAN.R-project.org/package=sfclust">' in entry.content
    assert entry.key == item["post"]["uri"] and entry.kind == "post"


def test_recorded_reposts_and_quotes(corpus: Path) -> None:
    feed_items = pds_module.recorded("f_timeline__00.json")["feed"]
    entries = [feed_item_entry(i) for i in feed_items]
    reposts = [e for e in entries if e is not None and e.kind == "repost"]
    assert len(reposts) == 3
    # Recorded: the account reposting its own posts twice and someone else's once.
    assert [e.reposter for e in reposts] == ["@bskyr.bsky.social"] * 3
    assert [e.handle for e in reposts] == [
        "@bskyr.bsky.social",
        "@chriskenny.bsky.social",
        "@bskyr.bsky.social",
    ]
    # A repost's key is the repost, not the post: each is one more sighting.
    assert len({e.key for e in reposts}) == 3
    assert all(e.key.endswith("#repost:did:plc:5c2r73erhng4bszmxlfdtscf") for e in reposts)
    # The two recorded quotes were reposted: a quote without a link of its own is
    # about what the quoted post links to.
    quoting = [
        feed_item_entry(i)
        for i in feed_items
        if "record" in str((i["post"]["record"].get("embed") or {}).get("$type"))
    ]
    assert [(e.kind, e.link) for e in quoting if e] == [
        ("repost", "https://github.com/christopherkenny/bskyr/pull/18"),
        ("repost", "https://christophertkenny.com/bskyr/"),
    ]
    unreposted = dict(
        feed_items[0],
        post=next(
            i["post"]
            for i in feed_items
            if i.get("reason") and "record" in str(i["post"]["record"].get("embed"))
        ),
    )
    unreposted.pop("reason", None)
    entry = feed_item_entry(unreposted)
    assert entry is not None and entry.kind == "quote"


def test_unknown_or_malformed_records_are_skipped() -> None:
    author = Author("did:plc:abcdefghijklmnop", "a.test")
    uri = "at://did:plc:abcdefghijklmnop/app.bsky.feed.post/3kaaaaaaaaaaa"
    assert post_entry(uri, {"$type": "com.example.weird", "text": "x"}, author) is None
    assert post_entry(uri, {"$type": "app.bsky.feed.post", "text": 42}, author) is None
    assert post_entry(uri, "not a record", author) is None
    assert feed_item_entry({"post": "nope"}) is None
    entry = post_entry(uri, {"$type": "app.bsky.feed.post", "text": "hello there"}, author)
    assert entry is not None and entry.link == "https://bsky.app/profile/a.test/post/3kaaaaaaaaaaa"
    assert entry.title == "hello there"


def test_recorded_notifications_as_responses(corpus: Path) -> None:
    items = pds_module.recorded("n_notifications__00.json")["notifications"]
    mine = "at://did:plc:5c2r73erhng4bszmxlfdtscf/app.bsky.feed.post/3lpdf2hyvhd2m"
    responses = [r for i in items if (r := notification_response(i, {mine})) is not None]
    expected_likes = [i for i in items if i["reason"] == "like" and i["reasonSubject"] == mine]
    assert len([r for r in responses if r.kind == "like"]) == len(expected_likes)
    assert [r.kind for r in responses if r.kind == "repost"] == ["repost"]
    assert all(r.target == mine and r.key.startswith("at://") for r in responses)
    assert not [notification_response(i, set()) for i in items if notification_response(i, set())]


# --- the reference PDS, no AppView -------------------------------------------------------------


@pytest.mark.slow
async def test_following_without_appview(
    tmp_path: Path, bluesky_network: BlueskyNetwork, plc: str
) -> None:
    net = bluesky_network
    world = await build_world(net)
    uri, web = world.shared
    ctx = me_context(tmp_path, world, net, sent={uri, web})
    source = BlueskySource()
    result = await source.poll(feed("bluesky:following"), ctx)
    assert result.status == "ok", result.error
    assert result.title == f"Following · @{world.me.handle}"
    by_key = {e.key: e for e in result.entries}
    refs = world.refs

    link = by_key[refs["ann_link"]["uri"]]
    assert link.kind == "post" and link.link == "https://example.org/deep-dive"
    assert link.handle == f"@{world.ann.handle}" and link.author == "Ann Example"
    assert link.post_text == "🦋 Worth reading: example.org/deep-dive… (long)"
    assert '<a href="https://example.org/deep-dive">example.org/deep-dive…</a>' in link.content
    assert (
        link.post_url
        == f"https://bsky.app/profile/{world.ann.handle}/post/"
        + (refs["ann_link"]["uri"].rsplit("/", 1)[1])
    )

    card = by_key[refs["bob_card"]["uri"]]
    assert (card.link, card.title, card.summary) == (
        "https://news.example/story",
        "The story",
        "What happened, and why.",
    )
    quote = by_key[refs["bob_quote"]["uri"]]
    assert quote.kind == "quote" and quote.link == "https://cat.example/a"
    assert quote.post_text == "This!"
    repost = by_key[refs["ann_repost"]["uri"]]
    assert repost.kind == "repost" and repost.link == "https://cat.example/a"
    assert repost.reposter == f"@{world.ann.handle}" and repost.handle == f"@{world.cat.handle}"
    plain = by_key[refs["ann_plain"]["uri"]]
    assert plain.title == "Just thinking out loud today about feeds and readers"
    assert refs["cat_post"]["uri"] not in by_key  # cat is not followed

    reply = by_key[refs["ann_reply"]["uri"]]
    assert reply.kind == "reply" and reply.reply_to == uri
    kinds = sorted((r.kind, r.handle) for r in result.responses)
    assert kinds == sorted(
        [
            ("like", f"@{world.ann.handle}"),
            ("reply", f"@{world.ann.handle}"),
            ("repost", f"@{world.bob.handle}"),
            ("quote", f"@{world.bob.handle}"),
        ]
    )
    assert all(r.target == uri for r in result.responses)
    assert {r.key for r in result.responses} == {
        refs[k]["uri"] for k in ("ann_reply", "ann_like", "bob_repost_mine", "bob_quote_mine")
    }

    # "seen via": the same article from several accounts; one account is one sharer.
    sightings = [
        Sighting(source="f", key=e.key, seen="t", kind=e.kind, handle=e.handle, reposter=e.reposter)
        for e in result.entries
        if e.link == "https://cat.example/a"
    ]
    assert {s.account for s in sightings} == {f"@{world.ann.handle}", f"@{world.bob.handle}"}

    # Nothing new: one request per repository (its revision), nothing read again.
    again = await source.poll(advanced(feed("bluesky:following"), result), ctx)
    assert again.status == "ok" and again.entries == [] and again.responses == []
    dids = again.cursor["dids"] if again.cursor else {}
    assert dids[world.ann.did]["pds"] and dids[world.ann.did]["handle"] == world.ann.handle

    await asyncio.to_thread(world.ann.post, "One more: https://late.example/x")
    third = await source.poll(advanced(feed("bluesky:following"), again), ctx)
    assert [e.link for e in third.entries] == ["https://late.example/x"]


@pytest.mark.slow
async def test_one_account_and_deleted_reposted_post(
    tmp_path: Path, bluesky_network: BlueskyNetwork, plc: str
) -> None:
    net = bluesky_network
    ann, bob = await asyncio.to_thread(lambda: (new_user(net.pds, "ann"), new_user(net.pds, "bob")))

    def write() -> dict[str, Any]:
        gone = bob.post("soon deleted https://gone.example")
        ann.repost(gone)
        bob.delete(gone["uri"])
        return ann.post("still here https://here.example/1")

    kept = await asyncio.to_thread(write)
    # Resolving a handle needs a service: the account's (any account will do).
    ctx = context(tmp_path, {"any": (bob.handle, net.pds, "")})
    result = await BlueskySource().poll(feed(f"bluesky:@{ann.handle}", "any"), ctx)
    assert result.status == "ok", result.error
    assert [e.key for e in result.entries] == [kept["uri"]]  # the repost of a deleted post: skipped
    assert result.cursor and result.cursor["did"] == ann.did

    by_did = await BlueskySource().poll(feed(f"bluesky:@{ann.did}", ""), context(tmp_path))
    assert [e.key for e in by_did.entries] == [kept["uri"]]


async def test_timeline_needs_an_appview(
    tmp_path: Path, bluesky_network: BlueskyNetwork, plc: str
) -> None:
    user = await asyncio.to_thread(new_user, bluesky_network.pds, "solo")
    ctx = context(tmp_path, {"me": (user.handle, bluesky_network.pds, user.app_password)})
    result = await BlueskySource().poll(feed("bluesky:timeline"), ctx)
    assert result.status == "error"
    assert "has no AppView" in result.error and "bluesky:following" in result.error


@pytest.mark.slow
async def test_unresolvable_and_deactivated_accounts_do_not_stop_the_others(
    tmp_path: Path, bluesky_network: BlueskyNetwork, plc: str
) -> None:
    net = bluesky_network
    me, ann, bob = await asyncio.to_thread(
        lambda: tuple(new_user(net.pds, n) for n in ("me", "ann", "bob"))
    )

    def write() -> dict[str, Any]:
        me.follow(ann.did)
        me.follow(bob.did)
        me.follow("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")  # never registered
        kept = ann.post("fine https://fine.example")
        bob.post("then gone")
        bob._post("com.atproto.server.deactivateAccount", {})
        return kept

    kept = await asyncio.to_thread(write)
    ctx = context(tmp_path, {"me": (me.handle, net.pds, me.app_password)})
    result = await BlueskySource().poll(feed("bluesky:following"), ctx)
    assert result.status == "ok", result.error
    assert [e.key for e in result.entries] == [kept["uri"]]
    assert "2 of 3 accounts not read" in result.warning
    assert "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa does not resolve" in result.warning
    assert "deactivated" in result.warning and "\n" not in result.warning


async def test_plc_down_is_one_line_unless_known(
    tmp_path: Path, bluesky_network: BlueskyNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = bluesky_network
    me, ann = await asyncio.to_thread(lambda: (new_user(net.pds, "me"), new_user(net.pds, "ann")))
    await asyncio.to_thread(me.follow, ann.did)
    ctx = context(tmp_path, {"me": (me.handle, net.pds, me.app_password)})
    monkeypatch.setenv("VEILLE_PLC_URL", net.plc)
    known = await BlueskySource().poll(feed("bluesky:following"), ctx)
    assert known.status == "ok" and known.cursor is not None

    monkeypatch.setenv("VEILLE_PLC_URL", f"http://127.0.0.1:{free_port()}")
    result = await BlueskySource().poll(feed("bluesky:following"), ctx)
    assert result.status == "error" and result.error_kind == "connect"
    assert "could not resolve it" in result.error and "\n" not in result.error

    # With yesterday's answers in the cursor, the accounts are still read.
    cursor = json.loads(json.dumps(known.cursor))
    for state in cursor["dids"].values():
        state["checked"] = "2000-01-01T00:00:00Z"
    fresh = await asyncio.to_thread(ann.post, "new https://new.example/1")
    later = await BlueskySource().poll(feed("bluesky:following", cursor=cursor), ctx)
    assert later.status == "ok", later.error
    assert [e.key for e in later.entries] == [fresh["uri"]]


async def test_service_down(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"me": ("me.test", f"http://127.0.0.1:{free_port()}", "pw")})
    result = await BlueskySource().poll(feed("bluesky:following"), ctx)
    assert result.status == "error" and result.error_kind == "connect"
    following = await BlueskySource().poll(feed("bluesky:timeline"), ctx)
    assert following.status == "error" and following.error_kind == "connect"


# --- repositories of our own: did:web, a 10,000-post backlog, broken answers ----------------


async def test_did_web_backlog_capped_and_resumed(tmp_path: Path, fake_repos: RepoServers) -> None:
    repo = fake_repos.start("big.test")
    repo.add_posts(1, 10_000)
    source = BlueskySource(per_account=200)
    f = feed(f"bluesky:@{repo.did}", "")
    ctx = context(tmp_path)
    first = await source.poll(f, ctx)
    assert first.status == "ok", first.error
    assert first.title == "big.test (@big.test)"
    # The first poll reads the newest few, not the whole history.
    assert [e.link for e in first.entries][:2] == [
        "https://news.example/b/10000",
        "https://news.example/b/9999",
    ]
    assert len(first.entries) == 10 and not first.more
    f = advanced(f, first)
    repo.add_posts(10_001, 1_000)  # a backlog since the last poll
    seen: list[int] = []
    polls = 0
    while True:
        result = await source.poll(f, ctx)
        assert result.status == "ok", result.error
        assert len(result.entries) <= 200
        seen.extend(int(e.link.rsplit("/", 1)[1]) for e in result.entries)
        f = advanced(f, result)
        polls += 1
        if not result.more:
            break
    # 1,000 new posts, 200 a poll; the sixth poll finds that nothing is left.
    assert sorted(seen) == list(range(10_001, 11_001)) and polls == 6
    before = len(repo.requests)
    idle = await source.poll(f, ctx)
    assert idle.entries == [] and len(repo.requests) - before == 1  # the revision only


async def test_malformed_answers_and_odd_records(tmp_path: Path, fake_repos: RepoServers) -> None:
    repo = fake_repos.start("odd.test")
    repo.add("app.bsky.feed.post", {"text": "good https://ok.example", "facets": "nope"}, 1)
    repo.add("app.bsky.feed.post", {"text": None}, 2)
    repo.add("app.bsky.feed.post", {"$type": "com.example.weird", "text": "x"}, 3)
    text = "bad facets"
    repo.add(
        "app.bsky.feed.post",
        {
            "text": text,
            "facets": [
                {
                    "index": {"byteStart": -1, "byteEnd": 4},
                    "features": [{"$type": LINK, "uri": "https://a"}],
                },
                {"index": {"byteStart": 1, "byteEnd": 2}, "features": "nope"},
                {"index": None},
            ],
        },
        4,
    )
    repo.add(
        "app.bsky.feed.repost", {"subject": {"uri": "at://did:plc:gone/app.bsky.feed.post/x"}}, 5
    )
    ctx = context(tmp_path)
    result = await BlueskySource().poll(feed(f"bluesky:@{repo.did}", ""), ctx)
    assert result.status == "ok", result.error
    assert sorted(e.post_text for e in result.entries) == ["bad facets", "good https://ok.example"]

    repo.malformed.add("com.atproto.repo.listRecords")
    repo.add_posts(10, 1)
    broken = await BlueskySource().poll(advanced(feed(f"bluesky:@{repo.did}", ""), result), ctx)
    assert broken.status == "error" and broken.error_kind == "parse"
    assert "not JSON" in broken.error and "\n" not in broken.error


async def test_throttled_repository(tmp_path: Path, fake_repos: RepoServers) -> None:
    repo = fake_repos.start("busy.test")
    repo.fail["com.atproto.sync.getLatestCommit"] = (
        429,
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
    )
    result = await BlueskySource().poll(feed(f"bluesky:@{repo.did}", ""), context(tmp_path))
    assert result.status == "throttled" and "rate-limited" in result.error


# --- recorded AppView answers --------------------------------------------------------------------


def replay_context(
    tmp_path: Path, replay: BlueskyReplay, password: str = REPLAY_PASSWORD, **kw: Any
) -> PollContext:
    return context(tmp_path, {"me": (REPLAY_HANDLE, replay.base_url, password)}, **kw)


async def test_timeline_from_the_appview(tmp_path: Path, bluesky_replay: BlueskyReplay) -> None:
    ctx = replay_context(tmp_path, bluesky_replay)
    source = BlueskySource()
    first = await source.poll(feed("bluesky:timeline"), ctx)
    assert first.status == "ok", first.error
    recorded = pds_module.recorded("f_timeline__00.json")["feed"]
    assert len(first.entries) == len(recorded) == 49
    assert sum(e.kind == "repost" for e in first.entries) == 3
    assert first.title == f"Timeline · @{REPLAY_HANDLE}"
    # The session is kept for the next poll (never the password).
    session = ctx.secrets.get(ctx.accounts["me"].secret("session"))
    assert json.loads(session)["did"] == REPLAY_DID
    again = await source.poll(advanced(feed("bluesky:timeline"), first), ctx)
    assert again.status == "ok" and again.entries == []
    assert bluesky_replay.sessions == 1


async def test_custom_feed_from_the_appview(tmp_path: Path, bluesky_replay: BlueskyReplay) -> None:
    uri = "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/bsky-team"
    result = await BlueskySource().poll(
        feed(f"bluesky:feed/{uri}"), replay_context(tmp_path, bluesky_replay)
    )
    assert result.status == "ok", result.error
    assert len(result.entries) == 7
    assert any(
        "feed=at%3A%2F%2Fdid%3Aplc%3Az72i7hdynmk6r22z27h6tvur" in p
        for _, p, _ in bluesky_replay.requests
    )


async def test_notifications_where_there_is_an_appview(
    tmp_path: Path, bluesky_replay: BlueskyReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bluesky:following on a service with an AppView: the repositories (here: empty)
    plus listNotifications, which sees everyone's likes and reposts."""
    monkeypatch.setenv("VEILLE_PLC_URL", bluesky_replay.base_url)
    mine = {
        "at://did:plc:5c2r73erhng4bszmxlfdtscf/app.bsky.feed.post/3lpdf2hyvhd2m",
        "at://did:plc:5c2r73erhng4bszmxlfdtscf/app.bsky.feed.post/3kf24wd6cmb2a",
    }
    ctx = replay_context(tmp_path, bluesky_replay, sent=mine)
    result = await BlueskySource().poll(feed("bluesky:following"), ctx)
    assert result.status == "ok", result.error
    items = pds_module.recorded("n_notifications__00.json")["notifications"]
    expected = [
        i
        for i in items
        if i["reason"] in ("like", "repost", "quote") and i.get("reasonSubject") in mine
    ]
    assert sorted(r.key for r in result.responses) == sorted(i["uri"] for i in expected)
    assert {r.kind for r in result.responses} == {"like", "repost", "quote"}
    assert result.cursor and result.cursor["appview"]["seen"] == max(i["indexedAt"] for i in items)


async def test_no_appview_is_remembered(
    tmp_path: Path, bluesky_network: BlueskyNetwork, plc: str
) -> None:
    user = await asyncio.to_thread(new_user, bluesky_network.pds, "lone")
    ctx = context(
        tmp_path, {"me": (user.handle, bluesky_network.pds, user.app_password)}, sent={"at://x"}
    )
    result = await BlueskySource().poll(feed("bluesky:following"), ctx)
    assert result.status == "ok", result.error
    assert result.cursor and "absent_until" in result.cursor["appview"]
    assert result.warning == ""


async def test_revoked_app_password_says_how_to_log_in(
    tmp_path: Path, bluesky_replay: BlueskyReplay
) -> None:
    ctx = replay_context(tmp_path, bluesky_replay, password="revoked")
    result = await BlueskySource().poll(feed("bluesky:timeline"), ctx)
    assert result.status == "error" and result.error_kind == "auth"
    assert "`veille account remove me` then `veille account add bluesky" in result.error
    assert "revoked" not in result.error.split(":")[0]


async def test_expired_access_token_is_refreshed(
    tmp_path: Path, bluesky_replay: BlueskyReplay
) -> None:
    bluesky_replay.expire_next = 1
    result = await BlueskySource().poll(
        feed("bluesky:timeline"), replay_context(tmp_path, bluesky_replay)
    )
    assert result.status == "ok", result.error
    assert any("refreshSession" in p for _, p, _ in bluesky_replay.requests)


async def test_appview_throttled_and_broken(tmp_path: Path, bluesky_replay: BlueskyReplay) -> None:
    reset = str(int(time.time()) + 120)
    bluesky_replay.fail(
        "app.bsky.feed.getTimeline",
        429,
        "RateLimitExceeded",
        headers={"RateLimit-Reset": reset, "RateLimit-Remaining": "0"},
    )
    ctx = replay_context(tmp_path, bluesky_replay)
    throttled = await BlueskySource().poll(feed("bluesky:timeline"), ctx)
    assert throttled.status == "throttled"
    assert throttled.retry_after is not None and 100 < throttled.retry_after <= 120
    bluesky_replay.answers["app.bsky.feed.getTimeline"] = {"feed": "not a list"}
    broken = await BlueskySource().poll(feed("bluesky:timeline"), ctx)
    assert broken.status == "error" and broken.error_kind == "parse"


async def test_a_server_that_does_not_answer_is_asked_once(
    tmp_path: Path, bluesky_network: BlueskyNetwork, plc: str, fake_repos: RepoServers
) -> None:
    """Two followed accounts on one dead server: the second does not wait again."""
    dead = f"http://127.0.0.1:{free_port()}"
    first, second = fake_repos.start("one.test"), fake_repos.start("two.test")
    for repo in (first, second):
        repo.base_url = dead  # their DID documents name a server that is down
    alive = fake_repos.start("alive.test")
    alive.add_posts(1, 2)
    me = await asyncio.to_thread(new_user, bluesky_network.pds, "me")
    for did in (first.did, second.did, alive.did):
        await asyncio.to_thread(me.follow, did)
    ctx = context(tmp_path, {"me": (me.handle, bluesky_network.pds, me.app_password)})
    result = await BlueskySource(concurrency=1).poll(feed("bluesky:following"), ctx)
    assert result.status == "ok", result.error
    assert len(result.entries) == 2
    assert "2 of 3 accounts not read" in result.warning
    assert f"{dead} did not answer" in result.warning
