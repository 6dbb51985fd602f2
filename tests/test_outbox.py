"""The outbox against real servers on 127.0.0.1: retries, back-off, permanent errors,
and `kill -9` in the middle of a request, which must never lose nor double a share."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.servers import bluesky as pds_module
from tests.servers import fake_mastodon as fake_module
from tests.servers import micropub as micropub_module
from tests.servers.bluesky import BlueskyServer, list_posts
from tests.servers.fake_mastodon import FakeMastodon
from tests.servers.micropub import MicropubServer
from tests.test_bluesky import png
from veille.accounts.config import load_accounts
from veille.accounts.secrets import SecretStore
from veille.config import Config
from veille.domain.share import Share
from veille.share.atomfeed import entry_id
from veille.share.outbox import INTERRUPTED, create_share, retry, send_pending
from veille.store.store import Store

# The fixtures, bound here by name (conftest.py is the lead's).
fake_mastodon = fake_module.fake_mastodon
bluesky_pds = pds_module.bluesky_pds
micropub_server = micropub_module.micropub_server

LATER = timedelta(hours=3)  # "now" for send_pending: every back-off has run out


def feed_xml(base: str, tag: str) -> str:
    items = "".join(
        f"<item><guid>{tag}{i}</guid><title>Story {i} — café</title>"
        f"<link>https://example.com/{tag}/{i}</link>"
        f"<pubDate>Mon, 0{1 + i} Jun 2026 10:00:00 GMT</pubDate>"
        f'<enclosure url="{base}/img{i}.png" type="image/png" length="100"/>'
        f"<description>&lt;p&gt;What story {i} says.&lt;/p&gt;</description></item>"
        for i in range(2)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Example Blog</title>'
        f"<link>https://example.com/</link>{items}</channel></rss>"
    )


class Env:
    """A VEILLE_HOME with one feed of two items; config and secrets set by the test."""

    def __init__(self, home: Path, items: list[dict[str, Any]]) -> None:
        self.home = home
        self.items = items
        self.config_file = home / "config" / "config.toml"
        self.secrets = SecretStore(home / "config" / "secrets.json", use_keyring=False)
        self._store: Store | None = None

    def write_config(self, text: str) -> None:
        self.config_file.write_text(text)

    @property
    def config(self) -> Config:
        from veille.config import load_config

        return load_config(self.config_file)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.home / "data" / "store")
        return self._store

    def share(self, to: list[str], comment: str | None = None, item: int = 0) -> Share:
        comment = comment or f"Worth a read {uuid.uuid4().hex[:10]}"
        return create_share(self.store, self.config, self.items[item]["id"], comment, to=to)

    async def send_all(self, rounds: int = 10) -> Share | None:
        """send_pending until nothing is due, as time passes."""
        for _ in range(rounds):
            done = await send_pending(
                self.store, self.config, self.secrets, now=datetime.now(UTC) + LATER
            )
            if not done:
                break
        return None

    def get(self, share_id: str) -> Share:
        share = self.store.get_share(share_id)
        assert share is not None
        return share

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


@pytest.fixture
def env(cli, home: Path, httpserver: HTTPServer) -> Iterator[Env]:
    tag = uuid.uuid4().hex[:8]
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/feed.xml").respond_with_data(
        feed_xml(base, tag), content_type="application/rss+xml"
    )
    for i in range(2):
        httpserver.expect_request(f"/img{i}.png").respond_with_data(
            png(4, 4), content_type="image/png"
        )
    assert cli("add", httpserver.url_for("/feed.xml")).code == 0
    items = [json.loads(line) for line in cli("items", "--json").lines]
    e = Env(home, items)
    yield e
    e.close()


def mastodon_config(url: str, name: str = "fake", extra: str = "") -> str:
    return f'[accounts.{name}]\ntype = "mastodon"\ninstance = "{url}"\n{extra}'


def posts(fake: FakeMastodon) -> list[tuple[str, str, dict[str, str]]]:
    return [r for r in fake.requests if r[0] == "POST"]


# --- Mastodon ----------------------------------------------------------------------------


async def test_two_503_then_success_is_one_post(env: Env, fake_mastodon: FakeMastodon) -> None:
    env.write_config(mastodon_config(fake_mastodon.base_url))
    env.secrets.set("account:fake:token", fake_mastodon.token)
    fake_mastodon.fail(503, times=2)
    share = env.share(["fake"])
    first = await send_pending(env.store, env.config, env.secrets)
    assert [(sid, name) for sid, name, _ in first] == [(share.id, "fake")]
    d = env.get(share.id).deliveries["fake"]
    assert d.status == "queued" and "503" in (d.error or "") and d.attempts == 1
    wait = datetime.fromisoformat(d.next_try.replace("Z", "+00:00")) - datetime.now(UTC)
    assert timedelta(seconds=20) < wait <= timedelta(seconds=31)
    # Not due yet: a plain send_pending now does nothing.
    assert await send_pending(env.store, env.config, env.secrets) == []
    await env.send_all()
    d = env.get(share.id).deliveries["fake"]
    assert fake_mastodon.created == 1
    assert d.status == "sent" and d.attempts == 3 and d.error is None
    assert (
        d.url == fake_mastodon.statuses[0]["url"] and d.remote_id == fake_mastodon.statuses[0]["id"]
    )
    keys = {h.get("Idempotency-Key") for _, _, h in posts(fake_mastodon)}
    assert keys == {d.idempotency_key} and len(posts(fake_mastodon)) == 3
    assert env.get(share.id).comment == share.comment
    assert fake_mastodon.statuses[0]["content"].startswith(f"<p>{share.comment}")


async def test_lost_response_is_still_one_post(env: Env, fake_mastodon: FakeMastodon) -> None:
    env.write_config(mastodon_config(fake_mastodon.base_url))
    env.secrets.set("account:fake:token", fake_mastodon.token)
    fake_mastodon.lose_responses = 2
    share = env.share(["fake"])
    await env.send_all()
    d = env.get(share.id).deliveries["fake"]
    assert d.status == "sent" and fake_mastodon.created == 1
    assert d.url == fake_mastodon.statuses[0]["url"]
    assert len(posts(fake_mastodon)) >= 2


async def test_429_waits_at_least_retry_after(env: Env, fake_mastodon: FakeMastodon) -> None:
    env.write_config(mastodon_config(fake_mastodon.base_url))
    env.secrets.set("account:fake:token", fake_mastodon.token)
    fake_mastodon.fail(429, retry_after="600")
    share = env.share(["fake"])
    await send_pending(env.store, env.config, env.secrets)
    d = env.get(share.id).deliveries["fake"]
    assert d.status == "queued" and "429" in (d.error or "")
    wait = datetime.fromisoformat(d.next_try.replace("Z", "+00:00")) - datetime.now(UTC)
    assert wait > timedelta(seconds=500)
    await env.send_all()
    assert env.get(share.id).deliveries["fake"].status == "sent" and fake_mastodon.created == 1


async def test_422_fails_with_the_message_and_no_retry(
    env: Env, fake_mastodon: FakeMastodon
) -> None:
    env.write_config(mastodon_config(fake_mastodon.base_url))
    env.secrets.set("account:fake:token", fake_mastodon.token)
    fake_mastodon.reject_422 = "Validation failed: Text has been posted before"
    share = env.share(["fake", "atom"])
    await env.send_all()
    share = env.get(share.id)
    d = share.deliveries["fake"]
    assert d.status == "failed" and d.attempts == 1
    assert "Validation failed: Text has been posted before" in (d.error or "")
    assert len(posts(fake_mastodon)) == 1 and fake_mastodon.created == 0
    assert share.deliveries["atom"].status == "sent"  # the others go on
    # Edit and retry: a new comment, re-rendered, sent once.
    fake_mastodon.reject_422 = None
    retry(env.store, env.config, share.id, comment="Second thoughts, better words")
    await env.send_all()
    share = env.get(share.id)
    assert share.comment == "Second thoughts, better words"
    assert share.deliveries["fake"].status == "sent"
    assert share.deliveries["fake"].text.startswith("Second thoughts, better words")
    assert fake_mastodon.created == 1
    assert "Second thoughts" in fake_mastodon.statuses[0]["content"]


async def test_over_length_fails_before_any_request(env: Env, fake_mastodon: FakeMastodon) -> None:
    env.write_config(mastodon_config(fake_mastodon.base_url, extra="max_characters = 500\n"))
    env.secrets.set("account:fake:token", fake_mastodon.token)
    share = env.share(["fake", "atom"], comment="x" * 520)
    d = share.deliveries["fake"]
    assert d.status == "failed" and "over Mastodon's limit" in (d.error or "")
    assert env.get(share.id).deliveries["fake"].status == "failed"  # saved so
    await env.send_all()
    assert fake_mastodon.requests == [] and fake_mastodon.created == 0
    assert env.get(share.id).deliveries["atom"].status == "sent"


async def test_instance_limit_is_checked_again_at_send_time(
    env: Env, fake_mastodon: FakeMastodon
) -> None:
    env.write_config(mastodon_config(fake_mastodon.base_url))  # no cached limit: 500
    env.secrets.set("account:fake:token", fake_mastodon.token)
    assert fake_mastodon.instance_v2 is not None
    fake_mastodon.instance_v2["configuration"]["statuses"]["max_characters"] = 100
    share = env.share(["fake"], comment="y" * 150)
    assert share.deliveries["fake"].status == "queued"
    await env.send_all()
    d = env.get(share.id).deliveries["fake"]
    assert d.status == "failed" and "over Mastodon's limit" in (d.error or "")
    assert posts(fake_mastodon) == []


class HoldingProxy:
    """Forwards everything to `upstream`; a POST to `hold` is forwarded, then its answer is
    held back (the client waits, as on a slow network) until `release` is set."""

    def __init__(self, upstream: str, hold: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.hold = hold
        self.holding = True
        self.forwarded = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size) if size else b""
                skip = {"host", "content-length", "connection", "accept-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                with httpx.Client(timeout=30) as http:
                    r = http.request(
                        self.command, proxy.upstream + self.path, headers=headers, content=body
                    )
                if proxy.holding and self.command == "POST" and self.path.startswith(proxy.hold):
                    proxy.forwarded.set()
                    proxy.release.wait(30)
                    self.close_connection = True
                    return
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> HoldingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def share_and_kill(env: Env, item_id: str, comment: str, to: str, proxy: HoldingProxy) -> None:
    """`veille share` in a real process, SIGKILLed while its request is in flight."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "veille",
            "share",
            item_id,
            "--comment",
            comment,
            "--to",
            to,
            "--to",
            "atom",
        ],
        env={**os.environ, "VEILLE_HOME": str(env.home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proxy.forwarded.wait(60), proc.stderr.read() if proc.poll() is not None else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    proxy.holding = False
    proxy.release.set()


async def test_kill_9_while_posting_to_mastodon(env: Env, fake_mastodon: FakeMastodon) -> None:
    with HoldingProxy(fake_mastodon.base_url, "/api/v1/statuses") as proxy:
        env.write_config(mastodon_config(proxy.url))
        env.secrets.set("account:fake:token", fake_mastodon.token)
        comment = f"Crash-proof {uuid.uuid4().hex[:8]}"
        share_and_kill(env, env.items[1]["id"], comment, "fake", proxy)
        assert fake_mastodon.created == 1  # the post went out; its answer never came back
        (stored,) = env.store.shares()
        assert stored.comment == comment
        assert stored.deliveries["fake"].status == "sending"
        await env.send_all()
    share = env.get(stored.id)
    assert fake_mastodon.created == 1
    assert share.deliveries["fake"].status == "sent"
    assert share.deliveries["fake"].url == fake_mastodon.statuses[0]["url"]
    assert share.deliveries["atom"].status == "sent"
    assert share.comment == comment and env.store.get_item(env.items[1]["id"]).shared


def bluesky_config(service: str, handle: str) -> str:
    return f'[accounts.sky]\ntype = "bluesky"\nhandle = "{handle}"\nservice = "{service}"\n'


async def test_kill_9_while_posting_to_bluesky(env: Env, bluesky_pds: BlueskyServer) -> None:
    with HoldingProxy(bluesky_pds.base_url, "/xrpc/com.atproto.repo.createRecord") as proxy:
        env.write_config(bluesky_config(proxy.url, bluesky_pds.handle))
        env.secrets.set("account:sky:app_password", bluesky_pds.app_password)
        comment = f"Crash-proof sky {uuid.uuid4().hex[:8]}"
        share_and_kill(env, env.items[0]["id"], comment, "sky", proxy)
        mine = [
            p
            for p in await list_posts(bluesky_pds.base_url, bluesky_pds.did)
            if comment in p["value"]["text"]
        ]
        assert len(mine) == 1  # created, answer lost with the process
        (stored,) = env.store.shares()
        assert stored.deliveries["sky"].status == "sending"
        await env.send_all()
    share = env.get(stored.id)
    d = share.deliveries["sky"]
    assert d.status == "sent", d.error
    mine = [
        p
        for p in await list_posts(bluesky_pds.base_url, bluesky_pds.did)
        if comment in p["value"]["text"]
    ]
    assert len(mine) == 1 and mine[0]["uri"] == d.remote_id
    assert d.url and d.url.endswith("/post/" + mine[0]["uri"].rsplit("/", 1)[1])
    assert share.comment == comment


async def test_bluesky_post_with_link_card_and_thumb(env: Env, bluesky_pds: BlueskyServer) -> None:
    env.write_config(bluesky_config(bluesky_pds.base_url, bluesky_pds.handle))
    env.secrets.set("account:sky:app_password", bluesky_pds.app_password)
    share = env.share(["sky"], comment=f"Café ☕ #reading {uuid.uuid4().hex[:8]}")
    await env.send_all()
    d = env.get(share.id).deliveries["sky"]
    assert d.status == "sent", d.error
    (post,) = [
        p
        for p in await list_posts(bluesky_pds.base_url, bluesky_pds.did)
        if p["uri"] == d.remote_id
    ]
    external = post["value"]["embed"]["external"]
    assert external["uri"] == env.items[0]["link"]
    assert external["title"] == env.items[0]["title"]
    assert external["description"] == env.items[0]["summary"] == "What story 1 says."
    assert external["thumb"]["mimeType"] == "image/png"
    tag = [f for f in post["value"]["facets"] if f["features"][0]["$type"].endswith("#tag")]
    assert tag and tag[0]["index"]["byteStart"] == len("Café ☕ ".encode())
    session = json.loads(env.secrets.get("account:sky:session") or "{}")
    assert session.get("did") == bluesky_pds.did  # kept for next time, not in the store
    assert "accessJwt" not in (env.home / "data" / "store" / "shares.json").read_text()


# --- Micropub, commands, Atom --------------------------------------------------------------


async def test_micropub_location_recorded(env: Env, micropub_server: MicropubServer) -> None:
    env.write_config(
        f'[accounts.site]\ntype = "micropub"\nendpoint = "{micropub_server.endpoint}"\n'
    )
    env.secrets.set("account:site:token", micropub_server.token)
    share = env.share(["site"], comment="On my site")
    await env.send_all()
    d = env.get(share.id).deliveries["site"]
    assert d.status == "sent", d.error
    stored = [
        p
        for p in micropub_server.posts()
        if p["properties"].get("bookmark-of") == [env.items[0]["link"]]
    ]
    assert stored and stored[-1]["properties"]["content"] == ["On my site"]
    assert d.url and d.url.startswith("http://127.0.0.1")


async def test_interrupted_micropub_is_failed_not_resent(env: Env, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/micropub", method="POST").respond_with_data(
        "", status=201, headers={"Location": "/p/1"}
    )
    env.write_config(
        f'[accounts.site]\ntype = "micropub"\nendpoint = "{httpserver.url_for("/micropub")}"\n'
    )
    env.secrets.set("account:site:token", "t0ken")
    share = env.share(["site"])
    share.deliveries["site"].status = "sending"  # as a crash mid-request leaves it
    env.store.put_share(share)
    await env.send_all()
    d = env.get(share.id).deliveries["site"]
    assert d.status == "failed" and d.error == INTERRUPTED
    assert not [r for r, _ in httpserver.log if r.path == "/micropub"]
    retry(env.store, env.config, share.id)
    await env.send_all()
    d = env.get(share.id).deliveries["site"]
    assert d.status == "sent" and d.url == httpserver.url_for("/p/1")
    assert len([r for r, _ in httpserver.log if r.path == "/micropub"]) == 1


async def test_unreachable_server_backs_off_then_gives_up(env: Env) -> None:
    from tests.servers.mastodon import free_port

    env.write_config(
        mastodon_config(f"http://127.0.0.1:{free_port()}", extra="max_characters = 500\n")
    )
    env.secrets.set("account:fake:token", "t")
    share = env.share(["fake"])
    await env.send_all(rounds=20)
    d = env.get(share.id).deliveries["fake"]
    assert d.status == "failed" and d.attempts == 8
    assert d.error and d.error.startswith("gave up after 8 attempts: network error")


async def test_atom_feed_lists_shares_newest_first_with_source(env: Env) -> None:
    older = env.share(["atom"], comment="The older <one> & more", item=1)
    await env.send_all()
    newer = env.share(["atom"], comment="The newer one", item=0)
    await env.send_all()
    accounts = load_accounts(env.config, env.home / "data")
    path = Path(accounts["atom"].path)
    assert path == env.home / "data" / "shares.atom"
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0
    assert [e.id for e in parsed.entries] == [entry_id(newer.id), entry_id(older.id)]
    assert [e.link for e in parsed.entries] == [env.items[0]["link"], env.items[1]["link"]]
    for entry in parsed.entries:
        assert entry.source.title == "Example Blog"
        assert entry.source.links[0].href.endswith("/feed.xml")
    assert "The older &lt;one&gt; &amp; more" in parsed.entries[1].content[0].value
    assert env.get(newer.id).deliveries["atom"].url == path.resolve().as_uri()
