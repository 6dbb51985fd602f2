"""`veille account add|list|remove` against genuine servers; secrets stay secret."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.servers import bluesky as pds_module
from tests.servers import mastodon as snac_module
from tests.servers import micropub as micropub_module
from tests.servers.bluesky import BlueskyServer
from tests.servers.mastodon import SnacServer, oob_login
from tests.servers.micropub import MicropubServer
from veille.accounts.config import AccountError, load_accounts
from veille.accounts.edit import append_account, remove_account, toml_string

# The fixtures, bound here by name (conftest.py is the lead's).
snac_server = snac_module.snac_server
bluesky_pds = pds_module.bluesky_pds
micropub_server = micropub_module.micropub_server


def config_file(home: Path) -> Path:
    return home / "config" / "config.toml"


def secrets_file(home: Path) -> Path:
    return home / "config" / "secrets.json"


def secrets_of(home: Path) -> dict[str, str]:
    path = secrets_file(home)
    return json.loads(path.read_text())["secrets"] if path.exists() else {}


def add_mastodon(home: Path, base_url: str, answer) -> subprocess.CompletedProcess:
    """`veille account add mastodon` in a real process: read the URL it prints, answer."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "veille",
            "account",
            "add",
            "mastodon",
            base_url,
            "--name",
            "snac",
            "--visibility",
            "unlisted",
        ],
        env={**os.environ, "VEILLE_HOME": str(home)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    url = ""
    for _ in range(5):
        line = proc.stdout.readline()
        if "/oauth/authorize?" in line:
            url = line.strip()
            break
    assert url.startswith(base_url), url
    out, err = proc.communicate(answer(url) + "\n", timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_mastodon_oob_login_then_share(
    home: Path, snac_server: SnacServer, cli, httpserver: HTTPServer
) -> None:
    r = add_mastodon(
        home,
        snac_server.base_url,
        lambda url: oob_login(url, snac_server.username, snac_server.password),
    )
    assert r.returncode == 0, r.stderr
    assert "added snac: @" in r.stdout and "Then paste the code" in r.stderr
    table = tomllib.loads(config_file(home).read_text())["accounts"]["snac"]
    assert table["type"] == "mastodon" and table["instance"] == snac_server.base_url
    assert table["visibility"] == "unlisted"
    # The instance's limits are learnt at once, into the cache (not frozen into config.toml).
    learnt = json.loads((home / "cache" / "mastodon-limits.json").read_text())["snac"]
    assert learnt["instance"] == snac_server.base_url and learnt["max_characters"] > 0
    assert "max_characters" not in table
    secrets = secrets_of(home)
    token = secrets["account:snac:token"]
    assert token and stat.S_IMODE(secrets_file(home).stat().st_mode) == 0o600
    assert token not in config_file(home).read_text() and token not in r.stdout + r.stderr
    listed = cli("account", "list", "--json")
    rows = {row["name"]: row for row in map(json.loads, listed.lines)}
    assert rows["snac"] == {
        "name": "snac",
        "type": "mastodon",
        "target": snac_server.base_url,
        "default": False,
    }
    assert rows["atom"]["default"] is True
    assert token not in listed.out and token not in cli("account", "list").out
    # And a share goes out through it.
    httpserver.expect_request("/f.xml").respond_with_data(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
        "<item><guid>1</guid><title>Snac item</title><link>https://example.com/s1</link>"
        "</item></channel></rss>",
        content_type="application/rss+xml",
    )
    assert cli("add", httpserver.url_for("/f.xml")).code == 0
    (item,) = [json.loads(line) for line in cli("items", "--json").lines]
    r2 = cli("share", item["id"], "--comment", "Posted through snac", "--to", "snac")
    assert r2.code == 0, r2.out + r2.err
    assert f"snac  sent {snac_server.base_url}/" in r2.out
    store_text = "".join(p.read_text() for p in (home / "data" / "store").rglob("*.json"))
    assert token not in store_text


def test_mastodon_wrong_code_saves_nothing(home: Path, snac_server: SnacServer) -> None:
    config_file(home).parent.mkdir(parents=True, exist_ok=True)
    config_file(home).write_text('# mine\ntheme = "veille-dark"\n')
    r = add_mastodon(home, snac_server.base_url, lambda url: "0123456789abcdef")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("veille: the code was not accepted")
    assert "Traceback" not in r.stderr
    assert config_file(home).read_text() == '# mine\ntheme = "veille-dark"\n'
    assert not any(k.startswith("account:snac:") for k in secrets_of(home))


def test_bluesky_app_password_from_stdin(
    home: Path, bluesky_pds: BlueskyServer, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("wrong-password\n"))
    r = cli("account", "add", "bluesky", bluesky_pds.handle, "--service", bluesky_pds.base_url)
    assert r.code == 1 and r.err.count("\n") == 1 and "cannot log in" in r.err
    assert "wrong-password" not in r.err
    assert not config_file(home).exists() or "accounts" not in config_file(home).read_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO(bluesky_pds.app_password + "\n"))
    r = cli(
        "account", "add", "bluesky", "@" + bluesky_pds.handle, "--service", bluesky_pds.base_url
    )
    assert r.code == 0, r.err
    assert f"added {bluesky_pds.handle}" in r.out
    secrets = secrets_of(home)
    assert secrets[f"account:{bluesky_pds.handle}:app_password"] == bluesky_pds.app_password
    assert json.loads(secrets[f"account:{bluesky_pds.handle}:session"])["did"] == bluesky_pds.did
    text = config_file(home).read_text()
    assert bluesky_pds.app_password not in text and "accessJwt" not in text
    listed = cli("account", "list")
    assert bluesky_pds.handle in listed.out and bluesky_pds.app_password not in listed.out
    assert stat.S_IMODE(secrets_file(home).stat().st_mode) == 0o600


def test_micropub_token_file(
    home: Path, micropub_server: MicropubServer, cli, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-token"
    bad.write_text("not-the-token\n")
    r = cli("account", "add", "micropub", micropub_server.endpoint, "--token-file", str(bad))
    assert r.code == 1 and "did not accept the token" in r.err and "not-the-token" not in r.err
    good = tmp_path / "token"
    good.write_text(micropub_server.token + "\n")
    r = cli(
        "account",
        "add",
        "micropub",
        micropub_server.endpoint,
        "--token-file",
        str(good),
        "--name",
        "my site",
    )
    assert r.code == 0, r.err
    table = tomllib.loads(config_file(home).read_text())["accounts"]["my site"]
    assert table == {"type": "micropub", "endpoint": micropub_server.endpoint}
    assert secrets_of(home)["account:my site:token"] == micropub_server.token
    out = cli("account", "list").out
    assert "my site" in out and micropub_server.token not in out


def test_remove_keeps_the_rest_of_config_byte_identical(home: Path, cli) -> None:
    original = (
        "# my settings — hand written\n"
        "refresh_minutes = 45   # trailing comment\n\n"
        "[share]\n"
        'template = "{comment}\\n{link}"\n'
    )
    config_file(home).parent.mkdir(parents=True, exist_ok=True)
    config_file(home).write_text(original)
    r = cli("account", "add", "command", "my.hook", "--command", 'notify-send "shared it"')
    assert r.code == 0, r.err
    r = cli("account", "add", "command", "other", "--command", "cat")
    assert r.code == 0, r.err
    with_both = config_file(home).read_text()
    assert with_both.startswith(original) and '[accounts."my.hook"]' in with_both
    assert tomllib.loads(with_both)["accounts"]["my.hook"]["command"] == 'notify-send "shared it"'
    dup = cli("account", "add", "command", "other", "--command", "cat")
    assert dup.code == 1 and "exists already" in dup.err
    assert config_file(home).read_text() == with_both
    from veille.accounts.secrets import SecretStore

    SecretStore(secrets_file(home), use_keyring=False).set("account:my.hook:token", "s3cret")
    SecretStore(secrets_file(home), use_keyring=False).set("account:other:token", "keep")
    r = cli("account", "remove", "my.hook")
    assert r.code == 0 and "removed my.hook and its 1 secret" in r.out
    after = config_file(home).read_text()
    assert after == original + '\n[accounts.other]\ntype = "command"\ncommand = "cat"\n'
    assert secrets_of(home) == {"account:other:token": "keep"}
    r = cli("account", "remove", "other")
    assert r.code == 0
    assert config_file(home).read_text() == original
    r = cli("account", "remove", "other")
    assert r.code == 2 and "no account named 'other'" in r.err
    assert cli("account", "remove", "atom").code == 1


def test_remove_from_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    head = 'theme = "veille-dark"\n\n'
    tail = "# fetch settings\n[fetch]\nconcurrency = 4\n"
    path.write_text(head + '[accounts.a]\ntype = "command"\ncommand = "true"\n\n' + tail)
    remove_account(path, "a")
    assert path.read_text() == head + tail


def test_toml_strings_round_trip(tmp_path: Path) -> None:
    nasty = 'a "quoted" \\ back\tslash\n\x01\x7f é 🎉'
    assert tomllib.loads(f"x = {toml_string(nasty)}")["x"] == nasty
    path = tmp_path / "config.toml"
    append_account(path, 'weird "name"', {"type": "command", "command": f"echo {nasty!r}"})
    data = tomllib.loads(path.read_text())
    assert data["accounts"]['weird "name"']["command"] == f"echo {nasty!r}"
    with pytest.raises(AccountError, match="exists already"):
        append_account(path, 'weird "name"', {"type": "command", "command": "true"})
    with pytest.raises(AccountError, match="built-in"):
        append_account(path, "atom", {"type": "command", "command": "true"})
    remove_account(path, 'weird "name"')
    assert path.read_text() == ""


def fake_oauth_server(httpserver: HTTPServer, token_status: int, token_body: dict) -> None:
    """/api/v1/apps registers; /oauth/token answers as a server refusing the code would."""
    httpserver.expect_request("/m/api/v1/apps", method="POST").respond_with_json(
        {"client_id": "cid-123", "client_secret": "client-secret-" + "s" * 20}
    )
    httpserver.expect_request("/m/oauth/token", method="POST").respond_with_json(
        token_body, status=token_status
    )


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (422, {"error": "Unprocessable Content"}),
        (400, {"error": "invalid_grant", "error_description": "The provided grant is invalid"}),
    ],
)
def test_mastodon_refused_code_says_how_to_get_a_new_one(
    home: Path, cli, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, status, body
) -> None:
    fake_oauth_server(httpserver, status, body)
    base = httpserver.url_for("/m")
    monkeypatch.setattr(sys, "stdin", io.StringIO("wrong-code-123456\n"))
    r = cli("account", "add", "mastodon", base)
    assert r.code == 1 and "Traceback" not in r.err
    (line,) = r.err.strip().splitlines()[-1:]
    assert line.startswith(f"veille: the code was not accepted: {base} refused it")
    assert f"run `veille account add mastodon {base}` again to get a new one" in line
    assert "(nothing was saved)" in line and "client-secret-" not in r.err + r.out
    assert not config_file(home).exists() or "accounts" not in config_file(home).read_text()


