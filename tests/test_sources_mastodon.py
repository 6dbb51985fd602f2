"""Mastodon timelines as a source: against snac2 (a genuine Mastodon-API server) and a
replay of real mastodon.social / Mastodon test-instance answers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.servers import fake_mastodon as fake_module
from tests.servers import mastodon as snac_module
from tests.servers.fake_mastodon import FakeMastodon
from tests.servers.mastodon import SnacServer, add_user, one_shot_client
from veille.accounts.config import Account
from veille.accounts.secrets import SecretStore
from veille.domain.records import Feed
from veille.sources.base import PollContext, PollResult
from veille.sources.mastodon import (
    MastodonSource,
    content_links,
    notification_response,
    post_text,
    status_entry,
)

snac_server = snac_module.snac_server
fake_mastodon = fake_module.fake_mastodon

HOME = "/api/v1/timelines/home"


# --- helpers ---------------------------------------------------------------------------


def context(
    tmp_path: Path,
    accounts: dict[str, tuple[str, str]] | None = None,
    *,
    sent: set[str] | None = None,
) -> PollContext:
    """A PollContext with Mastodon accounts {name: (instance, token)} and a real
    secret store (a 0600 file) holding their tokens."""
    secrets = SecretStore(tmp_path / f"secrets-{uuid.uuid4().hex}.json", use_keyring=False)
    found = {}
    for name, (instance, token) in (accounts or {}).items():
        account = Account(name=name, type="mastodon", instance=instance)
        if token:
            secrets.set(account.secret("token"), token)
        found[name] = account
    return PollContext(
        fetcher=cast(Any, None),
        parse=cast(Any, None),
        config=None,
        accounts=found,
        secrets=secrets,
        sent=frozenset(sent or ()),
    )


def feed(url: str, account: str = "main", cursor: dict[str, Any] | None = None) -> Feed:
    return Feed(id=url, url=url, kind="mastodon", account=account, cursor=cursor or {})


def advanced(f: Feed, result: PollResult) -> Feed:
    """The feed as refresh stores it after a poll: the new cursor kept."""
    from dataclasses import replace

    return replace(f, cursor=dict(result.cursor)) if result.cursor is not None else f


def recorded(name: str) -> Any:
    return fake_module.load_recorded_page(name)[1]


def entity(name: str) -> Any:
    return json.loads((fake_module.ENTITIES / name).read_text("utf-8"))


def generated(template: dict[str, Any], first: int, count: int) -> list[dict[str, Any]]:
    """`count` statuses cloned from a recorded one, ids first..first+count-1, each
    linking to its own article."""
    out = []
    for n in range(first, first + count):
        status = dict(template)  # shallow: only top-level fields change
        status.update(
            id=str(n),
            uri=f"https://example.social/users/a/statuses/{n}",
            url=f"https://example.social/@a/{n}",
            content=f'<p>post {n} <a href="https://news.example/a/{n}?utm_source=masto">'
            f"news.example/a/{n}</a></p>",
            card=None,
            reblog=None,
            quote=None,
            in_reply_to_id=None,
        )
        out.append(status)
    return out


def template() -> dict[str, Any]:
    return entity("test_entity_status__00.json")


# --- posts → entries, on real recorded statuses ------------------------------------------


def test_card_link_title_and_shortened_words(corpus: Path) -> None:
    status = entity("test_entity_previewcard__02.json")
    entry = status_entry(status, instance="https://mastodon.social")
    assert entry is not None
    assert entry.kind == "post"
    assert (
        entry.link
        == "https://soundcloud.com/wakarangirl/popstars-dj-wakaran-girl-khard-bass-flex-1"
    )
    assert entry.title == status["card"]["title"]
    assert entry.handle == "@halcy@mastodon.social"
    assert entry.key == status["uri"]
    assert entry.post_url == status["url"]
    # The post shows the link cut as Mastodon cuts it, not the hidden parts.
    assert entry.post_text.startswith("soundcloud.com/wakarangirl/pop… link to soundcloud")
    assert "https://" not in entry.post_text
    assert entry.content == status["content"]
    assert entry.published and entry.published.endswith("Z")


def test_mentions_and_hashtags_are_not_the_article(corpus: Path) -> None:
    html = (
        '<p><span class="h-card"><a href="https://merveilles.town/@cancel" '
        'class="u-url mention">@<span>cancel</span></a></span> look '
        '<a href="https://mastodon.social/tags/rss" class="mention hashtag" rel="tag">'
        '#<span>rss</span></a> <a href="javascript:alert(1)">x</a> '
        '<a href="https://blog.example/post?fbclid=abc&id=4">blog.example/post</a></p>'
    )
    assert content_links(html) == ["https://blog.example/post?id=4"]


def test_quote_post_is_about_the_quoted_post(corpus: Path) -> None:
    status = entity("test_entity_quote__00.json")
    entry = status_entry(status)
    assert entry is not None
    assert entry.kind == "quote"
    # Its own link is to the quoted (bridged Bluesky) post: that post is what it is
    # about.  The "RE:" fallback is not the author's words.
    assert entry.link == "https://bsky.app/profile/h4lcy.bsky.social/post/3lwlumdwf522i"
    assert status["quote"]["quoted_status"]["url"].endswith("/post/3lwlumdwf522i")
    assert "RE:" not in entry.post_text
    assert entry.post_text.startswith("actual reply that quotes a post that quotes a post")


def test_boost_is_a_repost_by_the_booster(corpus: Path) -> None:
    body = recorded("test_status_reblogged_by__01.json")
    entry = status_entry(body, instance="http://localhost:3000")
    assert entry is not None
    assert entry.kind == "repost"
    assert entry.key == body["uri"] and entry.key != body["reblog"]["uri"]
    assert entry.reposter == "@" + body["account"]["acct"] + "@localhost:3000"
    assert entry.handle == "@" + body["reblog"]["account"]["acct"] + "@localhost:3000"


def test_media_become_enclosures_and_cw_is_kept(corpus: Path) -> None:
    statuses = fake_module.load_recorded_statuses()
    with_media = next(s for s in statuses if s.get("media_attachments") and not s.get("reblog"))
    entry = status_entry(with_media)
    assert entry is not None
    assert [e["url"] for e in entry.enclosures] == [
        m["url"] for m in with_media["media_attachments"] if m.get("url")
    ]
    with_cw = next(s for s in statuses if s.get("spoiler_text") and not s.get("reblog"))
    entry = status_entry(with_cw)
    assert entry is not None and entry.content_warning == with_cw["spoiler_text"].strip()


def test_post_without_link_is_its_own_entry(corpus: Path) -> None:
    body = recorded("test_hashtag_tl__02.json")[0]
    entry = status_entry(body)
    assert entry is not None
    assert entry.link == body["url"]
    assert entry.title == "#hoot (hashtag toot)"


def test_control_characters_never_reach_the_entry() -> None:
    status = copy.deepcopy(
        {
            "id": "1",
            "uri": "https://x.example/users/a/statuses/1",
            "url": "https://x.example/@a/1",
            "created_at": "2026-01-02T03:04:05.000Z",
            "content": "<p>evil \x1b]8;;https://bad\x07title\x1b[31m red</p>",
            "spoiler_text": "cw\x1b[2J",
            "account": {"acct": "a", "url": "https://x.example/@a", "display_name": "A\x1b[1mB"},
        }
    )
    entry = status_entry(status)
    assert entry is not None
    for text in (entry.post_text, entry.title, entry.author, entry.content_warning, entry.summary):
        assert "\x1b" not in text and "\x07" not in text
    assert entry.author == "AB"


def test_recorded_link_header_is_what_the_replay_sends(
    corpus: Path, fake_mastodon: FakeMastodon
) -> None:
    """The replay pages like the recorded Mastodon: same Link header for the same request."""
    row, body = fake_module.load_recorded_page("test_home_tl__01.json")
    page, link = fake_mastodon.page(HOME, body, {})
    assert [s["id"] for s in page] == [s["id"] for s in body]
    assert link == row["link_header"].replace("http://localhost:3000", fake_mastodon.base_url)


# --- polling the replay ------------------------------------------------------------------


async def test_home_first_poll_then_only_what_is_new(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    statuses = fake_module.load_recorded_statuses()
    fake.timelines[HOME] = statuses
    ctx = context(tmp_path, {"main": (fake.base_url, fake.token)})
    source = MastodonSource()
    first = await source.poll(feed("mastodon:home"), ctx)
    assert first.status == "ok", first.error
    assert len(first.entries) == 40  # the newest page
    newest = max(statuses, key=lambda s: int(s["id"]))
    assert first.entries[0].key == newest["uri"]
    assert first.cursor == {"min_id": newest["id"]}
    assert first.title.startswith("Home ·") and not first.more

    again = await source.poll(advanced(feed("mastodon:home"), first), ctx)
    assert again.status == "ok" and again.entries == []
    # min_id, never since_id
    assert any("min_id=" in path for method, path, _ in fake.requests if path.startswith(HOME))
    assert not any("since_id" in path for _, path, _ in fake.requests)

    fake.timelines[HOME] = statuses + generated(template(), int(newest["id"]) + 1, 3)
    third = await source.poll(advanced(feed("mastodon:home"), again), ctx)
    assert [e.link for e in third.entries] == [
        f"https://news.example/a/{int(newest['id']) + n}" for n in (3, 2, 1)
    ]


async def test_backlog_of_10000_is_capped_and_resumed_without_gaps(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    fake.rate_remaining = 10**6
    start = 200_000_000_000_000_000
    fake.timelines[HOME] = generated(template(), start, 10_001)
    ctx = context(tmp_path, {"main": (fake.base_url, fake.token)})
    source = MastodonSource()
    f = feed("mastodon:home", cursor={"min_id": str(start)})
    seen: list[str] = []
    polls = 0
    while True:
        result = await source.poll(f, ctx)
        assert result.status == "ok", result.error
        assert len(result.entries) <= 200
        seen.extend(e.link for e in result.entries)
        polls += 1
        f = advanced(f, result)
        if not result.more:
            break
        assert len(result.entries) == 200
    assert polls == 51  # 10,000 posts, 200 a poll, and the last poll finds no more
    numbers = sorted(int(link.rsplit("/", 1)[1]) for link in seen)
    assert numbers == list(range(start + 1, start + 10_001))  # each once, none missed


async def test_rate_limit_low_stops_paging_and_429_throttles(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    start = 200_000_000_000_000_000
    fake.timelines[HOME] = generated(template(), start, 500)
    fake.rate_remaining = 12  # two pages, then the window is nearly spent
    ctx = context(tmp_path, {"main": (fake.base_url, fake.token)})
    result = await MastodonSource().poll(feed("mastodon:home", cursor={"min_id": str(start)}), ctx)
    assert result.status == "ok"
    assert len(result.entries) == 80 and result.more
    assert result.retry_after is not None and 250 < result.retry_after <= 300

    fake.rate_remaining = 0
    throttled = await MastodonSource().poll(advanced(feed("mastodon:home"), result), ctx)
    assert throttled.status == "throttled"
    assert throttled.retry_after is not None and 250 < throttled.retry_after <= 300
    assert "rate-limited" in throttled.error and "\n" not in throttled.error
    assert throttled.cursor is None  # position kept for the next poll


async def test_list_and_tag_from_recorded_timelines(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    fake.timelines["/api/v1/timelines/list/2"] = recorded("test_list_timeline__05.json")
    fake.lists["2"] = recorded("test_list_update__04.json")
    fake.timelines["/api/v1/timelines/tag/hoot"] = recorded("test_hashtag_tl__02.json")
    ctx = context(tmp_path, {"main": (fake.base_url, fake.token)})
    listed = await MastodonSource().poll(feed("mastodon:list/2"), ctx)
    assert listed.status == "ok", listed.error
    assert listed.title.startswith("fry kids ·")
    assert len(listed.entries) == len(recorded("test_list_timeline__05.json"))
    tagged = await MastodonSource().poll(feed("mastodon:tag/hoot"), ctx)
    assert [e.title for e in tagged.entries] == ["#hoot (hashtag toot)"]
    assert tagged.title.startswith("#hoot ·")

    gone = await MastodonSource().poll(feed("mastodon:list/404"), ctx)
    assert gone.status == "gone" and "list 404" in gone.error


async def test_public_account_needs_no_login(tmp_path: Path, fake_mastodon: FakeMastodon) -> None:
    fake = fake_mastodon
    account = recorded("test_account_lookup__00.json")
    fake.lookup_accounts["mastodonpy_test"] = account
    path = f"/api/v1/accounts/{account['id']}/statuses"
    fake.timelines[path] = recorded("test_list_timeline__05.json")
    fake.public_paths |= {path, "/api/v1/accounts/lookup"}
    host = fake.base_url.removeprefix("http://")
    ctx = context(tmp_path)  # no account at all
    result = await MastodonSource().poll(feed(f"mastodon:@mastodonpy_test@{host}", ""), ctx)
    assert result.status == "ok", result.error
    assert result.title == f"John Lennon (@mastodonpy_test@{host})"
    assert result.entries and result.cursor and result.cursor["account_id"] == account["id"]
    reads = [(p, h) for m, p, h in fake.requests if m == "GET"]
    assert all("Authorization" not in h for _, h in reads)
    assert any("exclude_replies=true" in p for p, _ in reads)

    missing = await MastodonSource().poll(feed(f"mastodon:@nobody@{host}", ""), ctx)
    assert missing.status == "gone" and "@nobody@" in missing.error

    fake.lookup_accounts["banned"] = {**account, "id": "9", "suspended": True}
    banned = await MastodonSource().poll(feed(f"mastodon:@banned@{host}", ""), ctx)
    assert banned.status == "gone" and "suspended" in banned.error


# --- responses to your shares -------------------------------------------------------------


async def test_favourites_boosts_replies_and_quotes_of_sent_posts(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    notifications = fake_module.load_recorded_notifications()
    # Two of those posts are "ours": one favourited, one boosted.
    mine = {
        next(n for n in notifications if n["type"] == kind)["status"]["id"]
        for kind in ("favourite", "reblog")
    }
    reply = copy.deepcopy(template())
    reply.update(id="900", uri="https://x.example/users/b/statuses/900", in_reply_to_id="4242")
    reply["url"] = "https://x.example/@b/900"
    quote = entity("test_entity_quote__00.json")
    notifications += [
        {"id": "9000001", "type": "mention", "created_at": "2026-04-12T10:00:00.000Z",
         "account": reply["account"], "status": reply},
        {"id": "9000002", "type": "quote", "created_at": "2026-04-12T11:00:00.000Z",
         "account": quote["account"], "status": quote},
        {"id": "9000003", "type": "follow", "created_at": "2026-04-12T12:00:00.000Z",
         "account": reply["account"]},
    ]  # fmt: skip
    fake.notifications = notifications
    fake.timelines[HOME] = []
    sent = mine | {"4242", quote["quote"]["quoted_status"]["url"]}
    ctx = context(tmp_path, {"main": (fake.base_url, fake.token)}, sent=sent)
    result = await MastodonSource().poll(feed("mastodon:home"), ctx)
    assert result.status == "ok", result.error
    kinds = {r.kind for r in result.responses}
    assert kinds == {"like", "repost", "reply", "quote"}
    expected = [n for n in notifications[:-3] if n["status"]["id"] in mine]
    likes = [r for r in result.responses if r.kind in ("like", "repost")]
    assert len(likes) == len(expected)
    assert all(r.target in mine and r.handle.startswith("@") for r in likes)
    [answer] = [r for r in result.responses if r.kind == "reply"]
    assert answer.target == "4242" and answer.key == reply["uri"]
    assert answer.text == post_text(reply["content"])
    [quoted] = [r for r in result.responses if r.kind == "quote"]
    assert quoted.target == quote["quote"]["quoted_status"]["url"]
    # The reply is in the stream too, as a reply to your share.
    [entry] = [e for e in result.entries if e.kind == "reply"]
    assert entry.reply_to == "4242" and entry.link == reply["url"]
    # The follow was not asked for (types[]), so the newest response is the quote.
    assert result.cursor and result.cursor["notifications_min_id"] == "9000002"
    # Types are asked for, so the server does not send follows and the like.
    assert any("types%5B%5D=favourite" in p for _, p, _ in fake.requests)


def test_notification_about_someone_else_is_not_a_response(corpus: Path) -> None:
    [n, *_] = fake_module.load_recorded_notifications()
    assert notification_response(n, sent={"not-that-one"}) is None
    response = notification_response(n, sent={n["status"]["id"]})
    assert response is not None and response.kind in ("like", "repost")


async def test_no_sent_posts_no_notification_requests(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    fake.timelines[HOME] = []
    await MastodonSource().poll(
        feed("mastodon:home"), context(tmp_path, {"main": (fake.base_url, fake.token)})
    )
    assert not any("/notifications" in p for _, p, _ in fake.requests)


# --- bad input -------------------------------------------------------------------------------


async def test_revoked_token_says_how_to_log_in_and_others_keep_working(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    fake.timelines[HOME] = fake_module.load_recorded_statuses()
    fake.timelines["/api/v1/timelines/tag/hoot"] = recorded("test_hashtag_tl__02.json")
    ctx = context(
        tmp_path, {"main": (fake.base_url, fake.token), "old": (fake.base_url, "revoked-token")}
    )
    bad, good = await asyncio.gather(
        MastodonSource().poll(feed("mastodon:home", "old"), ctx),
        MastodonSource().poll(feed("mastodon:tag/hoot", "main"), ctx),
    )
    assert bad.status == "error" and bad.error_kind == "auth"
    assert "`veille account remove old` then `veille account add mastodon" in bad.error
    assert "revoked-token" not in bad.error and "\n" not in bad.error
    assert good.status == "ok" and len(good.entries) == 1


async def test_missing_account_or_token(tmp_path: Path, fake_mastodon: FakeMastodon) -> None:
    ctx = context(tmp_path, {"main": (fake_mastodon.base_url, "")})
    no_token = await MastodonSource().poll(feed("mastodon:home"), ctx)
    assert no_token.error_kind == "auth" and "no token saved for 'main'" in no_token.error
    none = await MastodonSource().poll(feed("mastodon:home", "other"), context(tmp_path))
    assert none.error_kind == "auth" and "veille account add mastodon" in none.error
    bad_name = await MastodonSource().poll(feed("mastodon:tag/ bad"), ctx)
    assert bad_name.status == "error" and bad_name.error_kind == "url"


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [(500, "http", "HTTP 500"), (503, "http", "HTTP 503"), (410, "not_found", "is not on")],
)
async def test_server_errors_are_one_line(
    tmp_path: Path, fake_mastodon: FakeMastodon, status: int, kind: str, words: str
) -> None:
    fake = fake_mastodon
    fake.timelines[HOME] = []
    fake.fail_get(HOME, status, body={"error": "<html>\x1b[31mboom</html>"})
    result = await MastodonSource().poll(
        feed("mastodon:home"), context(tmp_path, {"main": (fake.base_url, fake.token)})
    )
    assert result.failed and result.error_kind == kind and words in result.error
    assert "\x1b" not in result.error and "\n" not in result.error


async def test_malformed_json_and_odd_items(tmp_path: Path, fake_mastodon: FakeMastodon) -> None:
    fake = fake_mastodon
    fake.timelines[HOME] = []
    fake.malformed.add(HOME)
    ctx = context(tmp_path, {"main": (fake.base_url, fake.token)})
    broken = await MastodonSource().poll(feed("mastodon:home"), ctx)
    assert broken.status == "error" and broken.error_kind == "parse"
    fake.malformed.clear()
    good = generated(template(), 300, 1)[0]
    fake.timelines[HOME] = [
        good,
        {"id": "301", "type": "poll-result"},  # no account, no uri: skipped
        {"id": "302", "uri": 7, "account": "x", "content": None},
    ]
    odd = await MastodonSource().poll(feed("mastodon:home"), ctx)
    assert odd.status == "ok" and [e.key for e in odd.entries] == [good["uri"]]


async def test_instance_down(tmp_path: Path) -> None:
    port = snac_module.free_port()
    ctx = context(tmp_path, {"main": (f"http://127.0.0.1:{port}", "t")})
    result = await MastodonSource().poll(feed("mastodon:home"), ctx)
    assert result.status == "error" and result.error_kind == "connect"
    assert f"127.0.0.1:{port}" in result.error


async def test_paging_link_to_another_server_is_not_followed(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    """A token must never travel to another host, whatever the Link header says."""
    from veille.clients.mastodon import MastodonClient, MastodonError

    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        with pytest.raises(MastodonError, match="another server"):
            await client.get_page(url="https://evil.example/api/v1/timelines/home?min_id=1")


# --- snac2: a genuine server --------------------------------------------------------------


def _wait(predicate: Any, what: str, timeout: float = 90.0) -> Any:
    """snac delivers between its own users through its queue: wait for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"snac did not deliver {what} within {timeout:.0f} s")


