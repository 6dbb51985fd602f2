"""Social sources in the refresh: your sent posts handed to the polls, responses attached
to their shares once, failures kept to their own source, backlogs resumed soon.

Mastodon answers come from the replay of recorded mastodon.social answers on 127.0.0.1
(tests/servers/fake_mastodon.py); feeds from pytest-httpserver; a PLC directory that
knows no DID is a small server of our own.
"""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer

from tests.servers import fake_mastodon as fake_module
from tests.servers.fake_mastodon import FakeMastodon
from tests.servers.mastodon import free_port
from tests.test_social_add import bluesky, feeds, jsonl, mastodon
from veille.config import load_config
from veille.domain.share import Delivery, Share
from veille.paths import get_paths
from veille.refresh.runner import refresh_feeds
from veille.store.store import Store
from veille.util.dates import parse_iso

fake_mastodon = fake_module.fake_mastodon
HOME = "/api/v1/timelines/home"


def rss(n: int, prefix: str = "a") -> str:
    items = "".join(
        f"<item><guid>{prefix}{i}</guid><title>Item {i}</title>"
        f"<link>https://site.example/{prefix}{i}?utm_source=rss</link></item>"
        for i in range(n)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'
    )


def template() -> dict[str, Any]:
    return json.loads((fake_module.ENTITIES / "test_entity_status__00.json").read_text("utf-8"))


def statuses(first: int, count: int, link: str = "https://news.example/a/{n}") -> list[dict]:
    """Recorded statuses cloned with ids first..first+count-1, each linking to an article."""
    out = []
    base = template()
    for n in range(first, first + count):
        s = dict(base)
        url = link.format(n=n)
        s.update(
            id=str(n),
            uri=f"https://example.social/users/a/statuses/{n}",
            url=f"https://example.social/@a/{n}",
            content=f'<p>post {n} <a href="{url}">{url}</a></p>',
            card=None,
            reblog=None,
            quote=None,
            in_reply_to_id=None,
        )
        out.append(s)
    return out


def notification(nid: int, kind: str, account: dict, status: dict) -> dict[str, Any]:
    return {
        "id": str(nid),
        "type": kind,
        "created_at": "2026-11-30T10:00:00.000Z",
        "account": account,
        "status": status,
    }


# --- responses ---------------------------------------------------------------------------


def test_responses_to_a_share_are_attached_once_and_kept(
    cli: Any, home: Path, fake_mastodon: FakeMastodon
) -> None:
    """Shared to a Mastodon account, then favourited, boosted and answered."""
    fake = fake_mastodon
    fake.rate_remaining = 10**6
    fake.timelines[HOME] = statuses(110_000_000_000_000_001, 3)
    mastodon(home, "main", fake.base_url, fake.token)
    assert cli("add", "mastodon:home").code == 0
    [item] = [
        i for i in jsonl(cli("items", "--json").out) if i["link"].endswith("/a/110000000000000001")
    ]
    r = cli("share", item["id"], "--comment", "Worth it", "--to", "main")
    assert r.code == 0, r.out + r.err
    [mine] = fake.statuses  # what the instance really created
    [share] = jsonl(cli("shares", "--json").out)
    assert share["deliveries"][0]["url"] == mine["url"] and share["responses"] == []

    recorded = fake_module.load_recorded_notifications()
    fan, booster = recorded[0]["account"], recorded[1]["account"]
    answer = copy.deepcopy(template())
    answer.update(
        id="120000000000000001",
        in_reply_to_id=mine["id"],
        uri=f"{fake.base_url}/users/b/statuses/1",
        url=f"{fake.base_url}/@b/1",
        content="<p>Agreed, a <b>great</b> read</p>",
        card=None,
        reblog=None,
        quote=None,
    )
    elsewhere = dict(
        answer, id="120000000000000002", in_reply_to_id="1234", uri=f"{fake.base_url}/users/b/2"
    )
    fake.notifications = [
        notification(9001, "favourite", fan, mine),
        notification(9002, "reblog", booster, mine),
        notification(9003, "mention", answer["account"], answer),
        notification(9004, "mention", answer["account"], elsewhere),  # not about your post
        notification(9005, "favourite", fan, statuses(5, 1)[0]),  # someone else's post
    ]
    r = cli("refresh")
    assert r.code == 0 and "3 new responses to your shares" in r.out, r.out + r.err

    [share] = jsonl(cli("shares", "--json").out)
    got = sorted(share["responses"], key=lambda x: x["kind"])
    assert [x["kind"] for x in got] == ["like", "reply", "repost"]
    like, reply, repost = got
    assert like["handle"] == "@" + fan["acct"] and like["author"] == fan["display_name"]
    assert repost["handle"] == "@" + booster["acct"]
    assert reply["text"] == "Agreed, a great read" and reply["url"] == answer["url"]
    assert reply["at"] == "2026-11-30T10:00:00Z"
    assert "responses: 1 reply, 1 like, 1 repost" in cli("shares").out
    # The reply is also in the stream, as a reply to your share; the other mention is not.
    replies = [i for i in jsonl(cli("items", "--json").out) if i["kind"] == "reply"]
    assert [i["link"] for i in replies] == [answer["url"]]

    # The same notifications again (a server that ignores min_id): attached once.
    fake.notifications.append(notification(9006, "favourite", booster, mine))
    assert cli("refresh").code == 0
    [share] = jsonl(cli("shares", "--json").out)
    assert sorted(x["kind"] for x in share["responses"]) == ["like", "like", "reply", "repost"]


