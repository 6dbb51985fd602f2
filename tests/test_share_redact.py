"""The one redaction function: known secrets in any spelling, and what looks like one."""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from veille.accounts.redact import REDACTED, Redactor, account_secrets, redact, redactor_for
from veille.accounts.secrets import SecretStore
from veille.clients.errors import RemoteError

SECRET = 'p@ss w/ord+&"<x>' + "z" * 12


@pytest.mark.parametrize(
    "spelling",
    [
        SECRET,
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        html.escape(SECRET),
    ],
)
def test_every_spelling_of_a_known_secret(spelling: str) -> None:
    text = f"the server said: got {spelling} in the request"
    out = redact(text, [SECRET])
    assert out == f"the server said: got {REDACTED} in the request"


def test_a_message_cut_in_the_middle_of_a_secret() -> None:
    token = "A1b2C3d4E5f6G7h8I9j0" * 2
    cut = "HTTP 401: token " + token[:15] + "…"
    assert redact(cut, [token]) == f"HTTP 401: token {REDACTED}…"
    # but a few characters that merely happen to match are left alone
    assert redact("ends with A1b2", [token]) == "ends with A1b2"


def test_short_secrets_only_as_whole_words() -> None:
    r = Redactor(["t", "t0ken"])
    assert r("bad token t0ken here") == f"bad token {REDACTED} here"
    assert r("network error: ConnectTimeout") == "network error: ConnectTimeout"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Authorization: Bearer abcDEF123456._-~+/=", "abcDEF123456"),
        ("header was 'Basic dXNlcjpwYXNz'", "dXNlcjpwYXNz"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkaWQ6cGxjIn0.c2lnbmF0dXJl end", "eyJhbGci"),
        ('{"accessJwt": "opaque-token-value"}', "opaque-token-value"),
        ("POST /token?client_secret=s3cr3tvalue&x=1", "s3cr3tvalue"),
        ("refresh_token=abcdefgh", "abcdefgh"),
    ],
)
def test_what_looks_like_a_credential(text: str, gone: str) -> None:
    out = redact(text)
    assert gone not in out and REDACTED in out


def test_ordinary_messages_are_untouched() -> None:
    for text in (
        "Validation failed: Text has been posted before",
        "the token response has no access_token",
        "gave up after 8 attempts: network error: ConnectError",
        "Invalid identifier or password",
    ):
        assert redact(text, ["some-long-secret-value"]) == text


def test_remote_error_redacted_in_place() -> None:
    exc = RemoteError(f"echo {SECRET}", permanent=True, status=401)
    assert exc.redacted(Redactor([SECRET])) is exc
    assert SECRET not in str(exc) and SECRET not in repr(exc) and SECRET not in exc.args[0]
    assert str(exc) == f"HTTP 401: echo {REDACTED}"


def test_account_secrets_expand_a_session(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets.json", use_keyring=False)
    session = {"accessJwt": "acc-" + "a" * 20, "refreshJwt": "ref-" + "r" * 20, "did": "did:x"}
    store.set("account:sky:app_password", "abcd-efgh-ijkl-mnop")
    store.set("account:sky:session", json.dumps(session))
    store.set("account:other:token", "not-this-one-at-all")
    found = account_secrets(store, "sky")
    assert "abcd-efgh-ijkl-mnop" in found and session["accessJwt"] in found
    assert session["refreshJwt"] in found and "not-this-one-at-all" not in found
    r = redactor_for(store, "sky")
    assert r(f"x {session['refreshJwt']} y") == f"x {REDACTED} y"