@pytest.mark.slow
async def test_snac_home_tag_account_and_responses(tmp_path: Path, snac_server: SnacServer) -> None:
    base, token = snac_server.base_url, snac_server.token
    name = "ann" + uuid.uuid4().hex[:6]
    _, ann_token = await asyncio.to_thread(add_user, snac_server, name)
    tag = "veille" + uuid.uuid4().hex[:6]

    def auth(t: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {t}"}

    with one_shot_client(base_url=base, timeout=10) as http:
        ann = http.get("/api/v1/accounts/lookup", params={"acct": name}).json()
        me = http.get("/api/v1/accounts/lookup", params={"acct": snac_server.username}).json()
        assert http.post(f"/api/v1/accounts/{ann['id']}/follow", headers=auth(token)).is_success
        assert http.post(f"/api/v1/accounts/{me['id']}/follow", headers=auth(ann_token)).is_success
        shared = http.post(
            "/api/v1/statuses",
            headers=auth(ann_token),
            data={"status": f"Read this https://example.org/a?utm_source=x #{tag}"},
        ).json()

        def in_home() -> bool:
            home = http.get("/api/v1/timelines/home", headers=auth(token)).json()
            return shared["id"] in [s["id"] for s in home]

        await asyncio.to_thread(_wait, in_home, "ann's post to the home timeline")

    ctx = context(tmp_path, {"main": (base, token)})
    source = MastodonSource()
    home = await source.poll(feed("mastodon:home"), ctx)
    assert home.status == "ok", home.error
    [entry] = [e for e in home.entries if e.key == shared["uri"]]
    host = base.removeprefix("http://")
    assert entry.link == "https://example.org/a"  # tracking parameter gone
    assert entry.handle == f"@{name}@{host}" and entry.kind == "post"
    assert entry.post_text.startswith("Read this") and tag in entry.categories

    tagged = await source.poll(feed(f"mastodon:tag/{tag}"), ctx)
    assert [e.key for e in tagged.entries] == [shared["uri"]]
    public = await source.poll(feed(f"mastodon:@{name}@{host}", ""), context(tmp_path))
    assert public.status == "ok", public.error
    assert [e.link for e in public.entries] == ["https://example.org/a"]

    # veille's share; ann favourites, boosts and replies to it.
    with one_shot_client(base_url=base, timeout=10) as http:
        mine = http.post(
            "/api/v1/statuses", headers=auth(token), data={"status": "Mine https://example.com/x"}
        ).json()

        def ann_sees_it() -> bool:
            home = http.get("/api/v1/timelines/home", headers=auth(ann_token)).json()
            return mine["id"] in [s["id"] for s in home]

        await asyncio.to_thread(_wait, ann_sees_it, "veille's post to ann")
        assert http.post(f"/api/v1/statuses/{mine['id']}/favourite", headers=auth(ann_token))
        assert http.post(f"/api/v1/statuses/{mine['id']}/reblog", headers=auth(ann_token))
        answer = http.post(
            "/api/v1/statuses",
            headers=auth(ann_token),
            data={"status": f"@{snac_server.username} agreed", "in_reply_to_id": mine["id"]},
        ).json()

        def notified() -> bool:
            found = http.get("/api/v1/notifications", headers=auth(token)).json()
            mine_ = [
                n for n in found if (n.get("status") or {}).get("id") in (mine["id"], answer["id"])
            ]
            return {n["type"] for n in mine_} >= {"favourite", "reblog", "mention"}

        await asyncio.to_thread(_wait, notified, "the notifications")

    ctx = context(tmp_path, {"main": (base, token)}, sent={mine["id"], mine["url"]})
    later = await source.poll(advanced(feed("mastodon:home"), home), ctx)
    assert later.status == "ok", later.error
    by_kind = {r.kind: r for r in later.responses}
    assert set(by_kind) >= {"like", "repost", "reply"}
    assert all(r.target == mine["id"] and r.handle == f"@{name}@{host}" for r in by_kind.values())
    assert by_kind["reply"].text.endswith("agreed")
    replies = [e for e in later.entries if e.kind == "reply"]
    assert [e.key for e in replies] == [answer["uri"]] and replies[0].reply_to == mine["id"]
    # One reply, one entry, whether it came through the timeline or the notifications.
    assert len([e for e in later.entries if e.key == answer["uri"]]) == 1


async def test_snac_bad_token(tmp_path: Path, snac_server: SnacServer) -> None:
    ctx = context(tmp_path, {"main": (snac_server.base_url, "not-a-token")})
    result = await MastodonSource().poll(feed("mastodon:home"), ctx)
    assert result.error_kind == "auth" and "veille account add mastodon" in result.error


async def test_short_links_in_posts_are_resolved(
    tmp_path: Path, fake_mastodon: FakeMastodon, httpserver: HTTPServer
) -> None:
    """A bit.ly-style link in a post becomes the article it points at (one request,
    then the cache), so it meets the same article from feeds and other posts."""
    from veille.net.shorteners import ShortLinks

    httpserver.expect_request("/3xYz", method="HEAD").respond_with_response(
        Response(status=301, headers={"Location": "https://article.example/a?utm_medium=social"})
    )
    short = httpserver.url_for("/3xYz")
    status = generated(template(), 400, 1)[0]
    status["content"] = f'<p>Read <a href="{short}">{short}</a></p>'
    fake_mastodon.timelines[HOME] = [status]
    ctx = context(tmp_path, {"main": (fake_mastodon.base_url, fake_mastodon.token)})
    async with ShortLinks(tmp_path, extra_hosts={f"{httpserver.host}:{httpserver.port}"}) as links:
        ctx.shortlinks = links
        result = await MastodonSource().poll(feed("mastodon:home"), ctx)
    assert [e.link for e in result.entries] == ["https://article.example/a"]
    assert short in result.entries[0].post_text  # the words stay as posted


async def test_posts_about_a_link(fake_mastodon: FakeMastodon) -> None:
    """timelines/link (snac lacks it): the recorded 404 for an unknown link is None."""
    from veille.clients.mastodon import MastodonClient

    row, body = fake_module.load_recorded_page("test_timeline_link_fails__01.json")
    assert row["status"] == 404
    path = "/api/v1/timelines/link"
    fake_mastodon.fail_get(path, 404, body=body)
    fake_mastodon.timelines[path] = recorded("test_list_timeline__05.json")
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        assert await client.link_timeline("http://example.com/") is None
        page = await client.link_timeline("https://example.org/a")
    assert page is not None and len(page.items) == len(recorded("test_list_timeline__05.json"))
    assert any("url=https%3A%2F%2Fexample.org%2Fa" in p for _, p, _ in fake_mastodon.requests)


async def test_notifications_of_deleted_posts(tmp_path: Path, fake_mastodon: FakeMastodon) -> None:
    """Recorded mastodon.social notifications whose status is gone (null): no response,
    no failure."""
    recorded_notifications = entity("test_entity_notification__00.json")
    assert any(n["status"] is None for n in recorded_notifications)
    fake_mastodon.notifications = recorded_notifications
    fake_mastodon.timelines[HOME] = []
    ctx = context(tmp_path, {"main": (fake_mastodon.base_url, fake_mastodon.token)}, sent={"1"})
    result = await MastodonSource().poll(feed("mastodon:home"), ctx)
    assert result.status == "ok" and result.responses == [] and result.warning == ""
    assert result.cursor and result.cursor["notifications_min_id"] == max(
        (n["id"] for n in recorded_notifications), key=lambda i: (len(i), i)
    )
