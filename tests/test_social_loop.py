"""The social loop end to end through the CLI, against genuine servers: `veille add` a
social source, `veille refresh`, `veille items --json` (one item per article, seen via
every sharer), `veille share` to your account, then the replies, likes, reposts and
quotes of that post attached to the share (`veille shares --json`).

Bluesky: the reference PDS with its in-memory PLC (no AppView); Mastodon: snac2.
An RSS feed on 127.0.0.1 links to the same article the posts talk about.
"""

from __future__ import annotations

import io
import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.servers import bluesky as pds_module
from tests.servers import mastodon as snac_module
from tests.servers.bluesky import BlueskyNetwork, PdsUser, new_user, strong_ref
from tests.servers.mastodon import SnacServer, add_user, one_shot_client
from veille.accounts import config as acc
from veille.accounts import edit as acc_edit

bluesky_network = pds_module.bluesky_network
snac_server = snac_module.snac_server

LINK = "app.bsky.richtext.facet#link"
GHOST = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def rss(article: str, title: str = "A deep dive") -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Article site</title>'
        "<link>https://article.example/</link>"
        f"<item><guid>deep-dive</guid><title>{title}</title><link>{article}</link>"
        "<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>"
        "<description>&lt;p&gt;The whole story.&lt;/p&gt;</description></item>"
        "</channel></rss>"
    )


