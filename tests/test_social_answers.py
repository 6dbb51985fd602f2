"""Replying to and quoting the posts of people you follow (issue 10): what each
destination says it will do with a reply or a quote, the texts, and the posts as
the genuine servers store them.

Bluesky: the reference PDS (its in-memory PLC resolves everyone's DID); a reply
carries {root, parent} with cids, a quote an ``app.bsky.embed.record``.
Mastodon: snac2 (replies with ``in_reply_to_id`` as the instance numbers the
post, found with its search; no quote posts there, so a quote links to the
post and says so), and for an instance that advertises quote posts a small
server of our own answering with mastodon.social's real instance document.
"""

from __future__ import annotations

import asyncio
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
from werkzeug import Request, Response

from tests.conftest import CORPUS
from tests.servers import bluesky as pds_module
from tests.servers import mastodon as snac_module
from tests.servers.bluesky import BlueskyNetwork, new_user, strong_ref
from tests.servers.mastodon import SnacServer, add_user, one_shot_client
from veille.accounts import config as acc
from veille.accounts import edit as acc_edit
from veille.accounts.config import Account, load_accounts, open_secrets
from veille.config import load_config
from veille.domain.records import Draft, Sighting
from veille.domain.share import PostRef, Share
from veille.paths import get_paths
from veille.share.compose import credit_via, post_ref, render_text
from veille.share.destinations import destination_for
from veille.share.destinations.mastodon import LIMITS_FILE, LimitsCache
from veille.share.outbox import build_share, create_share, send_pending
from veille.store.store import Store
from veille.tui.services.compose import ComposeService

bluesky_network = pds_module.bluesky_network
snac_server = snac_module.snac_server

