"""A genuine Bluesky PDS for tests: @atproto/pds + an in-memory PLC on 127.0.0.1.

Install it with `.ci/servers/bluesky/setup.sh` (npm packages into .cache/bluesky).
One PDS per test process (`running_pds`) starts `.ci/servers/bluesky/pds.mjs`,
waits for its ready line, and is stopped (by closing its stdin) when the process
exits.  `bluesky_pds` creates an account and an app password the way a veille
user would; `bluesky_network` gives the PDS and its PLC directory, for tests
that create several accounts (`new_user`) with follows, posts, likes, reposts.

`BlueskyReplay` serves recorded bsky.social AppView answers (getTimeline,
getFeed, listNotifications) on 127.0.0.1, behind a createSession that works
like the real one.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import itertools
import json
import os
import queue
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

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


_RUNNING: list[tuple[subprocess.Popen[str], dict]] = []


def running_pds() -> dict:
    """The ready line ({pds, plc, ...}) of this process's PDS, started on first use
    and stopped when the process exits."""
    if _RUNNING and _RUNNING[0][0].poll() is None:
        return _RUNNING[0][1]
    proc, ready, seconds = start_pds()
    print(f"\nBluesky PDS ready in {seconds:.1f} s at {ready['pds']}")
    atexit.register(_stop, proc)
    _RUNNING[:] = [(proc, ready)]
    return ready


_ALICE: dict[str, BlueskyServer] = {}


@pytest.fixture(scope="session")
def bluesky_pds() -> Iterator[BlueskyServer]:
    """(base_url, handle, did, app_password) of an account on a fresh local PDS.

    Test modules bind this fixture each under their own name; the account is made
    once per PDS so they all get the same one.
    """
    base = running_pds()["pds"]
    if base not in _ALICE:
        _ALICE[base] = create_account(base)
    yield _ALICE[base]


class BlueskyNetwork(NamedTuple):
    pds: str
    plc: str


@pytest.fixture(scope="session")
def bluesky_network() -> BlueskyNetwork:
    """The local PDS and its PLC directory (set VEILLE_PLC_URL to `plc` to use it)."""
    ready = running_pds()
    return BlueskyNetwork(ready["pds"], ready["plc"])


_USERS = itertools.count(1)


@dataclass
class PdsUser:
    """An account on the local PDS, with helpers to write records as an app would."""

    base_url: str
    handle: str
    did: str
    app_password: str
    access: str = field(repr=False, default="")

    def _post(self, nsid: str, body: dict[str, Any]) -> dict[str, Any]:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            r = http.post(
                f"/xrpc/{nsid}", json=body, headers={"Authorization": f"Bearer {self.access}"}
            )
            r.raise_for_status()
            return r.json() if r.content else {}

    def create(
        self, collection: str, record: dict[str, Any], rkey: str | None = None
    ) -> dict[str, Any]:
        """createRecord; returns {uri, cid}."""
        record = {"$type": collection, "createdAt": now_iso(), **record}
        body: dict[str, Any] = {"repo": self.did, "collection": collection, "record": record}
        if rkey:
            body["rkey"] = rkey
        return self._post("com.atproto.repo.createRecord", body)

    def delete(self, uri: str) -> None:
        collection, rkey = uri.split("/")[3], uri.split("/")[4]
        self._post(
            "com.atproto.repo.deleteRecord",
            {"repo": self.did, "collection": collection, "rkey": rkey},
        )

    def post(self, text: str, **fields: Any) -> dict[str, Any]:
        return self.create("app.bsky.feed.post", {"text": text, **fields})

    def follow(self, did: str) -> dict[str, Any]:
        return self.create("app.bsky.graph.follow", {"subject": did})

    def like(self, ref: dict[str, Any]) -> dict[str, Any]:
        return self.create("app.bsky.feed.like", {"subject": strong_ref(ref)})

    def repost(self, ref: dict[str, Any]) -> dict[str, Any]:
        return self.create("app.bsky.feed.repost", {"subject": strong_ref(ref)})

    def profile(self, display_name: str) -> dict[str, Any]:
        return self.create("app.bsky.actor.profile", {"displayName": display_name}, "self")


def strong_ref(ref: dict[str, Any]) -> dict[str, str]:
    return {"uri": ref["uri"], "cid": ref["cid"]}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def new_user(base_url: str, prefix: str = "user") -> PdsUser:
    """A fresh account (unique handle ending in .test) with an app password."""
    handle = f"{prefix}{next(_USERS)}{secrets.token_hex(2)}.test"
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
        return PdsUser(
            base_url, account["handle"], account["did"], r.json()["password"],
            account["accessJwt"],
        )  # fmt: skip


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


# --- recorded AppView answers, replayed ------------------------------------------------

from tests.conftest import CORPUS  # noqa: E402  (after the PDS helpers it does not need)

RECORDED = CORPUS / "social" / "bluesky" / "bskyr_api_responses"
RAW = CORPUS / "social" / "bluesky" / "bskyr_raw_cassettes"
REPLAY_DID = "did:plc:5c2r73erhng4bszmxlfdtscf"  # the recorded account (bskyr.bsky.social)
REPLAY_HANDLE = "bskyr.bsky.social"
REPLAY_PASSWORD = "replay-app-password"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text("utf-8"))


def recorded_rate_headers(cassette: str = "f_timeline.yml") -> dict[str, str]:
    """The RateLimit-* headers of a real bsky.social answer (the raw cassette)."""
    text = (RAW / cassette).read_text("utf-8")
    found = dict(re.findall(r"^\s+(RateLimit-[A-Za-z]+): '?([^'\n]*)'?$", text, re.M))
    assert "RateLimit-Remaining" in found
    return found


@dataclass
class BlueskyReplay:
    """State and switches of the replay; ``base_url`` is set once it listens."""

    base_url: str = ""
    answers: dict[str, Any] = field(default_factory=dict)  # nsid -> recorded body
    failures: list[tuple[str, int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    sessions: int = 0
    expire_next: int = 0  # answer this many authed calls with ExpiredToken

    def fail(
        self,
        nsid: str,
        status: int,
        error: str,
        message: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        body = {"error": error, "message": message or error}
        self.failures.append((nsid, status, body, dict(headers or {})))


class _ReplayHandler(BaseHTTPRequestHandler):
    server: _ReplayServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in {**recorded_rate_headers(), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _nsid(self) -> str:
        return urlsplit(self.path).path.removeprefix("/xrpc/")

    def _failure(self, nsid: str) -> bool:
        replay = self.server.replay
        for n, (name, status, body, headers) in enumerate(replay.failures):
            if name == nsid:
                del replay.failures[n]
                self._reply(status, body, headers)
                return True
        return False

    def do_POST(self) -> None:
        replay = self.server.replay
        nsid = self._nsid()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        replay.requests.append(("POST", self.path, dict(self.headers)))
        if self._failure(nsid):
            return
        session = {
            "accessJwt": "replay-access",
            "refreshJwt": "replay-refresh",
            "did": REPLAY_DID,
            "handle": REPLAY_HANDLE,
        }
        if nsid == "com.atproto.server.createSession":
            if body.get("password") != REPLAY_PASSWORD:
                self._reply(
                    401,
                    {
                        "error": "AuthenticationRequired",
                        "message": "Invalid identifier or password",
                    },
                )
                return
            replay.sessions += 1
            self._reply(200, session)
        elif nsid == "com.atproto.server.refreshSession":
            self._reply(200, session)
        else:
            self._reply(501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})

    def do_GET(self) -> None:
        replay = self.server.replay
        nsid = self._nsid()
        query = parse_qs(urlsplit(self.path).query)
        replay.requests.append(("GET", self.path, dict(self.headers)))
        if self._failure(nsid):
            return
        if self.path.startswith("/did:plc:"):  # the replay is also the PLC directory
            did = urlsplit(self.path).path.lstrip("/")
            if did != REPLAY_DID:
                self._reply(404, {"message": f"DID not registered: {did}"})
                return
            doc = {
                "id": REPLAY_DID,
                "alsoKnownAs": [f"at://{REPLAY_HANDLE}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": replay.base_url,
                    }
                ],
            }
            self._reply(200, doc)
            return
        # ...and the account's PDS, with an empty repository (revision as recorded).
        if nsid == "com.atproto.sync.getLatestCommit":
            self._reply(200, {"cid": "bafyreplay", "rev": "3lpis5o776z2g"})
            return
        if nsid == "com.atproto.repo.listRecords":
            self._reply(200, {"records": []})
            return
        if nsid == "com.atproto.repo.getRecord":
            self._reply(400, {"error": "RecordNotFound", "message": "Could not locate record"})
            return
        if nsid == "com.atproto.identity.resolveHandle":
            handle = (query.get("handle") or [""])[0]
            if handle == REPLAY_HANDLE:
                self._reply(200, {"did": REPLAY_DID})
            else:
                self._reply(400, {"error": "InvalidRequest", "message": "Unable to resolve handle"})
            return
        if self.headers.get("Authorization") != "Bearer replay-access":
            self._reply(401, {"error": "AuthenticationRequired", "message": "Token required"})
            return
        if replay.expire_next:
            replay.expire_next -= 1
            self._reply(400, {"error": "ExpiredToken", "message": "Token has expired"})
            return
        answer = replay.answers.get(nsid)
        if answer is None:
            self._reply(501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})
            return
        if query.get("cursor"):
            # The recorded page is all there is: the next one is empty, as at the end.
            key = "notifications" if "notifications" in answer else "feed"
            self._reply(200, {key: []})
            return
        self._reply(200, answer)


class _ReplayServer(ThreadingHTTPServer):
    daemon_threads = True
    replay: BlueskyReplay


@pytest.fixture
def bluesky_replay() -> Iterator[BlueskyReplay]:
    """A recorded bsky.social AppView (getTimeline, getFeed, listNotifications) on 127.0.0.1."""
    if not (RECORDED / "index.jsonl").is_file():
        pytest.skip(f"corpus not found: {RECORDED}")
    replay = BlueskyReplay(
        answers={
            "app.bsky.feed.getTimeline": recorded("f_timeline__00.json"),
            "app.bsky.feed.getFeed": recorded("f_feedfeed__00.json"),
            "app.bsky.feed.getListFeed": recorded("f_get_list_feed__00.json"),
            "app.bsky.notification.listNotifications": recorded("n_notifications__00.json"),
        }
    )
    server = _ReplayServer(("127.0.0.1", 0), _ReplayHandler)
    server.replay = replay
    replay.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield replay
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- a repository of our own: did:web, backlogs, broken answers ------------------------

TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


def tid(number: int) -> str:
    """A record key with TID syntax that sorts like `number`."""
    chars = []
    for _ in range(13):
        chars.append(TID_CHARS[number & 31])
        number >>= 5
    return "".join(reversed(chars))


@dataclass
class FakeRepo:
    """One did:web account whose repository we serve ourselves, paged like the
    reference PDS (``listRecords``: newest first; ``reverse``: oldest first after
    ``cursor``), for what the real PDS cannot give quickly or at all: a
    10,000-post backlog, malformed answers, unknown record types."""

    base_url: str = ""
    did: str = ""
    handle: str = "fake.test"
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # collection ->
    rev: int = 1
    malformed: set[str] = field(default_factory=set)  # nsids answered with broken JSON
    fail: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # nsid ->
    requests: list[str] = field(default_factory=list)

    def add(self, collection: str, value: dict[str, Any], number: int) -> dict[str, Any]:
        rkey = tid(number)
        record = {
            "uri": f"at://{self.did}/{collection}/{rkey}",
            "cid": f"bafyfake{number}",
            "value": {"$type": collection, "createdAt": now_iso(), **value},
        }
        self.records.setdefault(collection, []).append(record)
        self.rev += 1
        return record

    def add_posts(self, first: int, count: int) -> None:
        """`count` posts, each linking to its own article (numbers first..)."""
        for n in range(first, first + count):
            url = f"https://news.example/b/{n}"
            text = f"post {n} {url}"
            start = text.encode().index(url.encode())
            self.add(
                "app.bsky.feed.post",
                {
                    "text": text,
                    "facets": [
                        {
                            "index": {"byteStart": start, "byteEnd": start + len(url)},
                            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
                        }
                    ],
                },
                n,
            )


class _RepoHandler(BaseHTTPRequestHandler):
    server: _RepoServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        repo = self.server.repo
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        nsid = parts.path.removeprefix("/xrpc/")
        repo.requests.append(self.path)
        if parts.path == "/.well-known/did.json":
            doc = {
                "id": repo.did,
                "alsoKnownAs": [f"at://{repo.handle}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": repo.base_url,
                    }
                ],
            }
            self._send(200, json.dumps(doc).encode())
            return
        if nsid in repo.fail:
            status, body = repo.fail[nsid]
            self._send(status, json.dumps(body).encode())
            return
        if nsid in repo.malformed:
            self._send(200, b'{"records": [{"uri": "at://')
            return
        if nsid == "com.atproto.sync.getLatestCommit":
            self._send(200, json.dumps({"cid": "bafyrev", "rev": tid(repo.rev)}).encode())
        elif nsid == "com.atproto.repo.listRecords":
            found = sorted(
                repo.records.get(query.get("collection", ""), []),
                key=lambda r: r["uri"].rsplit("/", 1)[1],
                reverse=query.get("reverse") != "true",
            )
            cursor = query.get("cursor")
            if cursor and query.get("reverse") == "true":
                found = [r for r in found if r["uri"].rsplit("/", 1)[1] > cursor]
            elif cursor:
                found = [r for r in found if r["uri"].rsplit("/", 1)[1] < cursor]
            page = found[: int(query.get("limit", 50))]
            body: dict[str, Any] = {"records": page}
            if page:
                body["cursor"] = page[-1]["uri"].rsplit("/", 1)[1]
            self._send(200, json.dumps(body).encode())
        elif nsid == "com.atproto.repo.getRecord":
            uri = f"at://{repo.did}/{query.get('collection')}/{query.get('rkey')}"
            for record in repo.records.get(query.get("collection", ""), []):
                if record["uri"] == uri:
                    self._send(200, json.dumps(record).encode())
                    return
            self._send(400, json.dumps({"error": "RecordNotFound", "message": "none"}).encode())
        else:
            self._send(501, json.dumps({"error": "MethodNotImplemented"}).encode())


class _RepoServer(ThreadingHTTPServer):
    daemon_threads = True
    repo: FakeRepo


@dataclass
class RepoServers:
    """Starts FakeRepo servers; stops them all at the end."""

    servers: list[tuple[_RepoServer, threading.Thread]] = field(default_factory=list)

    def start(self, handle: str = "fake.test") -> FakeRepo:
        server = _RepoServer(("127.0.0.1", 0), _RepoHandler)
        port = server.server_address[1]
        repo = FakeRepo(
            base_url=f"http://127.0.0.1:{port}", did=f"did:web:127.0.0.1%3A{port}", handle=handle
        )
        server.repo = repo
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        self.servers.append((server, thread))
        return repo

    def stop(self) -> None:
        for server, thread in self.servers:
            server.shutdown()
            server.server_close()
            thread.join(5)


@pytest.fixture
def fake_repos() -> Iterator[RepoServers]:
    """Make did:web repositories on 127.0.0.1 with `fake_repos.start()`."""
    servers = RepoServers()
    try:
        yield servers
    finally:
        servers.stop()
