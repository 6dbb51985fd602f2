"""Servers that misbehave (issue 8): a secret echoed back never reaches shares.json, the
screen nor the log; veille's own remarks never overwrite a server's reason."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.test_share_cli import add_feed
from veille.accounts.secrets import SecretStore

# Odd characters on purpose: a server may echo it URL-encoded or JSON-escaped.
TOKEN = 'Tk/9+q=Z&"x' + "7" * 30
PASSWORD = "abcd-efgh-ijkl-mnop"
OPAQUE_JWT = "access." + "Q" * 40  # a stored session token that does not look like a JWT


@pytest.fixture
def items(cli, httpserver: HTTPServer) -> list[dict]:
    return add_feed(cli, httpserver)


def secrets(home: Path) -> SecretStore:
    return SecretStore(home / "config" / "secrets.json", use_keyring=False)


def write_config(home: Path, text: str) -> None:
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def everything(home: Path, cli, *runs) -> str:
    """All a user (or an attacker reading files) could see after the runs."""
    seen = [r.out + r.err for r in runs]
    for args in (("shares",), ("shares", "--json"), ("send",)):
        r = cli(*args)
        seen.append(r.out + r.err)
    seen += [p.read_text() for p in (home / "data" / "store").rglob("*.json")]
    log = home / "state" / "veille.log"
    seen.append(log.read_text() if log.exists() else "")
    return "\n".join(seen)


def assert_no_secret(text: str, secret: str) -> None:
    for spelling in (secret, quote(secret, safe=""), json.dumps(secret)[1:-1], secret[:10]):
        assert spelling not in text


def echo_authorization(status: int, kind: str):
    """An endpoint that answers with the request's Authorization header in its body."""

    def handler(request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        if kind == "json":
            body = {"error": "invalid_token", "error_description": f"bad header {header}"}
            return Response(json.dumps(body), status=status, content_type="application/json")
        if kind == "urlencoded":
            token = quote(header.removeprefix("Bearer "), safe="")
            return Response(f"denied for access_token={token}", status=status)
        return Response(f"Unauthorized. You sent: Authorization: {header}", status=status)

    return handler


@pytest.mark.parametrize(("status", "kind"), [(401, "text"), (500, "json")])
def test_mastodon_echoing_the_token(
    cli, items, home: Path, httpserver: HTTPServer, status: int, kind: str
) -> None:
    httpserver.expect_request("/masto/api/v1/statuses").respond_with_handler(
        echo_authorization(status, kind)
    )
    write_config(
        home, f'[accounts.m]\ntype = "mastodon"\ninstance = "{httpserver.url_for("/masto")}"\n'
    )
    secrets(home).set("account:m:token", TOKEN)
    r = cli("share", items[0]["id"], "--comment", "Echo chamber", "--to", "m")
    # The server's words are there, cleaned: the status and what it said around the token.
    assert f"m  failed: HTTP {status}" in r.out or f"m  queued: HTTP {status}" in r.out
    assert "[redacted]" in r.out
    assert_no_secret(everything(home, cli, r), TOKEN)
    log = (home / "state" / "veille.log").read_text()
    assert "share " in log and "[redacted]" in log  # logged, without the token


@pytest.mark.parametrize(("status", "kind"), [(401, "json"), (500, "urlencoded")])
def test_micropub_echoing_the_token(
    cli, items, home: Path, httpserver: HTTPServer, status: int, kind: str
) -> None:
    httpserver.expect_request("/mp").respond_with_handler(echo_authorization(status, kind))
    write_config(
        home, f'[accounts.site]\ntype = "micropub"\nendpoint = "{httpserver.url_for("/mp")}"\n'
    )
    secrets(home).set("account:site:token", TOKEN)
    r = cli("share", items[0]["id"], "--comment", "Echo chamber", "--to", "site")
    assert "[redacted]" in r.out and f"HTTP {status}" in r.out
    assert_no_secret(everything(home, cli, r), TOKEN)


def test_bluesky_echoing_the_app_password_and_the_session(
    cli, items, home: Path, httpserver: HTTPServer
) -> None:
    """createSession echoes the password it was sent; a post echoes the session's token."""

    def login(request: Request) -> Response:
        sent = json.loads(request.get_data())["password"]
        body = {"error": "AuthenticationRequired", "message": f"bad password {sent!r}"}
        return Response(json.dumps(body), status=401, content_type="application/json")

    httpserver.expect_request("/sky/xrpc/com.atproto.server.createSession").respond_with_handler(
        login
    )

    def repo(request: Request) -> Response:
        if request.path.endswith("getRecord"):  # "was it created after all?": no
            body = {"error": "RecordNotFound", "message": "Could not locate record"}
            return Response(json.dumps(body), status=404, content_type="application/json")
        body = {"error": "InternalError", "message": request.headers.get("Authorization", "")}
        return Response(json.dumps(body), status=502, content_type="application/json")

    httpserver.expect_request(re.compile(r"^/sky/xrpc/com\.atproto\.repo\.")).respond_with_handler(
        repo
    )
    write_config(
        home,
        f'[accounts.sky]\ntype = "bluesky"\nhandle = "me.test"\n'
        f'service = "{httpserver.url_for("/sky")}"\n',
    )
    secrets(home).set("account:sky:app_password", PASSWORD)
    first = cli("share", items[0]["id"], "--comment", "No session yet", "--to", "sky")
    assert "failed: HTTP 401: bad password" in first.out and "[redacted]" in first.out
    # With a stored session the post itself is tried, and its token echoed back.
    session = {"accessJwt": OPAQUE_JWT, "refreshJwt": "refresh." + "R" * 40, "did": "did:plc:x"}
    secrets(home).set("account:sky:session", json.dumps(session))
    second = cli("share", items[1]["id"], "--comment", "With a session", "--to", "sky")
    assert "queued: HTTP 502: Bearer [redacted]" in second.out
    seen = everything(home, cli, first, second)
    assert_no_secret(seen, PASSWORD)
    assert_no_secret(seen, OPAQUE_JWT)