def test_the_app_call_reads_accounts_and_sent_posts_itself(
    tmp_path: Path, home: Path, fake_mastodon: FakeMastodon
) -> None:
    """refresh_feeds as the app calls it (no accounts, no secrets): social sources poll,
    and a status id counts as yours only on the instance it was posted to."""
    fake = fake_mastodon
    fake.timelines[HOME] = []
    mastodon(home, "main", fake.base_url, fake.token)
    mastodon(home, "other", "https://other.example", "t2")
    paths = get_paths(home)
    store = Store(paths.store)
    try:
        feed, _ = store.add_feed("mastodon:home", kind="mastodon", account="main")
        ours = _sent_share("s-here", "main", "mastodon", "555", f"{fake.base_url}/@me/555")
        theirs = _sent_share("s-there", "other", "mastodon", "777", "https://other.example/@me/777")
        store.put_share(ours)
        store.put_share(theirs)
        account = template()["account"]
        reply = dict(
            template(),
            id="900",
            in_reply_to_id="555",
            uri="https://z.example/s/900",
            url="https://z.example/@z/900",
            card=None,
            reblog=None,
            quote=None,
        )
        other = dict(reply, id="901", in_reply_to_id="777", uri="https://z.example/s/901")
        fake.notifications = [
            notification(1, "mention", account, reply),
            notification(2, "mention", account, other),  # 777 is a status of other.example
        ]
        config = load_config(paths.config_file)
        summary = asyncio.run(refresh_feeds(store, config, feed_ids=[feed.id]))
        assert summary.errors == 0 and summary.responses == 1, summary.outcomes
        assert [r.target for r in store.get_share("s-here").responses] == ["555"]
        assert store.get_share("s-there").responses == []
        # Every request for your notifications carried your token: the account was found.
        assert any(p.startswith("/api/v1/notifications") for _, p, _ in fake.requests)
    finally:
        store.close()
    reopened = Store(paths.store)
    try:  # kept on disk
        [response] = reopened.get_share("s-here").responses
        assert response.kind == "reply" and response.destination == "main"
    finally:
        reopened.close()


def _sent_share(sid: str, destination: str, kind: str, remote_id: str, url: str) -> Share:
    share = Share(id=sid, item_id="", comment="c", created="2026-11-30T09:00:00Z")
    share.deliveries[destination] = Delivery(
        destination=destination, kind=kind, status="sent", remote_id=remote_id, url=url
    )
    return share


# --- failures stay with their source ------------------------------------------------------


