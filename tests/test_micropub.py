"""share.micropub against a genuine Micropub endpoint (django-indieweb on sqlite)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.servers import micropub as micropub_module
from tests.servers.mastodon import free_port
from tests.servers.micropub import MicropubServer
from veille.clients.micropub import MicropubError, config, post_bookmark

micropub_server = micropub_module.micropub_server  # the fixture (conftest.py is the lead's)


def _stored(server: MicropubServer, url: str) -> list[dict]:
    return [p for p in server.posts() if p["properties"].get("bookmark-of") == [url]]


async def test_bookmark_is_stored_with_location(micropub_server: MicropubServer) -> None:
    url = f"https://example.org/article/{uuid.uuid4().hex}?a=1&b=2"
    comment = "Worth it — see §3 & the 'Results' = table ✓"
    location = await post_bookmark(
        micropub_server.endpoint,
        micropub_server.token,
        url=url,
        comment=comment,
        title="An article",
        categories=["ml", "reading list"],
    )
    [post] = _stored(micropub_server, url)
    assert post["properties"]["content"] == [comment]
    assert post["properties"]["name"] == ["An article"]
    assert post["properties"]["category"] == ["ml", "reading list"]
    endpoint = httpx.URL(micropub_server.endpoint)
    assert location == f"{endpoint.scheme}://{endpoint.netloc.decode()}{post['url']}"
    async with httpx.AsyncClient() as http:
        page = (await http.get(location)).json()
    assert page["properties"]["bookmark-of"] == [url]


async def test_bookmark_without_title_or_categories(micropub_server: MicropubServer) -> None:
    url = f"https://example.org/{uuid.uuid4().hex}"
    async with httpx.AsyncClient() as http:
        location = await post_bookmark(
            micropub_server.endpoint, micropub_server.token, url=url, comment="short", client=http
        )
    [post] = _stored(micropub_server, url)
    assert location.endswith(post["url"])
    assert "name" not in post["properties"] and "category" not in post["properties"]


async def test_bad_token_is_permanent_and_not_leaked(micropub_server: MicropubServer) -> None:
    before = len(micropub_server.posts())
    secret = "wrong-" + uuid.uuid4().hex
    with pytest.raises(MicropubError) as caught:
        await post_bookmark(
            micropub_server.endpoint, secret, url="https://example.org/", comment="x"
        )
    err = caught.value
    assert err.permanent and err.status == 401 and err.message == "authentication error"
    assert secret not in str(err) and secret not in repr(err)
    assert len(micropub_server.posts()) == before


async def test_invalid_bookmark_url_is_permanent(micropub_server: MicropubServer) -> None:
    with pytest.raises(MicropubError) as caught:
        await post_bookmark(
            micropub_server.endpoint, micropub_server.token, url="javascript:alert(1)", comment="x"
        )
    assert caught.value.permanent and caught.value.status == 400


async def test_config_lists_syndication_targets(micropub_server: MicropubServer) -> None:
    conf = await config(micropub_server.endpoint, micropub_server.token)
    assert "config" in conf["q"]
    assert conf["syndicate-to"] == [{"uid": "https://social.example/@me", "name": "@me on social"}]
    bookmark = next(t for t in conf["post-types"] if t["type"] == "bookmark")
    assert "bookmark-of" in bookmark["properties"]


async def test_unreachable_endpoint_is_transient() -> None:
    with pytest.raises(MicropubError) as caught:
        await post_bookmark(
            f"http://127.0.0.1:{free_port()}/micropub", "t", url="https://example.org/", comment="x"
        )
    assert caught.value.permanent is False