def test_mastodon_instance_without_scheme_says_https_was_assumed(
    home: Path, cli, httpserver: HTTPServer
) -> None:
    """A plain-http server typed without http://: https is tried, and the message says so."""
    typed = f"127.0.0.1:{httpserver.port}"
    r = cli("account", "add", "mastodon", typed)
    assert r.code == 1 and r.err.count("\n") == 1
    assert r.out.startswith(f"No scheme given: using https://{typed}")
    assert f"cannot reach https://{typed}/api/v1/apps: could not connect" in r.err
    assert f"https:// was assumed since '{typed}' has none" in r.err
    assert f"(e.g. http://{typed})" in r.err
    assert "ConnectError" not in r.err


def test_config_edits_keep_the_users_layout(tmp_path: Path) -> None:
    from veille.accounts.edit import add_default, remove_default

    path = tmp_path / "config.toml"
    original = (
        "# settings\n"
        "[share]\n"
        "author = 'Ana'    # single quotes kept\n"
        'default_to = ["atom"]  # mine\n'
        "\n# accounts below\n"
        "[fetch]\nconcurrency = 4\n"
    )
    path.write_text(original)
    assert add_default(path, "m") == ["atom", "m"]
    assert add_default(path, "m") == ["atom", "m"]  # once
    text = path.read_text()
    assert "author = 'Ana'    # single quotes kept\n" in text
    assert 'default_to = ["atom", "m"]  # mine\n' in text
    remove_default(path, "m")
    assert path.read_text() == original
    append_account(path, "x", {"type": "command", "command": "cat"})
    remove_account(path, "x")
    assert path.read_text() == original


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('type = "mastodon"\ninstance = "https://social.example:99999"', "port out of range"),
        ('type = "bluesky"\nhandle = "a.test"\nservice = "ftp://pds.example"', "not ftp"),
        ('type = "micropub"\nendpoint = "https://exa mple.example/mp"', "invalid host name"),
    ],
)
def test_server_urls_are_checked_when_the_file_is_read(
    tmp_path: Path, table: str, says: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[accounts.x]\n{table}\n")
    with pytest.raises(AccountError) as caught:
        load_accounts(path, tmp_path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("accounts.x.") and says in message
    path.write_text('[accounts.x]\ntype = "mastodon"\ninstance = "mastodon.example"\n')
    assert load_accounts(path, tmp_path)["x"].instance == "mastodon.example"  # as written
