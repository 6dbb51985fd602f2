"""A genuine Mastodon-API server for tests: snac2 on a free 127.0.0.1 port.

Install it with `.ci/servers/snac/setup.sh` (Debian bookworm-backports). The session
fixture initialises an instance in a temp dir, adds a user, starts `snac httpd` and
gets a token through the same out-of-band OAuth flow a veille user goes through.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from tests.servers import stop

OOB = "urn:ietf:wg:oauth:2.0:oob"
USERNAME = "veille"


class SnacServer(NamedTuple):
    base_url: str
    token: str
    username: str
    password: str
    data_dir: Path | None = None  # the instance's folder, for `snac` commands


def add_user(server: SnacServer, username: str) -> tuple[str, str]:
    """Another user on the same instance, with a read+write token: (password, token).

    Adding the same name twice returns a new token for the existing user... when
    its password is known; so each test picks fresh names.
    """
    snac = shutil.which("snac")
    assert snac is not None and server.data_dir is not None
    added = subprocess.run(
        [snac, "adduser", str(server.data_dir), username],
        input="\n",
        text=True,
        capture_output=True,
        check=True,
        timeout=60,
    )
    found = re.search(r"User password is (\S+)", added.stdout)
    assert found, f"no password in snac adduser output: {added.stdout!r}"
    password = found.group(1)
    return password, oauth_token(server.base_url, username, password)


def missing(what: str, script: str) -> None:
    """Skip locally, fail on CI (env CI set): a CI without the server must not go green."""
    message = f"{what} not installed: run {script}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def one_shot_client(**kwargs: object) -> httpx.Client:
    """No keep-alive: snac closes each connection after one answer without saying so."""
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _FormParser(HTMLParser):
    """Collects the first form's action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")


def oob_login(authorize_url: str, username: str, password: str) -> str:
    """Play the user's part: open the authorize page, log in, read the code shown.

    snac's page is a form with `login` and `passwd` that answers the bare code.
    """
    with one_shot_client(timeout=10, follow_redirects=True) as http:
        page = http.get(authorize_url)
        page.raise_for_status()
        form = _FormParser()
        form.feed(page.text)
        assert form.action, "no login form on the authorize page"
        fields = dict(form.fields)
        for name in ("login", "username"):
            if name in fields:
                fields[name] = username
        for name in ("passwd", "password"):
            if name in fields:
                fields[name] = password
        answer = http.post(httpx.URL(str(page.url)).join(form.action), data=fields)
        answer.raise_for_status()
    code = answer.text.strip()
    assert code and "<" not in code, f"login failed: {code[:200]!r}"
    return code


def _wait_ready(proc: subprocess.Popen, url: str, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def _init_instance(snac: str, base: Path, port: int) -> str:
    """`snac init` is interactive: answer address, port, host, prefix, admin email."""
    answers = f"127.0.0.1\n{port}\n127.0.0.1:{port}\n\n\n"
    subprocess.run(
        [snac, "init", str(base)],
        input=answers,
        text=True,
        capture_output=True,
        check=True,
        timeout=60,
    )
    config_file = base / "server.json"
    config = json.loads(config_file.read_text())
    config["protocol"] = "http"  # plain HTTP on loopback: links and form actions match
    config_file.write_text(json.dumps(config, indent=4))
    added = subprocess.run(
        [snac, "adduser", str(base), USERNAME],
        input="\n",
        text=True,
        capture_output=True,
        check=True,
        timeout=60,
    )
    found = re.search(r"User password is (\S+)", added.stdout)
    assert found, f"no password in snac adduser output: {added.stdout!r}"
    return found.group(1)


def oauth_token(base_url: str, username: str, password: str) -> str:
    """The out-of-band flow with plain httpx: apps → authorize (login form) → token."""
    app = httpx.post(
        f"{base_url}/api/v1/apps",
        data={"client_name": "veille-tests", "redirect_uris": OOB, "scopes": "read write"},
        timeout=10,
    ).json()
    query = httpx.QueryParams(
        client_id=app["client_id"], redirect_uri=OOB, response_type="code", scope="read write"
    )
    code = oob_login(f"{base_url}/oauth/authorize?{query}", username, password)
    token = httpx.post(
        f"{base_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": OOB,
        },
        timeout=10,
    ).json()
    return token["access_token"]


@pytest.fixture(scope="session")
def snac_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnacServer]:
    """A running snac instance with one user and a read+write token; stopped afterwards."""
    snac = shutil.which("snac")
    if snac is None:
        missing("snac2", ".ci/servers/snac/setup.sh")
    assert snac is not None
    tmp = tmp_path_factory.mktemp("snac")
    proc: subprocess.Popen | None = None
    for attempt in range(3):  # a free port can be taken between probe and bind: retry
        port = free_port()
        base = tmp / f"data{attempt}"
        password = _init_instance(snac, base, port)
        log = (tmp / f"httpd{attempt}.log").open("wb")
        proc = subprocess.Popen(
            [snac, "httpd", str(base)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        base_url = f"http://127.0.0.1:{port}"
        if _wait_ready(proc, f"{base_url}/api/v1/instance"):
            break
        proc.kill()
        proc.wait(5)
        proc = None
    if proc is None:
        pytest.fail(f"snac httpd did not start; see logs in {tmp}")
    try:
        token = oauth_token(base_url, USERNAME, password)
        yield SnacServer(base_url, token, USERNAME, password, base)
    finally:
        stop(proc)
