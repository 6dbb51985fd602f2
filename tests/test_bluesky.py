"""share.bluesky against the reference PDS (@atproto/pds) running offline on 127.0.0.1.

Error paths the PDS will not produce on demand (429, 503, a dead port) run against
pytest-httpserver, also on 127.0.0.1.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.servers import bluesky as pds_module
from tests.servers.bluesky import BlueskyServer, expired_access_token, list_posts
from tests.servers.mastodon import free_port
from veille.clients.bluesky import (
    MAX_BLOB_BYTES,
    BlueskyClient,
    BlueskyError,
    is_tid,
    rkey_for,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SYNTAX = CORPUS / "social" / "bluesky" / "interop-syntax"

# The fixture, bound here by name (conftest.py is the lead's).
bluesky_pds = pds_module.bluesky_pds


def png(width: int = 2, height: int = 2) -> bytes:
    """A real RGB PNG, built in memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def client(bluesky_pds: BlueskyServer) -> AsyncIterator[BlueskyClient]:
    async with BlueskyClient(
        bluesky_pds.base_url, bluesky_pds.handle, bluesky_pds.app_password
    ) as c:
        yield c


def share_key(name: str) -> str:
    """A fresh record key per test run (the PDS lives for the whole session)."""
    return rkey_for(f"{name}-{time.time_ns()}", datetime.now(UTC))


# --- sessions --------------------------------------------------------------------------


async def test_login_returns_session_to_persist(
    client: BlueskyClient, bluesky_pds: BlueskyServer
) -> None:
    session = await client.login()
    assert set(session) == {"accessJwt", "refreshJwt", "did", "handle"}
    assert session["did"] == bluesky_pds.did
    assert session["handle"] == bluesky_pds.handle
    assert client.session == session
    for secret in (bluesky_pds.app_password, session["accessJwt"], session["refreshJwt"]):
        assert secret not in repr(client)


async def test_refresh_gives_new_tokens(client: BlueskyClient) -> None:
    first = await client.login()
    second = await client.refresh()
    assert second["did"] == first["did"]
    # Refresh tokens are single-use (a fresh jti each time); access tokens issued in
    # the same second may be byte-identical, so only the refresh token must change.
    assert second["refreshJwt"] != first["refreshJwt"]
    assert client.session == second
    # The refreshed access token works.
    assert await client.get_post("2222222222222") is None
    blob = await client.upload_blob(png(), "image/png")
    assert blob["mimeType"] == "image/png"


async def test_expired_access_token_is_refreshed(bluesky_pds: BlueskyServer) -> None:
    async with BlueskyClient(
        bluesky_pds.base_url, bluesky_pds.handle, bluesky_pds.app_password
    ) as real:
        good = await real.login()
    stale = {**good, "accessJwt": expired_access_token(bluesky_pds.did)}
    # A wrong password proves the client refreshed rather than logged in again.
    async with BlueskyClient(
        bluesky_pds.base_url, bluesky_pds.handle, "wrong-password", session=stale
    ) as c:
        blob = await c.upload_blob(png(), "image/png")
        assert blob["size"] == len(png())
        assert c.session is not None
        assert c.session["accessJwt"] != stale["accessJwt"]
        assert c.session["refreshJwt"] != stale["refreshJwt"]
        assert c.session["did"] == bluesky_pds.did


async def test_expired_access_and_bad_refresh_log_in_again(
    bluesky_pds: BlueskyServer,
) -> None:
    stale = {
        "accessJwt": expired_access_token(bluesky_pds.did),
        "refreshJwt": expired_access_token(bluesky_pds.did),
        "did": bluesky_pds.did,
        "handle": bluesky_pds.handle,
    }
    async with BlueskyClient(
        bluesky_pds.base_url, bluesky_pds.handle, bluesky_pds.app_password, session=stale
    ) as c:
        rkey = share_key("relogin")
        uri, _ = await c.post("after a new login", rkey=rkey)
        assert uri.endswith(f"/app.bsky.feed.post/{rkey}")
        assert c.session is not None and c.session["refreshJwt"] != stale["refreshJwt"]


async def test_wrong_password_is_permanent_with_server_message(
    bluesky_pds: BlueskyServer,
) -> None:
    async with BlueskyClient(bluesky_pds.base_url, bluesky_pds.handle, "hunter2-wrong") as c:
        with pytest.raises(BlueskyError) as caught:
            await c.login()
    err = caught.value
    assert err.permanent is True
    assert err.status == 401
    assert err.message == "Invalid identifier or password"
    assert "hunter2-wrong" not in f"{err} {err!r}"


# --- posting ---------------------------------------------------------------------------


