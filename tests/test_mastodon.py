"""share.mastodon against a genuine server (snac2) and a stand-in built from real answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.servers import fake_mastodon as fake_module
from tests.servers import mastodon as snac_module
from tests.servers.fake_mastodon import FakeMastodon
from tests.servers.mastodon import SnacServer, free_port, oob_login
from veille.clients.mastodon import (
    MastodonClient,
    MastodonError,
    authorize_url,
    exchange_code,
    register_app,
)
from veille.net.httputil import retry_after_seconds

# snac closes every connection after one answer: plain test clients must not keep them.
ONE_SHOT = httpx.Limits(max_keepalive_connections=0)

# The fixtures, bound here by name (conftest.py is the lead's).
snac_server = snac_module.snac_server
fake_mastodon = fake_module.fake_mastodon

# --- snac2: a real Mastodon-API server -------------------------------------------------


async def test_snac_verify_credentials(snac_server: SnacServer) -> None:
    async with MastodonClient(snac_server.base_url, snac_server.token) as client:
        account = await client.verify()
    assert account["username"] == snac_server.username


async def test_snac_post_status_reads_back(snac_server: SnacServer) -> None:
    marker = uuid.uuid4().hex[:12]
    text = f"Worth reading {marker}: https://example.org/article?id=7"
    async with MastodonClient(snac_server.base_url, snac_server.token) as client:
        status = await client.post_status(text, idempotency_key=marker, language="en")
    assert status["id"] and status["url"].startswith(snac_server.base_url)

    auth = {"Authorization": f"Bearer {snac_server.token}"}
    async with httpx.AsyncClient(
        base_url=snac_server.base_url, headers=auth, limits=ONE_SHOT
    ) as http:
        again = (await http.get(f"/api/v1/statuses/{status['id']}")).json()
        home = (await http.get("/api/v1/timelines/home")).json()
    assert marker in again["content"]
    assert "https://example.org/article?id=7" in again["content"]
    assert again["visibility"] == "public"
    assert again["language"] == "en"
    assert status["id"] in [s["id"] for s in home]


async def test_snac_pooled_client_survives_closed_connections(snac_server: SnacServer) -> None:
    """snac drops each connection after answering; a shared pooled client must still work."""
    async with httpx.AsyncClient() as pooled:
        client = MastodonClient(snac_server.base_url, snac_server.token, client=pooled)
        for _ in range(3):
            assert (await client.verify())["username"] == snac_server.username
        status = await client.post_status("pooled", idempotency_key=uuid.uuid4().hex)
        assert (await client.verify())["username"] == snac_server.username
        await client.aclose()
        assert not pooled.is_closed  # a borrowed client is the caller's to close
    assert status["id"]


async def test_snac_oauth_oob_flow(snac_server: SnacServer) -> None:
    app = await register_app(snac_server.base_url, client_name="veille-oob-test")
    url = authorize_url(snac_server.base_url, app["client_id"])
    assert "redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob" in url
    code = oob_login(url, snac_server.username, snac_server.password)
    token = await exchange_code(snac_server.base_url, app["client_id"], app["client_secret"], code)
    assert token and token != snac_server.token
    async with MastodonClient(snac_server.base_url, token) as client:
        account = await client.verify()
    assert account["username"] == snac_server.username


async def test_snac_bad_code_never_yields_a_working_token(snac_server: SnacServer) -> None:
    """snac 2.75 answers a token even for a wrong code; only verify() tells it is worthless.

    So onboarding must call verify() after exchange_code() before saving the account.
    """
    app = await register_app(snac_server.base_url)
    with pytest.raises(MastodonError) as caught:
        token = await exchange_code(
            snac_server.base_url, app["client_id"], app["client_secret"], "nope"
        )
        async with MastodonClient(snac_server.base_url, token) as client:
            await client.verify()
    assert caught.value.permanent and caught.value.status in (400, 401, 403, 404, 422)


async def test_snac_bad_token_is_permanent_and_not_leaked(snac_server: SnacServer) -> None:
    secret = "not-a-real-token-" + uuid.uuid4().hex
    client = MastodonClient(snac_server.base_url, secret)
    with pytest.raises(MastodonError) as caught:
        await client.post_status("hello", idempotency_key="k1")
    await client.aclose()
    err = caught.value
    assert err.permanent and err.status == 401
    assert secret not in str(err) and secret not in repr(err) and secret not in repr(client)


async def test_unreachable_server_is_transient() -> None:
    async with MastodonClient(f"http://127.0.0.1:{free_port()}", "t") as client:
        with pytest.raises(MastodonError) as caught:
            await client.post_status("hello", idempotency_key="k")
    assert caught.value.permanent is False and caught.value.status is None


# --- the stand-in: real mastodon.social answers, Mastodon's Idempotency-Key rules ---------


async def test_verify_returns_real_account(fake_mastodon: FakeMastodon) -> None:
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        account = await client.verify()
    assert account["id"] == fake_mastodon.account["id"] and account["acct"]


async def test_lost_response_is_retried_without_reposting(fake_mastodon: FakeMastodon) -> None:
    """The post is made but the answer is lost: the same key gets the first status back."""
    fake_mastodon.lose_responses = 1
    key = str(uuid.uuid4())
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        status = await client.post_status("A link https://example.org/x", idempotency_key=key)
    assert fake_mastodon.created == 1
    assert status["id"] == fake_mastodon.statuses[0]["id"]
    posts = [h["Idempotency-Key"] for m, _, h in fake_mastodon.requests if m == "POST"]
    assert posts == [key, key]  # sent twice, created once


async def test_lost_responses_then_outbox_retry_posts_once(fake_mastodon: FakeMastodon) -> None:
    """Answers lost twice: a transient error; the outbox's later retry makes no second post."""
    fake_mastodon.lose_responses = 2
    key = str(uuid.uuid4())
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        with pytest.raises(MastodonError) as caught:
            await client.post_status("A link https://example.org/x", idempotency_key=key)
        assert caught.value.permanent is False
        assert fake_mastodon.created == 1
        status = await client.post_status("A link https://example.org/x", idempotency_key=key)
        assert fake_mastodon.created == 1
        assert status["id"] == fake_mastodon.statuses[0]["id"]
        other = await client.post_status("Another", idempotency_key=str(uuid.uuid4()))
    assert other["id"] != status["id"] and fake_mastodon.created == 2