def test_failing_social_sources_never_stop_the_others(
    cli: Any, home: Path, httpserver: HTTPServer, fake_mastodon: FakeMastodon, monkeypatch: Any
) -> None:
    fake = fake_mastodon
    fake.timelines[HOME] = []
    fake.timelines["/api/v1/timelines/tag/broken"] = []
    fake.malformed.add("/api/v1/timelines/tag/broken")
    down = f"http://127.0.0.1:{free_port()}"
    httpserver.expect_request("/feed.xml").respond_with_data(rss(3), content_type="text/xml")
    # A PLC directory that knows no DID.
    httpserver.expect_request("/did:plc:ewvi7nxzyoun6zhxrhs64oiz").respond_with_json(
        {"message": "DID not registered"}, status=404
    )
    monkeypatch.setenv("VEILLE_PLC_URL", httpserver.url_for("/"))
    fake.lookup_accounts["banned"] = {**fake.account, "id": "9", "suspended": True}
    fake.public_paths.add("/api/v1/accounts/lookup")
    host = fake.base_url.removeprefix("http://")
    mastodon(home, "revoked", fake.base_url, "revoked-token")
    mastodon(home, "good", fake.base_url, fake.token)
    mastodon(home, "gone", down, "t")
    bluesky(home, "sky", "me.test", down)  # its server is down too
    for args in (
        ("mastodon:home", "--account", "revoked"),
        ("mastodon:tag/broken", "--account", "good"),
        ("mastodon:tag/rss", "--account", "gone"),
        (f"mastodon:@banned@{host}",),
        ("bluesky:following",),
        ("bluesky:@did:plc:ewvi7nxzyoun6zhxrhs64oiz",),
        (httpserver.url_for("/feed.xml"),),
    ):
        assert cli("add", *args, "--no-fetch").code == 0
    r = cli("refresh")
    assert r.code == 0, r.err  # the feed was fetched
    assert "Traceback" not in r.out + r.err
    assert "7 feeds polled, 3 new items, 6 errors" in r.out
    got = feeds(cli)
    assert got[httpserver.url_for("/feed.xml")]["status"] == "ok"
    messages = {url: f["message"] for url, f in got.items() if f["kind"] != "feed"}
    assert all(m and "\n" not in m for m in messages.values()), messages
    assert "refused the token of 'revoked'" in messages["mastodon:home"]
    assert "`veille account add mastodon" in messages["mastodon:home"]
    assert "revoked-token" not in messages["mastodon:home"]
    assert down.removeprefix("http://") in messages["mastodon:tag/rss"]
    assert "JSON" in messages["mastodon:tag/broken"]
    assert (
        "did:plc:ewvi7nxzyoun6zhxrhs64oiz" in messages["bluesky:@did:plc:ewvi7nxzyoun6zhxrhs64oiz"]
    )
    assert "suspended" in messages[f"mastodon:@banned@{host}"]
    assert "@me.test" in messages["bluesky:following"], messages
    assert {u: got[u]["status"] for u in messages} == {
        "mastodon:home": "error",  # tried again after a while
        "mastodon:tag/broken": "error",
        "mastodon:tag/rss": "error",
        "bluesky:following": "error",
        f"mastodon:@banned@{host}": "gone",
        # A DID its directory does not know is not coming back: polled no more.
        "bluesky:@did:plc:ewvi7nxzyoun6zhxrhs64oiz": "gone",
    }


def test_unreadable_accounts_are_one_line_on_each_social_source(
    cli: Any, home: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(rss(2), content_type="text/xml")
    mastodon(home, "main", "https://mastodon.example")
    assert cli("add", "mastodon:home", "--no-fetch").code == 0
    assert cli("add", httpserver.url_for("/feed.xml"), "--no-fetch").code == 0
    config = get_paths(home).config_file
    config.write_text(config.read_text() + '\n[accounts.broken]\ntype = "nope"\n')
    r = cli("refresh")
    assert r.code == 0 and "Traceback" not in r.err
    got = feeds(cli)
    assert got[httpserver.url_for("/feed.xml")]["status"] == "ok"
    message = got["mastodon:home"]["message"]
    assert message.startswith("your accounts could not be read: ") and "accounts.broken" in message


# --- backlogs ----------------------------------------------------------------------------------


def test_a_capped_backlog_is_polled_again_soon_and_resumed(
    cli: Any, home: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    fake.rate_remaining = 10**6
    start = 200_000_000_000_000_000
    fake.timelines[HOME] = statuses(start + 1, 10_000)
    mastodon(home, "main", fake.base_url, fake.token)
    assert cli("add", "mastodon:home", "--no-fetch").code == 0
    store = Store(get_paths(home).store)
    try:  # as if it had been polled before: 10,000 posts arrived since
        [f] = store.feeds()
        store.update_feed(f.id, cursor={"min_id": str(start)})
    finally:
        store.close()
    r = cli("refresh")
    assert r.code == 0 and "200 new items" in r.out, r.out + r.err
    f = feeds(cli)["mastodon:home"]
    assert f["message"] == "200 posts, 200 new; more to come next poll"
    wait = parse_iso(f["next_poll"]) - parse_iso(f["last_fetch"])
    assert timedelta(0) < wait <= timedelta(minutes=2)  # not the usual interval
    r = cli("refresh")
    assert "200 new items" in r.out
    links = {i["link"] for i in jsonl(cli("items", "--json").out)}
    assert len(links) == 400
    assert links == {f"https://news.example/a/{start + n}" for n in range(1, 401)}