async def test_post_with_link_card_and_thumb(
    client: BlueskyClient, bluesky_pds: BlueskyServer
) -> None:
    image = png(3, 2)
    blob = await client.upload_blob(image, "image/png")
    assert blob["$type"] == "blob"
    assert blob["mimeType"] == "image/png"
    assert blob["size"] == len(image)
    rkey = share_key("card")
    card = {
        "uri": "https://example.com/article",
        "title": "Un article très intéressant",
        "description": "Résumé ☕",
        "thumb": blob,
    }
    uri, url = await client.post("À lire", rkey=rkey, link_card=card, langs=["fr"])
    assert uri == f"at://{bluesky_pds.did}/app.bsky.feed.post/{rkey}"
    assert url == f"https://bsky.app/profile/{bluesky_pds.handle}/post/{rkey}"

    (stored,) = [
        r for r in await list_posts(bluesky_pds.base_url, bluesky_pds.did) if r["uri"] == uri
    ]
    value = stored["value"]
    assert value["text"] == "À lire"
    assert value["langs"] == ["fr"]
    external = value["embed"]["external"]
    assert value["embed"]["$type"] == "app.bsky.embed.external"
    assert external["uri"] == card["uri"]
    assert external["title"] == card["title"]
    assert external["description"] == card["description"]
    assert external["thumb"]["ref"] == blob["ref"]
    assert external["thumb"]["mimeType"] == "image/png"


async def test_post_uploads_thumb_bytes(client: BlueskyClient, bluesky_pds: BlueskyServer) -> None:
    rkey = share_key("thumb-bytes")
    card = {"uri": "https://example.org/", "title": "T", "thumb": png(1, 1)}
    await client.post("card with raw bytes", rkey=rkey, link_card=card)
    stored = await client.get_post(rkey)
    assert stored is not None
    thumb = stored["value"]["embed"]["external"]["thumb"]
    assert thumb["mimeType"] == "image/png"
    assert thumb["size"] == len(png(1, 1))
    assert stored["value"]["embed"]["external"]["description"] == ""


async def test_post_facets_on_non_ascii_text(
    client: BlueskyClient, bluesky_pds: BlueskyServer
) -> None:
    text = (
        f"Café ☕ lu sur https://example.com/été, merci @{bluesky_pds.handle} "
        "et @nobody.test 👨‍👩‍👧 #veille 日本語 #タグ!"
    )
    rkey = share_key("facets")
    uri, _ = await client.post(text, rkey=rkey, created_at="2026-03-01T12:00:00.000Z")
    stored = await client.get_post(rkey)
    assert stored is not None and stored["uri"] == uri
    value = stored["value"]
    assert value["text"] == text
    assert value["createdAt"] == "2026-03-01T12:00:00.000Z"
    data = text.encode("utf-8")
    seen = []
    for facet in value["facets"]:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        (feature,) = facet["features"]
        seen.append((feature["$type"], data[start:end].decode("utf-8"), start))
        if feature["$type"].endswith("#mention"):
            assert feature["did"] == bluesky_pds.did
    assert seen == [
        ("app.bsky.richtext.facet#link", "https://example.com/été", data.index(b"https://")),
        ("app.bsky.richtext.facet#mention", f"@{bluesky_pds.handle}", data.index(b"@alice")),
        ("app.bsky.richtext.facet#tag", "#veille", data.index(b"#veille")),
        ("app.bsky.richtext.facet#tag", "#タグ", data.index("#タグ".encode())),
    ]
    assert data.index(b"https://") == len("Café ☕ lu sur ".encode()) == 17
    # The unresolvable mention was dropped, not sent with a placeholder.
    assert "nobody.test" not in str(value["facets"])
    listed = await list_posts(bluesky_pds.base_url, bluesky_pds.did)
    assert [r["value"]["text"] for r in listed if r["uri"] == uri] == [text]


async def test_same_rkey_twice_is_one_record(
    client: BlueskyClient, bluesky_pds: BlueskyServer
) -> None:
    rkey = share_key("twice")
    first = await client.post("posted once, sent twice", rkey=rkey)
    # As after a lost reply: the outbox retries with the same share, hence the same key.
    second = await client.post("posted once, sent twice", rkey=rkey)
    assert first == second
    listed = await list_posts(bluesky_pds.base_url, bluesky_pds.did)
    assert [r["uri"] for r in listed].count(first[0]) == 1

    with pytest.raises(BlueskyError) as caught:
        await client.post("another post on a taken key", rkey=rkey)
    assert caught.value.permanent is True
    assert "different post" in caught.value.message