async def test_two_503_then_success_in_three_attempts(fake_mastodon: FakeMastodon) -> None:
    fake_mastodon.fail(503, times=2)
    key = str(uuid.uuid4())
    errors: list[MastodonError] = []
    status = None
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        for _attempt in range(3):
            try:
                status = await client.post_status("third time lucky", idempotency_key=key)
                break
            except MastodonError as exc:
                assert not exc.permanent
                errors.append(exc)
    assert [e.status for e in errors] == [503, 503]
    assert status is not None and fake_mastodon.created == 1
    keys = [h.get("Idempotency-Key") for m, p, h in fake_mastodon.requests if m == "POST"]
    assert keys == [key, key, key]


async def test_500_is_transient(fake_mastodon: FakeMastodon) -> None:
    fake_mastodon.fail(500, error="Internal Server Error")
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        with pytest.raises(MastodonError) as caught:
            await client.post_status("x", idempotency_key="k")
    assert caught.value.permanent is False and caught.value.status == 500
    assert fake_mastodon.created == 0


async def test_429_retry_after_header(fake_mastodon: FakeMastodon) -> None:
    fake_mastodon.fail(429, retry_after="17")
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        with pytest.raises(MastodonError) as caught:
            await client.post_status("x", idempotency_key="k")
    err = caught.value
    assert err.permanent is False and err.status == 429 and err.retry_after == 17.0
    assert err.message == "Too many requests"


async def test_429_ratelimit_reset_when_no_retry_after(fake_mastodon: FakeMastodon) -> None:
    fake_mastodon.fail(429)  # Mastodon's own 429 carries X-RateLimit-Reset (ISO), 300 s ahead
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        with pytest.raises(MastodonError) as caught:
            await client.post_status("x", idempotency_key="k")
    assert caught.value.retry_after is not None and 200 < caught.value.retry_after <= 300


async def test_422_is_permanent_with_message(fake_mastodon: FakeMastodon) -> None:
    fake_mastodon.reject_422 = "Validation failed: Text character limit of 500 exceeded"
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        with pytest.raises(MastodonError) as caught:
            await client.post_status("x", idempotency_key="k")
    err = caught.value
    assert err.permanent and err.status == 422 and err.retry_after is None
    assert err.message == "Validation failed: Text character limit of 500 exceeded"


async def test_too_long_status_rejected_by_length_rule(fake_mastodon: FakeMastodon) -> None:
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        with pytest.raises(MastodonError) as caught:
            await client.post_status("a" * 501, idempotency_key="long")
        # A URL counts 23 however long it is: 470 + 1 + 23 fits in 500.
        ok = await client.post_status(
            "b" * 470 + " https://example.org/" + "p" * 200, idempotency_key="url"
        )
    assert "character limit of 500" in caught.value.message and caught.value.permanent
    assert ok["id"] and fake_mastodon.created == 1


async def test_post_sends_visibility_language_and_warning(fake_mastodon: FakeMastodon) -> None:
    async with MastodonClient(fake_mastodon.base_url, fake_mastodon.token) as client:
        status = await client.post_status(
            "spoilers",
            idempotency_key="cw",
            visibility="unlisted",
            language="fr",
            spoiler_text="film",
            sensitive=True,
        )
    assert status["visibility"] == "unlisted" and status["language"] == "fr"
    assert status["spoiler_text"] == "film" and status["sensitive"] is True


async def test_wrong_token_is_permanent_and_not_leaked(fake_mastodon: FakeMastodon) -> None:
    secret = "s3cr3t-" + uuid.uuid4().hex
    async with MastodonClient(fake_mastodon.base_url, secret) as client:
        with pytest.raises(MastodonError) as caught:
            await client.verify()
        assert secret not in repr(client)
    err = caught.value
    assert err.permanent and err.status == 401 and err.message == "The access token is invalid"
    assert secret not in str(err) and secret not in repr(err)


def test_retry_after_forms() -> None:
    now = datetime(2026, 4, 11, 23, 10, 0, tzinfo=UTC)
    assert retry_after_seconds({"retry-after": "120"}, now) == 120
    assert retry_after_seconds({"retry-after": "Sat, 11 Apr 2026 23:11:00 GMT"}, now) == 60
    assert retry_after_seconds({"x-ratelimit-reset": "2026-04-11T23:15:00.996774Z"}, now) == (
        pytest.approx(300.996774)
    )
    assert retry_after_seconds({"ratelimit-reset": str(now.timestamp() + 30)}, now) == 30
    assert retry_after_seconds({"ratelimit-reset": "30"}, now) == 30
    assert retry_after_seconds({"retry-after": "soon"}, now) is None
    assert retry_after_seconds({}, now) is None