def link_facet(text: str, label: str, uri: str) -> dict[str, Any]:
    """A link facet over ``label`` in ``text``, with UTF-8 byte offsets."""
    data = text.encode("utf-8")
    start = data.index(label.encode("utf-8"))
    return {
        "index": {"byteStart": start, "byteEnd": start + len(label.encode("utf-8"))},
        "features": [{"$type": LINK, "uri": uri}],
    }


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    """Poll a condition (a server's queue delivering), never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s")


# --- Bluesky -----------------------------------------------------------------------------


def bluesky_world(net: BlueskyNetwork, article: str) -> dict[str, PdsUser]:
    """me follows ann, bob and cat; they follow each other; each shares the article
    in their own way; dan is followed by nobody."""
    users = {n: new_user(net.pds, n) for n in ("me", "ann", "bob", "cat", "dan")}
    for n, user in users.items():
        user.profile(n.capitalize() + " Example")
    me, ann, bob, cat = users["me"], users["ann"], users["bob"], users["cat"]
    for other in (ann, bob, cat):
        me.follow(other.did)
    me.follow(GHOST)  # an account its directory does not know
    ann.follow(bob.did)
    bob.follow(ann.did)
    cat.follow(ann.did)
    text = "🦋 Worth reading: article.example/2026/deep… (long)"
    ann.post(
        text,
        facets=[link_facet(text, "article.example/2026/deep…", article + "?utm_source=bsky")],
    )
    ann.post(  # the same account again: still one sharer
        "Still thinking about it",
        embed={"$type": "app.bsky.embed.external",
               "external": {"uri": article, "title": "A deep dive", "description": ""}},
    )  # fmt: skip
    card = bob.post(
        "Good explainer",
        embed={
            "$type": "app.bsky.embed.external",
            "external": {
                "uri": article.replace("https://", "https://www.") + "/",
                "title": "A deep dive",
                "description": "What happened, and why.",
            },
        },
    )
    cat.post("This!", embed={"$type": "app.bsky.embed.record", "record": strong_ref(card)})
    ann.repost(card)
    cat.post("Just thinking out loud today about feeds and readers")
    return users


@pytest.mark.slow
def test_bluesky_following_end_to_end(
    cli: Any,
    home: Path,
    httpserver: HTTPServer,
    bluesky_network: BlueskyNetwork,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    net = bluesky_network
    monkeypatch.setenv("VEILLE_PLC_URL", net.plc)
    article = f"https://article.example/2026/deep-dive-{uuid.uuid4().hex[:8]}"
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(article + "?utm_source=rss&utm_medium=feed"), content_type="application/rss+xml"
    )
    users = bluesky_world(net, article)
    me, ann, bob, cat, dan = (users[n] for n in ("me", "ann", "bob", "cat", "dan"))

    monkeypatch.setattr(sys, "stdin", io.StringIO(me.app_password + "\n"))
    added = cli("account", "add", "bluesky", me.handle, "--service", net.pds, "--name", "bsky",
                "--no-default")  # fmt: skip
    assert added.code == 0, added.err

    feed_url = httpserver.url_for("/feed.xml")
    assert cli("add", feed_url).code == 0
    r = cli("add", "bluesky:following")
    assert r.code == 0, r.err
    assert "subscribed to bluesky:following through 'bsky' (your only Bluesky account)" in r.out
    assert "fetched: " in r.out and "posts" in r.out, r.out

    feeds = {f["url"]: f for f in jsonl(cli("feeds", "--json").out)}
    assert feeds[feed_url]["kind"] == "feed"
    following = feeds["bluesky:following"]
    assert following["kind"] == "bluesky" and following["account"] == "bsky"
    assert following["status"] == "ok" and following["title"] == f"Following · @{me.handle}"
    # The poll worked; the one account that could not be read is a warning beside it.
    assert following["warning"].startswith(f"1 of 4 accounts not read: {GHOST}")
    assert f"          warning: 1 of 4 accounts not read: {GHOST}" in cli("feeds").out

    items = jsonl(cli("items", "--json").out)
    [merged] = [i for i in items if i["link"] == article]
    assert merged["kind"] == "article" and merged["title"] == "A deep dive"
    # Three accounts shared it (ann twice and once more by reposting): three sharers.
    assert merged["sharers"] == 3
    sightings = merged["sightings"]
    assert {s["source"] for s in sightings} == {feed_url, "bluesky:following"}
    posts = [s for s in sightings if s["kind"] != "entry"]
    assert sorted(s["kind"] for s in posts) == ["post", "post", "post", "quote", "repost"]
    by_handle = {s["handle"] for s in posts}
    assert by_handle == {f"@{ann.handle}", f"@{bob.handle}", f"@{cat.handle}"}
    [worded] = [s for s in posts if s["text"].startswith("🦋")]
    assert worded["text"] == "🦋 Worth reading: article.example/2026/deep… (long)"
    assert worded["author"] == "Ann Example" and worded["handle"] == f"@{ann.handle}"
    assert worded["post_url"].startswith(f"https://bsky.app/profile/{ann.handle}/post/")
    [entry] = [s for s in sightings if s["kind"] == "entry"]
    assert entry["handle"] is None and entry["post_url"] is None
    # A post without a link is an item of its own.
    assert any(i["kind"] == "post" and i["title"].startswith("Just thinking") for i in items)

    # veille shares the article to the Bluesky account on that PDS.
    r = cli("share", merged["id"], "--comment", "A deep dive worth your time", "--to", "bsky")
    assert r.code == 0, r.out + r.err
    [share] = jsonl(cli("shares", "--json").out)
    [delivery] = share["deliveries"]
    assert delivery["status"] == "sent" and share["responses"] == []
    mine = wait_for(lambda: _my_post(net.pds, me.did, "A deep dive worth your time"), "my post")
    ref = {"uri": mine["uri"], "cid": mine["cid"]}
    ann.post("Great pick!", reply={"root": ref, "parent": ref})
    bob.like(ref)
    cat.repost(ref)
    bob.post("Seconded", embed={"$type": "app.bsky.embed.record", "record": ref})
    dan.like(ref)  # nobody follows dan: not seen without an AppView

    r = cli("refresh")
    assert r.code == 0, r.err
    assert "4 new responses to your shares" in r.out, r.out
    [share] = jsonl(cli("shares", "--json").out)
    responses = sorted(share["responses"], key=lambda x: x["kind"])
    assert [x["kind"] for x in responses] == ["like", "quote", "reply", "repost"]
    assert [x["handle"] for x in responses] == [
        f"@{bob.handle}", f"@{bob.handle}", f"@{ann.handle}", f"@{cat.handle}"
    ]  # fmt: skip
    reply = responses[2]
    assert reply["text"] == "Great pick!" and reply["author"] == "Ann Example"
    assert reply["url"].startswith(f"https://bsky.app/profile/{ann.handle}/post/")
    assert reply["at"] and set(reply) == {"kind", "author", "handle", "text", "url", "at"}
    assert "responses: 1 reply, 1 like, 1 repost, 1 quote" in cli("shares").out

    # The reply is an item too: "reply to your share".
    items = jsonl(cli("items", "--json").out)
    [answer] = [i for i in items if i["kind"] == "reply"]
    assert answer["title"] == "Great pick!" and answer["link"] == reply["url"]
    assert answer["sightings"][0]["handle"] == f"@{ann.handle}"

    # Polled again: nothing is attached twice.
    r = cli("refresh")
    assert r.code == 0 and "response" not in r.out, r.out
    [share] = jsonl(cli("shares", "--json").out)
    assert len(share["responses"]) == 4
    assert len([i for i in jsonl(cli("items", "--json").out) if i["kind"] == "reply"]) == 1


def _my_post(pds: str, did: str, text: str) -> dict[str, Any] | None:
    r = httpx.get(
        f"{pds}/xrpc/com.atproto.repo.listRecords",
        params={"repo": did, "collection": "app.bsky.feed.post", "limit": 10},
    )
    r.raise_for_status()
    return next((p for p in r.json()["records"] if text in p["value"]["text"]), None)


# --- Mastodon (snac2) --------------------------------------------------------------------


@pytest.mark.slow
def test_mastodon_home_and_tag_end_to_end(
    cli: Any, home: Path, httpserver: HTTPServer, snac_server: SnacServer
) -> None:
    base, token = snac_server.base_url, snac_server.token
    host = base.removeprefix("http://")
    name = "ann" + uuid.uuid4().hex[:6]
    _, ann_token = add_user(snac_server, name)
    tag = "veille" + uuid.uuid4().hex[:6]
    article = f"https://article.example/2026/{tag}"
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(article + "?utm_source=rss"), content_type="application/rss+xml"
    )

    def auth(t: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {t}"}

    with one_shot_client(base_url=base, timeout=10) as http:
        ann = http.get("/api/v1/accounts/lookup", params={"acct": name}).json()
        me = http.get("/api/v1/accounts/lookup", params={"acct": snac_server.username}).json()
        assert http.post(f"/api/v1/accounts/{ann['id']}/follow", headers=auth(token)).is_success
        assert http.post(f"/api/v1/accounts/{me['id']}/follow", headers=auth(ann_token)).is_success
        posted = http.post(
            "/api/v1/statuses",
            headers=auth(ann_token),
            data={"status": f"Read this {article}?utm_source=mastodon #{tag}"},
        ).json()

        def in_home() -> bool:
            timeline = http.get("/api/v1/timelines/home", headers=auth(token)).json()
            return posted["id"] in [s["id"] for s in timeline]

        wait_for(in_home, "ann's post in the home timeline")

    paths_config = home / "config"
    fields = {"type": "mastodon", "instance": base}
    acc_edit.append_account(paths_config / "config.toml", "main", fields)
    acc.open_secrets(paths_config).set(acc.secret_name("main", "token"), token)

    assert cli("add", httpserver.url_for("/feed.xml")).code == 0
    r = cli("add", "mastodon:home")
    assert r.code == 0 and "through 'main' (your only Mastodon account)" in r.out, r.out + r.err
    assert cli("add", f"mastodon:tag/{tag}").code == 0
    kinds = {
        f["url"]: (f["kind"], f["account"], f["status"]) for f in jsonl(cli("feeds", "--json").out)
    }
    assert kinds["mastodon:home"] == ("mastodon", "main", "ok")
    assert kinds[f"mastodon:tag/{tag}"] == ("mastodon", "main", "ok")

    items = jsonl(cli("items", "--json").out)
    [merged] = [i for i in items if i["link"] == article]
    posts = [s for s in merged["sightings"] if s["kind"] == "post"]
    # Seen through the home timeline and the tag: one account, one sharer.
    assert {s["source"] for s in posts} == {"mastodon:home", f"mastodon:tag/{tag}"}
    assert merged["sharers"] == 1 and {s["handle"] for s in posts} == {f"@{name}@{host}"}
    assert all(s["text"].startswith("Read this") and s["post_url"] for s in posts)

    r = cli("share", merged["id"], "--comment", "Seconded, worth it", "--to", "main")
    assert r.code == 0, r.out + r.err
    [share] = jsonl(cli("shares", "--json").out)
    [delivery] = share["deliveries"]
    assert delivery["status"] == "sent" and delivery["url"]
    with one_shot_client(base_url=base, timeout=10) as http:
        mine = wait_for(
            lambda: next(
                (s for s in http.get("/api/v1/timelines/home", headers=auth(ann_token)).json()
                 if "Seconded" in s["content"]),
                None,
            ),
            "veille's post to reach ann",
        )  # fmt: skip
        assert http.post(f"/api/v1/statuses/{mine['id']}/favourite", headers=auth(ann_token))
        assert http.post(f"/api/v1/statuses/{mine['id']}/reblog", headers=auth(ann_token))
        answer = http.post(
            "/api/v1/statuses",
            headers=auth(ann_token),
            data={"status": f"@{snac_server.username} agreed!", "in_reply_to_id": mine["id"]},
        ).json()

        def notified() -> bool:
            found = http.get("/api/v1/notifications", headers=auth(token)).json()
            ours = [
                n for n in found if (n.get("status") or {}).get("id") in (mine["id"], answer["id"])
            ]
            return {n["type"] for n in ours} >= {"favourite", "reblog", "mention"}

        wait_for(notified, "the notifications")

    r = cli("refresh")
    assert r.code == 0 and "new responses to your shares" in r.out, r.out + r.err
    [share] = jsonl(cli("shares", "--json").out)
    by_kind = {x["kind"]: x for x in share["responses"]}
    assert set(by_kind) == {"like", "repost", "reply"}
    assert all(x["handle"] == f"@{name}@{host}" for x in by_kind.values())
    assert by_kind["reply"]["text"].endswith("agreed!")
    replies = [i for i in jsonl(cli("items", "--json").out) if i["kind"] == "reply"]
    assert [i["link"] for i in replies] == [answer["url"]]
    assert cli("refresh").code == 0
    [share] = jsonl(cli("shares", "--json").out)
    assert len(share["responses"]) == 3
