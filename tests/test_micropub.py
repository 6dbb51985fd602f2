"""share.micropub against a genuine Micropub endpoint (django-indieweb on sqlite)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, quote

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.servers import micropub as micropub_module
from tests.servers.mastodon import free_port
from tests.servers.micropub import MicropubServer
from veille.clients.micropub import MicropubError, config, may_follow, post_bookmark

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


# --- what counts as "posted": redirects and other non-201 answers --------------------------


async def test_genuine_endpoint_without_slash_moved_is_not_sent(
    micropub_server: MicropubServer,
) -> None:
    """django-indieweb answers the URL without its trailing slash with a 301: the POST
    would become a GET, so nothing is posted, and the error says where it moved."""
    url = f"https://example.org/{uuid.uuid4().hex}"
    endpoint = micropub_server.endpoint.rstrip("/")
    with pytest.raises(MicropubError) as caught:
        await post_bookmark(endpoint, micropub_server.token, url=url, comment="x")
    err = caught.value
    assert err.permanent and err.status == 301
    assert f"the endpoint moved to {micropub_server.endpoint}" in err.message
    assert "nothing was posted" in err.message and "update the account" in err.message
    assert _stored(micropub_server, url) == []


def _form(request: Request) -> dict[str, list[str]]:
    return parse_qs(request.get_data(as_text=True))


@pytest.mark.parametrize("code", [301, 302, 303])
async def test_moved_endpoint_fails_and_posts_nothing(httpserver: HTTPServer, code: int) -> None:
    new = httpserver.url_for("/new-micropub")
    httpserver.expect_request("/micropub", method="POST").respond_with_data(
        "", status=code, headers={"Location": "/new-micropub"}
    )
    httpserver.expect_request("/new-micropub").respond_with_data(
        "", status=201, headers={"Location": "/p/1"}
    )
    with pytest.raises(MicropubError) as caught:
        await post_bookmark(
            httpserver.url_for("/micropub"), "t0ken", url="https://example.org/", comment="x"
        )
    err = caught.value
    assert err.permanent and err.status == code
    assert err.message.startswith(f"the endpoint moved to {new} ({code} ")
    assert [r.path for r, _ in httpserver.log] == ["/micropub"]  # never followed


@pytest.mark.parametrize("code", [307, 308])
async def test_307_308_same_origin_resent_with_method_and_body(
    httpserver: HTTPServer, code: int
) -> None:
    httpserver.expect_request("/micropub", method="POST").respond_with_data(
        "", status=code, headers={"Location": "/v2/micropub"}
    )
    httpserver.expect_request("/v2/micropub", method="POST").respond_with_data(
        "", status=201, headers={"Location": "/p/7"}
    )
    location = await post_bookmark(
        httpserver.url_for("/micropub"),
        "t0ken",
        url="https://example.org/a",
        comment="Kept across the hop",
    )
    assert location == httpserver.url_for("/p/7")
    (first, _), (second, _) = httpserver.log
    assert second.path == "/v2/micropub" and second.method == "POST"
    assert _form(second) == _form(first)
    assert _form(second)["bookmark-of"] == ["https://example.org/a"]
    assert _form(second)["content"] == ["Kept across the hop"]
    assert second.headers["Authorization"] == "Bearer t0ken"


async def test_307_to_another_origin_is_not_followed(httpserver: HTTPServer) -> None:
    other = HTTPServer(host="127.0.0.1", port=0)
    other.start()
    try:
        other.expect_request("/micropub").respond_with_data(
            "", status=201, headers={"Location": "/p/1"}
        )
        target = other.url_for("/micropub")
        httpserver.expect_request("/micropub").respond_with_data(
            "", status=307, headers={"Location": target}
        )
        with pytest.raises(MicropubError) as caught:
            await post_bookmark(
                httpserver.url_for("/micropub"), "t0ken", url="https://example.org/", comment="x"
            )
        assert caught.value.permanent and caught.value.status == 307
        assert f"redirects to {target}, another site" in caught.value.message
        assert other.log == []  # the token never went there
    finally:
        other.clear()
        other.stop()


async def test_redirect_loop_stops(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/micropub").respond_with_data(
        "", status=307, headers={"Location": "/micropub"}
    )
    with pytest.raises(MicropubError) as caught:
        await post_bookmark(
            httpserver.url_for("/micropub"), "t0ken", url="https://example.org/", comment="x"
        )
    assert caught.value.permanent and "more than 3 redirects" in caught.value.message
    assert len(httpserver.log) == 4


@pytest.mark.parametrize(("code", "ok"), [(200, False), (204, False), (201, True), (202, True)])
async def test_only_201_and_202_are_created(httpserver: HTTPServer, code: int, ok: bool) -> None:
    headers = {"Location": "/p/1"} if code != 204 else {}
    httpserver.expect_request("/micropub").respond_with_data("", status=code, headers=headers)
    endpoint = httpserver.url_for("/micropub")
    if ok:
        location = await post_bookmark(endpoint, "t", url="https://example.org/", comment="x")
        assert location == httpserver.url_for("/p/1")
        return
    with pytest.raises(MicropubError) as caught:
        await post_bookmark(endpoint, "t", url="https://example.org/", comment="x")
    assert caught.value.permanent and f"answered {code} " in caught.value.message
    assert "not 201 or 202" in caught.value.message


@pytest.mark.parametrize(
    ("origin", "target", "ok"),
    [
        ("http://site.example/mp", "http://site.example/v2", True),
        ("http://site.example/mp", "https://site.example/mp", True),  # https upgrade
        ("https://site.example/mp", "http://site.example/mp", False),  # downgrade
        ("http://site.example:8080/mp", "https://site.example/mp", False),
        ("https://site.example/mp", "https://other.example/mp", False),
        ("https://site.example/mp", "https://site.example:8443/mp", False),
        ("https://Site.Example/mp", "https://site.example/v2", True),
    ],
)
def test_which_redirects_may_carry_the_token(origin: str, target: str, ok: bool) -> None:
    assert may_follow(httpx.URL(origin), httpx.URL(target)) is ok


# --- a server that echoes the Authorization header ----------------------------------------

ODD_TOKEN = "tok/en+with=odd&chars\"and'quotes-" + "x" * 24


def _echo(kind: str):
    def handler(request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        if kind == "text":
            return Response(f"Unauthorized: got Authorization: {header}", status=401)
        if kind == "json":
            body = {"error": "server_error", "error_description": f"request had {header}"}
            return Response(json.dumps(body), status=500, content_type="application/json")
        if kind == "urlencoded":
            return Response(f"bad request: access_token={quote(token, safe='')}", status=400)
        # a long message: the token is cut off where the message is truncated (after
        # "=", not a space: a cut on a word boundary would drop it whole)
        return Response("x" * 280 + "=" + token, status=403)

    return handler


@pytest.mark.parametrize("kind", ["text", "json", "urlencoded", "truncated"])
async def test_echoed_token_is_redacted(httpserver: HTTPServer, kind: str) -> None:
    httpserver.expect_request("/micropub").respond_with_handler(_echo(kind))
    with pytest.raises(MicropubError) as caught:
        await post_bookmark(
            httpserver.url_for("/micropub"), ODD_TOKEN, url="https://example.org/", comment="x"
        )
    text = str(caught.value) + repr(caught.value)
    assert "[redacted]" in text
    for piece in (ODD_TOKEN, quote(ODD_TOKEN, safe=""), json.dumps(ODD_TOKEN)[1:-1]):
        assert piece not in text
    assert ODD_TOKEN[:12] not in text  # not even the start of it