async def test_300_graphemes_pass_where_code_points_would_not(
    client: BlueskyClient,
) -> None:
    text = "e\u0301" * 300  # 300 graphemes, 600 code points, 900 bytes
    rkey = share_key("graphemes")
    await client.post(text, rkey=rkey)
    stored = await client.get_post(rkey)
    assert stored is not None and stored["value"]["text"] == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x" * 301, "301 characters"),
        ("👨‍👩‍👧" * 200, "bytes"),  # 200 graphemes but 3,600 bytes
    ],
)
async def test_over_length_refused_without_network(
    httpserver: HTTPServer, text: str, reason: str
) -> None:
    async with BlueskyClient(httpserver.url_for(""), "alice.test", "pw") as c:
        with pytest.raises(BlueskyError) as caught:
            await c.post(text, rkey=rkey_for("long"))
    assert caught.value.permanent is True
    assert reason in caught.value.message
    assert httpserver.log == []


async def test_bad_rkey_and_big_blob_refused_without_network(httpserver: HTTPServer) -> None:
    async with BlueskyClient(httpserver.url_for(""), "alice.test", "pw") as c:
        with pytest.raises(BlueskyError, match="TID"):
            await c.post("hello", rkey="self")
        with pytest.raises(BlueskyError, match="too large") as caught:
            await c.upload_blob(b"\0" * (MAX_BLOB_BYTES + 1), "image/png")
        assert caught.value.permanent is True
        with pytest.raises(BlueskyError, match="languages"):
            await c.post("hello", rkey=rkey_for("x"), langs=["fr", "en", "de", "es"])
    assert httpserver.log == []


async def test_get_post_of_missing_record(client: BlueskyClient) -> None:
    await client.login()
    assert await client.get_post(rkey_for("never posted")) is None


# --- transient errors (pytest-httpserver, 127.0.0.1) ----------------------------------


async def test_rate_limited_is_transient_with_retry_after(httpserver: HTTPServer) -> None:
    reset = int(time.time()) + 120
    httpserver.expect_request("/xrpc/com.atproto.server.createSession").respond_with_json(
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        status=429,
        headers={"ratelimit-reset": str(reset), "ratelimit-remaining": "0"},
    )
    async with BlueskyClient(httpserver.url_for(""), "alice.test", "pw") as c:
        with pytest.raises(BlueskyError) as caught:
            await c.login()
    err = caught.value
    assert err.permanent is False and err.status == 429
    assert err.message == "Rate Limit Exceeded"
    assert err.retry_after is not None and 100 < err.retry_after <= 120


async def test_server_error_is_transient_with_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/xrpc/com.atproto.server.createSession").respond_with_data(
        "upstream down", status=503, headers={"Retry-After": "30"}
    )
    async with BlueskyClient(httpserver.url_for(""), "alice.test", "pw") as c:
        with pytest.raises(BlueskyError) as caught:
            await c.login()
    assert caught.value.permanent is False
    assert caught.value.status == 503
    assert caught.value.retry_after == 30


async def test_forbidden_is_permanent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/xrpc/com.atproto.server.createSession").respond_with_json(
        {"error": "AccountTakedown", "message": "Account has been taken down"}, status=403
    )
    async with BlueskyClient(httpserver.url_for(""), "alice.test", "pw") as c:
        with pytest.raises(BlueskyError) as caught:
            await c.login()
    assert caught.value.permanent is True
    assert caught.value.error == "AccountTakedown"
    assert caught.value.message == "Account has been taken down"


async def test_connection_refused_is_transient() -> None:
    async with BlueskyClient(f"http://127.0.0.1:{free_port()}", "alice.test", "pw") as c:
        with pytest.raises(BlueskyError) as caught:
            await c.login()
    assert caught.value.permanent is False
    assert caught.value.status is None
    assert "pw" not in repr(caught.value).replace("createSession", "")


# --- record keys -----------------------------------------------------------------------


def test_rkey_for_is_deterministic_tid() -> None:
    a = rkey_for("share-42")
    assert a == rkey_for("share-42") and a != rkey_for("share-43")
    assert is_tid(a)
    when = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    b = rkey_for("share-42", when)
    assert b == rkey_for("share-42", "2026-03-01T12:00:00.123456Z")
    assert is_tid(b)
    # The TID's timestamp is the share's: decode the 53 high bits.
    value = 0
    for ch in b:
        value = value * 32 + "234567abcdefghijklmnopqrstuvwxyz".index(ch)
    assert value >> 10 == int(when.timestamp()) * 1_000_000 + 123456
    # Later shares sort after earlier ones.
    assert rkey_for("z", datetime(2027, 1, 1, tzinfo=UTC)) > b


def test_is_tid_against_interop_syntax_files() -> None:
    if not SYNTAX.is_dir():
        pytest.skip("../shared/corpus is absent")

    def cases(name: str) -> list[str]:
        lines = (SYNTAX / name).read_text(encoding="utf-8").splitlines()
        return [line for line in lines if line and not line.startswith("#")]

    valid, invalid = cases("tid_syntax_valid.txt"), cases("tid_syntax_invalid.txt")
    assert valid and invalid
    assert [v for v in valid if not is_tid(v)] == []
    assert [v for v in invalid if is_tid(v)] == []