ARTICLE = "https://article.example/2026/answers"
ENTITIES = CORPUS / "social" / "mastodon" / "mastodon.social_entities"


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll a condition (a server's queue delivering), never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s")


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- the texts and plans, without a network ----------------------------------------------

ANN = PostRef(
    network="mastodon",
    url="https://a.example/@ann/1",
    uri="https://a.example/users/ann/statuses/1",
    handle="@ann@a.example",
    author="Ann",
    sharer="@ann@a.example",
)
BOB = PostRef(
    network="bluesky",
    url="https://bsky.app/profile/bob.example/post/3kabc",
    uri="at://did:plc:bob/app.bsky.feed.post/3kabc",
    handle="@bob.example",
    author="Bob",
    sharer="@cat.example",  # cat reposted it
)


def share(answer: str, post: PostRef, comment: str = "Well said") -> Share:
    return Share(
        id="s1",
        item_id="i1",
        comment=comment,
        created="2026-11-27T10:00:00Z",
        title="A deep dive",
        link=ARTICLE,
        via=credit_via(post),
        hashtags=["feeds"],
        answer=answer,
        post=post,
    )


def test_credit_names_the_sharer_and_reply_and_quote_are_the_comment() -> None:
    credit = share("", ANN)
    assert (
        render_text(credit) == f"Well said\n\nA deep dive\n{ARTICLE}\nvia @ann@a.example\n\n#feeds"
    )
    # Whoever put the post in front of you is credited: cat reposted bob's post.
    assert credit_via(BOB) == "via @cat.example"
    reply = share("reply", ANN)
    # Mastodon notifies mentioned accounts only: a reply starts with the author.
    assert render_text(reply, kind="mastodon") == "@ann@a.example Well said\n\n#feeds"
    assert render_text(share("reply", ANN, "@ann@a.example yes"), kind="mastodon").startswith(
        "@ann@a.example yes"
    )
    assert render_text(share("reply", BOB), kind="bluesky") == "Well said\n\n#feeds"
    assert render_text(share("quote", BOB), kind="bluesky", native=True) == "Well said\n\n#feeds"
    linked = render_text(share("quote", ANN), kind="atom", native=False)
    assert linked == f"Well said\n\n{ANN.url}\n\n#feeds"


def test_a_share_keeps_what_it_answers_and_a_draft_keeps_the_choice() -> None:
    s = share("quote", BOB)
    again = Share.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again.answer == "quote" and again.post == BOB
    # A share stored before replies existed, or a damaged post: a plain share.
    old = s.to_dict()
    old.pop("answer"), old.pop("post")
    assert Share.from_dict(old).answer == "" and Share.from_dict(old).post is None
    bad = {**s.to_dict(), "post": {"network": "gopher", "url": "x"}}
    assert Share.from_dict(bad).answer == "" and Share.from_dict(bad).post is None
    d = Draft(item_id="i1", text="hi", answer="reply", post=BOB.url)
    assert Draft.from_doc(d.to_doc()) == d
    assert Draft.from_doc({**d.to_doc(), "answer": "shout"}).answer == ""


def test_post_ref_of_sightings() -> None:
    post = Sighting(
        "f",
        "at://did:plc:bob/app.bsky.feed.post/3kabc",
        "t",
        kind="post",
        author="Bob",
        handle="@bob.example",
        post_url=BOB.url,
    )
    ref = post_ref(post, "bluesky")
    assert ref is not None and ref.uri == post.key and ref.sharer == "@bob.example"
    repost = Sighting(
        "f",
        "at://did:plc:cat/app.bsky.feed.repost/9",
        "t",
        kind="repost",
        handle="@bob.example",
        post_url=BOB.url,
        reposter="@cat.example",
    )
    ref = post_ref(repost, "bluesky")
    # The repost's own URI names the repost: the post is found by its address.
    assert ref is not None and ref.uri == "" and ref.url == BOB.url
    assert ref.sharer == "@cat.example" and ref.handle == "@bob.example"
    assert post_ref(Sighting("f", "k", "t"), "mastodon") is None  # a feed's entry


def test_each_destination_says_how_it_carries_a_reply_or_a_quote(home: Path) -> None:
    cache = get_paths().cache
    masto = Account(name="m", type="mastodon", instance="https://m.example")
    bsky = Account(name="b", type="bluesky", handle="me.example", service="https://pds.example")
    atom = Account(name="atom", type="atom", path=str(home / "atom.xml"))

    def plan(account: Account, answer: str, post: PostRef) -> tuple[bool, bool, str]:
        p = destination_for(account, cache_dir=cache).answer(share(answer, post))
        return p.ok, p.native, p.note

    assert plan(masto, "reply", ANN) == (True, True, "a reply to @ann@a.example's post")
    assert plan(bsky, "reply", BOB) == (True, True, "a reply to @bob.example's post")
    # A reply goes only to the network the post lives on.
    assert plan(masto, "reply", BOB) == (
        False,
        False,
        "a reply goes to Bluesky only (the post is there)",
    )
    assert plan(atom, "reply", ANN)[:2] == (False, False)
    assert plan(bsky, "quote", BOB) == (True, True, "quotes @bob.example's post")
    assert plan(bsky, "quote", ANN) == (True, False, "quotes the post as a link to it")
    # Mastodon quotes where the instance advertises them (learnt with its limits).
    assert plan(masto, "quote", ANN) == (
        True,
        False,
        "this instance may not take quote posts: the post is linked instead",
    )
    from veille.clients.length import MastodonLimits

    LimitsCache(cache / LIMITS_FILE).put(masto, MastodonLimits(), quotes=False)
    assert plan(masto, "quote", ANN)[2].startswith("this instance does not take quote posts")
    LimitsCache(cache / LIMITS_FILE).put(masto, MastodonLimits(), quotes=True)
    assert plan(masto, "quote", ANN) == (True, True, "quotes @ann@a.example's post")
    assert plan(masto, "", ANN) == (True, True, "")


# --- Bluesky: the reference PDS ----------------------------------------------------------


def _records(pds: str, did: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{pds}/xrpc/com.atproto.repo.listRecords",
        params={"repo": did, "collection": "app.bsky.feed.post", "limit": 50},
    )
    r.raise_for_status()
    return r.json()["records"]


def _external(uri: str) -> dict[str, Any]:
    return {
        "$type": "app.bsky.embed.external",
        "external": {"uri": uri, "title": "Answers", "description": ""},
    }


@pytest.mark.slow
def test_bluesky_reply_and_quote_on_the_reference_pds(
    cli: Any, home: Path, bluesky_network: BlueskyNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = bluesky_network
    monkeypatch.setenv("VEILLE_PLC_URL", net.plc)
    article = f"{ARTICLE}-{uuid.uuid4().hex[:8]}"
    me, ann, bob, cat = (new_user(net.pds, n) for n in ("me", "ann", "bob", "cat"))
    for other in (ann, bob, cat):
        me.follow(other.did)
    first = ann.post("Worth reading", embed=_external(article))
    ref = strong_ref(first)
    # bob answers ann, linking the article too: his post is a sighting inside a thread.
    bobs = bob.post("Agreed, read it", embed=_external(article), reply={"root": ref, "parent": ref})
    cat.repost(ref)

    monkeypatch.setattr(sys, "stdin", io.StringIO(me.app_password + "\n"))
    added = cli(
        "account",
        "add",
        "bluesky",
        me.handle,
        "--service",
        net.pds,
        "--name",
        "bsky",
        "--no-default",
    )
    assert added.code == 0, added.err
    assert cli("add", "bluesky:following").code == 0

    paths = get_paths()
    config = load_config(paths.config_file)
    with Store(paths.store) as store:
        [item] = [i for i in store.items() if i.link == article]
        compose = ComposeService(store, config, paths.config)
        posts = {(p.handle, p.sharer): p for p in compose.posts(item)}
        assert set(posts) == {
            (f"@{ann.handle}", f"@{ann.handle}"),
            (f"@{bob.handle}", f"@{bob.handle}"),
            (f"@{ann.handle}", f"@{cat.handle}"),
        }
        anns, bobs_post = posts[(f"@{ann.handle}",) * 2], posts[(f"@{bob.handle}",) * 2]
        reposted = posts[(f"@{ann.handle}", f"@{cat.handle}")]
        assert reposted.uri == "" and all(p.network == "bluesky" for p in posts.values())
        accounts = load_accounts(config, paths.data)
        made = [
            create_share(
                store,
                config,
                item.id,
                c,
                to=["bsky"],
                accounts=accounts,
                post=p,
                answer=a,
                hashtags=[],
            )
            for c, p, a in [
                ("Replying to ann", anns, "reply"),
                ("Replying to bob, in ann's thread", bobs_post, "reply"),
                ("Replying through cat's repost", reposted, "reply"),
                ("Quoting ann", anns, "quote"),
            ]
        ]
        done = asyncio.run(
            send_pending(store, config, open_secrets(paths.config), accounts=accounts)
        )
        assert [d.status for _, _, d in done] == ["sent"] * 4, [d.error for _, _, d in done]
        assert all(
            s.deliveries["bsky"].remote_id for s in map(store.get_share, (m.id for m in made))
        )

    mine = {r["value"]["text"]: r["value"] for r in _records(net.pds, me.did)}
    bob_ref = strong_ref(bobs)
    assert mine["Replying to ann"]["reply"] == {"root": ref, "parent": ref}
    assert mine["Replying to bob, in ann's thread"]["reply"] == {"root": ref, "parent": bob_ref}
    assert mine["Replying through cat's repost"]["reply"] == {"root": ref, "parent": ref}
    quote = mine["Quoting ann"]
    assert "reply" not in quote
    assert quote["embed"] == {"$type": "app.bsky.embed.record", "record": ref}
    assert all("embed" not in v for t, v in mine.items() if t.startswith("Replying"))


# --- Mastodon: snac2, and an instance with quote posts -----------------------------------


def _follow_and_post(server: SnacServer, text: str) -> tuple[str, dict[str, Any]]:
    """A fresh user the test's account follows, and their post once it is home."""
    name = "ann" + uuid.uuid4().hex[:6]
    _, ann_token = add_user(server, name)

    def auth(t: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {t}"}

    with one_shot_client(base_url=server.base_url, timeout=10) as http:
        ann = http.get("/api/v1/accounts/lookup", params={"acct": name}).json()
        assert http.post(f"/api/v1/accounts/{ann['id']}/follow", headers=auth(server.token))
        posted = http.post("/api/v1/statuses", headers=auth(ann_token), data={"status": text})
        status = posted.json()

        def home() -> bool:
            timeline = http.get("/api/v1/timelines/home", headers=auth(server.token)).json()
            return status["id"] in [s["id"] for s in timeline]

        wait_for(home, "ann's post in the home timeline")
    return name, status


@pytest.mark.slow
def test_mastodon_reply_on_snac_and_a_quote_it_cannot_make(
    cli: Any, home: Path, snac_server: SnacServer
) -> None:
    base, token = snac_server.base_url, snac_server.token
    host = base.removeprefix("http://")
    article = f"{ARTICLE}-{uuid.uuid4().hex[:8]}"
    name, status = _follow_and_post(snac_server, f"Read this {article}")
    paths = get_paths()
    acc_edit.append_account(paths.config_file, "main", {"type": "mastodon", "instance": base})
    open_secrets(paths.config).set(acc.secret_name("main", "token"), token)
    assert cli("add", "mastodon:home").code == 0

    config = load_config(paths.config_file)
    with Store(paths.store) as store:
        [item] = [i for i in store.items() if i.link == article]
        [post] = ComposeService(store, config, paths.config).posts(item)
        assert post.network == "mastodon" and post.handle == f"@{name}@{host}"
        accounts = load_accounts(config, paths.data)
        reply = create_share(
            store,
            config,
            item.id,
            "Good one",
            to=["main"],
            hashtags=[],
            accounts=accounts,
            post=post,
            answer="reply",
        )
        quote = create_share(
            store,
            config,
            item.id,
            "Everyone should",
            to=["main"],
            hashtags=[],
            accounts=accounts,
            post=post,
            answer="quote",
        )
        asyncio.run(send_pending(store, config, open_secrets(paths.config), accounts=accounts))
        sent_reply = store.get_share(reply.id).deliveries["main"]
        sent_quote = store.get_share(quote.id).deliveries["main"]
    assert sent_reply.status == "sent", sent_reply.error
    assert sent_quote.status == "sent", sent_quote.error
    # snac advertises no quote posts: the quote is the comment and a link to the post.
    assert sent_quote.text == f"Everyone should\n\n{post.url}"
    assert sent_quote.notice == "quoted as a link: the instance does not take quote posts"

    listed = {x["id"]: x for x in jsonl(cli("shares", "--json").out)}
    assert listed[reply.id]["answer"] == "reply" and listed[quote.id]["answer"] == "quote"
    assert listed[reply.id]["post"]["url"] == post.url
    assert listed[reply.id]["post"]["handle"] == f"@{name}@{host}"
    with one_shot_client(base_url=base, timeout=10) as http:
        headers = {"Authorization": f"Bearer {token}"}
        mine = http.get(f"/api/v1/statuses/{sent_reply.remote_id}", headers=headers).json()
        linked = http.get(f"/api/v1/statuses/{sent_quote.remote_id}", headers=headers).json()
    assert mine["in_reply_to_id"] == status["id"]
    assert f"@{name}@{host}" in mine["content"] and "Good one" in mine["content"]
    assert linked["in_reply_to_id"] is None and post.url in linked["content"]


class QuotingInstance:
    """An instance that advertises quote posts (mastodon.social's real instance
    document, api_versions.mastodon = 9) and finds one status by its address."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.posted: list[dict[str, str]] = []
        self.searched: list[str] = []
        if not ENTITIES.is_dir():
            pytest.skip(f"mastodon.social's recorded answers are not here ({ENTITIES})")
        instance = json.loads((ENTITIES / "test_entity_instancev2__00.json").read_text())
        status = json.loads((ENTITIES / "test_entity_status__00.json").read_text())
        self.status = status
        server.expect_request("/api/v2/instance").respond_with_json(instance)
        server.expect_request("/api/v2/search").respond_with_handler(self.search)
        server.expect_request("/api/v1/statuses", method="POST").respond_with_handler(self.post)

    def search(self, request: Request) -> Response:
        q = request.args.get("q", "")
        self.searched.append(q)
        found = [self.status] if q in (self.status["url"], self.status["uri"]) else []
        return Response(
            json.dumps({"accounts": [], "statuses": found, "hashtags": []}),
            content_type="application/json",
        )

    def post(self, request: Request) -> Response:
        self.posted.append(dict(request.form))
        answer = {**self.status, "id": "999", "url": "https://q.example/@me/999"}
        return Response(json.dumps(answer), content_type="application/json")


def test_mastodon_quote_where_the_instance_takes_them(
    home: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = QuotingInstance(httpserver)
    quoted = fake.status
    post = PostRef("mastodon", quoted["url"], quoted["uri"], "@halcy@icosahedron.website")
    base = httpserver.url_for("/").rstrip("/")
    paths = get_paths().ensure()
    acc_edit.append_account(paths.config_file, "q", {"type": "mastodon", "instance": base})
    open_secrets(paths.config).set(acc.secret_name("q", "token"), "t0ken")
    config = load_config(paths.config_file)
    accounts = load_accounts(config, paths.data)
    with Store(paths.store) as store:
        feed, _ = store.add_feed("mastodon:home", kind="mastodon", account="q")
        from veille.domain.entries import ParsedEntry

        store.upsert_entries(
            feed.id,
            [
                ParsedEntry(
                    key=quoted["uri"],
                    link=ARTICLE,
                    kind="post",
                    post_url=quoted["url"],
                    handle=post.handle,
                )
            ],
        )
        [item] = store.items()
        # The composer learns the instance's limits, and with them its quote posts.
        compose = ComposeService(store, config, paths.config)
        assert asyncio.run(compose.learn_limits("q", accounts["q"])) is True
        [entry] = compose.preview(item.id, "This!", ["q"], [], post=post, answer="quote")
        assert entry.ok and entry.note == "quotes @halcy@icosahedron.website's post"
        assert entry.text == "This!"
        made = create_share(
            store,
            config,
            item.id,
            "This!",
            to=["q"],
            hashtags=[],
            accounts=accounts,
            post=post,
            answer="quote",
        )
        asyncio.run(send_pending(store, config, open_secrets(paths.config), accounts=accounts))
        delivery = store.get_share(made.id).deliveries["q"]
    assert delivery.status == "sent" and delivery.remote_id == "999", delivery.error
    [form] = fake.posted
    assert form["quoted_status_id"] == quoted["id"] and form["status"] == "This!"
    assert "in_reply_to_id" not in form
    assert fake.searched[0] == quoted["uri"]


def test_a_reply_is_refused_where_the_post_is_not(home: Path) -> None:
    """The composer's send and `build_share` agree: a Bluesky post's reply cannot
    go to the Atom feed nor to Mastodon; the reason is the destination's line."""
    paths = get_paths().ensure()
    config = load_config(paths.config_file)
    with Store(paths.store) as store:
        feed, _ = store.add_feed("bluesky:following", kind="bluesky", account="b")
        from veille.domain.entries import ParsedEntry

        store.upsert_entries(
            feed.id,
            [
                ParsedEntry(
                    key=BOB.uri, link=ARTICLE, kind="post", post_url=BOB.url, handle=BOB.handle
                )
            ],
        )
        [item] = store.items()
        s = build_share(store, config, item.id, "yes", to=["atom"], post=BOB, answer="reply")
        d = s.deliveries["atom"]
        assert (
            d.status == "failed" and d.error == "a reply goes to Bluesky only (the post is there)"
        )
        compose = ComposeService(store, config, paths.config)
        sent = compose.send(item.id, "yes", ["atom"], [], post=BOB, answer="reply")
        assert sent.share is None and sent.refused == [("atom", d.error)]
        assert compose.send(item.id, " ", ["atom"], [], post=BOB, answer="reply").error == (
            "write your reply first"
        )
        assert store.shares() == []
