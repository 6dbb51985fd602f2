"""A genuine Bluesky PDS for tests: @atproto/pds + an in-memory PLC on 127.0.0.1.

Install it with `.ci/servers/bluesky/setup.sh` (npm packages into .cache/bluesky).
The session fixture starts `.ci/servers/bluesky/pds.mjs`, waits for its ready line,
creates an account and an app password the way a veille user would, and stops the
server (by closing its stdin) at the end.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "servers" / "bluesky" / "pds.mjs"
SETUP = ".ci/servers/bluesky/setup.sh"
HANDLE = "alice.test"
PASSWORD = "correct horse battery staple"
READY_TIMEOUT = 60.0
# The PDS signs session JWTs with this, so tests can mint an expired access token.
JWT_SECRET = secrets.token_hex(16)


class BlueskyServer(NamedTuple):
    base_url: str
    handle: str
    did: str
    app_password: str


def modules_dir() -> Path:
    return Path(os.environ.get("BLUESKY_PDS_MODULES") or ROOT / ".cache" / "bluesky")


def missing(what: str) -> None:
    """Skip locally, fail on CI (env CI set): a CI without the server must not go green."""
    message = f"{what} not installed: run {SETUP}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _read_ready(proc: subprocess.Popen[str], timeout: float) -> dict | None:
    """The first stdout line, parsed; None if the process ends or time runs out."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def reader() -> None:
        lines.put(stdout.readline())

    threading.Thread(target=reader, daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        return None
    try:
        ready = json.loads(line)
    except ValueError:
        return None
    return ready if isinstance(ready, dict) and "pds" in ready else None


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    if proc.stdin:
        proc.stdin.close()  # pds.mjs exits when its stdin closes
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def list_posts(base_url: str, did: str) -> list[dict]:
    """The account's posts, read back from the PDS (to count what was created)."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.get(
            "/xrpc/com.atproto.repo.listRecords",
            params={"repo": did, "collection": "app.bsky.feed.post", "limit": 100},
        )
        r.raise_for_status()
        return r.json()["records"]


def start_pds() -> tuple[subprocess.Popen[str], dict, float]:
    """Start pds.mjs; returns the process, its ready line and the start-up seconds.

    Its stderr goes to a temporary file, shown when it fails to start.
    """
    node = shutil.which("node")
    if node is None:
        missing("node (for the Bluesky PDS)")
    if not (modules_dir() / "node_modules" / "@atproto" / "pds").is_dir():
        missing("Bluesky PDS")
    began = time.monotonic()
    # The process keeps its own descriptor of the log once started.
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            [str(node), str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={
                **os.environ,
                "BLUESKY_PDS_MODULES": str(modules_dir()),
                "PDS_JWT_SECRET": JWT_SECRET,
            },
        )
        ready = _read_ready(proc, READY_TIMEOUT)
        if ready is None:
            _stop(proc)
            log.seek(0)
            tail = log.read()[-2000:]
            pytest.fail(f"the Bluesky PDS did not start within {READY_TIMEOUT:.0f} s:\n{tail}")
    return proc, ready, time.monotonic() - began


def create_account(base_url: str, handle: str = HANDLE) -> BlueskyServer:
    """createAccount, then an app password, as a user does on bsky.app."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        r = http.post(
            "/xrpc/com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD},
        )
        r.raise_for_status()
        account = r.json()
        r = http.post(
            "/xrpc/com.atproto.server.createAppPassword",
            json={"name": "veille"},
            headers={"Authorization": f"Bearer {account['accessJwt']}"},
        )
        r.raise_for_status()
        return BlueskyServer(base_url, account["handle"], account["did"], r.json()["password"])


@pytest.fixture(scope="session")
def bluesky_pds() -> Iterator[BlueskyServer]:
    """(base_url, handle, did, app_password) of an account on a fresh local PDS."""
    proc, ready, seconds = start_pds()
    try:
        print(f"\nBluesky PDS ready in {seconds:.1f} s at {ready['pds']}")
        yield create_account(ready["pds"])
    finally:
        _stop(proc)


def expired_access_token(did: str, *, secret: str = JWT_SECRET) -> str:
    """An access JWT as the PDS signs them (HS256), expired ten minutes ago."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"typ": "at+jwt", "alg": "HS256"}).encode())
    claims = {
        "scope": "com.atproto.appPass",
        "aud": "did:web:localhost",
        "sub": did,
        "iat": now - 7800,
        "exp": now - 600,
    }
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{b64(signature.digest())}"
