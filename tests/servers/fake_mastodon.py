"""A small Mastodon stand-in for what snac does not do: Idempotency-Key and /api/v2/instance.

Instance answers are the REAL mastodon.social responses from the shared corpus; a
created status is a real mastodon.social status with its id, text and time replaced.
Switches make it fail N times (503/500/429 + Retry-After), lose a response after
creating the post (the case Idempotency-Key exists for), or answer 422 like Mastodon.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
ENTITIES = CORPUS / "social" / "mastodon" / "mastodon.social_entities"
TOKEN = "fake-mastodon-token"
IDEMPOTENCY_TTL = 3600.0  # Mastodon keeps a key for one hour
_URL = re.compile(r"https?://\S+")


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)


def _entity(uri_suffix: str, preferred: str) -> dict[str, Any]:
    """The corpus response for a GET whose URI ends with `uri_suffix` (prefer `preferred`)."""
    rows = [json.loads(line) for line in (ENTITIES / "index.jsonl").read_text().splitlines()]
    files = [
        r["file"]
        for r in rows
        if r["method"] == "GET" and r["status"] == 200 and r["uri"].endswith(uri_suffix)
    ]
    name = preferred if preferred in files else files[0]
    return json.loads((ENTITIES / name).read_text("utf-8"))


class FakeMastodon:
    """State and switches; `base_url` is set once the server listens."""

    token = TOKEN

    def __init__(self) -> None:
        self.instance_v2: dict[str, Any] | None = _entity(
            "/api/v2/instance/", "test_entity_instancev2__00.json"
        )
        self.instance_v1: dict[str, Any] | None = _entity(
            "/api/v1/instance/", "test_entity_instance__00.json"
        )
        self.account = _entity(
            "/api/v1/accounts/verify_credentials", "test_entity_account__01.json"
        )
        self._template = _entity("/api/v1/statuses/110446223051565765", "")
        self.base_url = ""
        self.statuses: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.failures: list[Failure] = []
        self.lose_responses = 0
        self.reject_422: str | None = None
        self._keys: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._ids = itertools.count(113_000_000_000_000_001)
        self.lock = threading.Lock()

    @property
    def created(self) -> int:
        """How many statuses were really created."""
        return len(self.statuses)

    def fail(
        self,
        status: int,
        times: int = 1,
        *,
        retry_after: str | None = None,
        error: str | None = None,
    ) -> None:
        """Answer the next `times` POSTs to /api/v1/statuses with `status`."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        if status == 429:
            reset = datetime.fromtimestamp(time.time() + 300, UTC).isoformat()
            headers |= {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.replace("+00:00", "Z"),
            }
        body = {"error": error or ("Too many requests" if status == 429 else "Service Unavailable")}
        self.failures.extend(Failure(status, dict(headers), body) for _ in range(times))

    def _max_chars(self) -> int:
        info = self.instance_v2 or self.instance_v1 or {}
        return info.get("configuration", {}).get("statuses", {}).get("max_characters", 500)

    def create(self, form: dict[str, str], key: str | None) -> tuple[int, dict[str, Any]]:
        """Mastodon's rules: a known key within the hour returns the first status."""
        now = time.monotonic()
        with self.lock:
            if key and (TOKEN, key) in self._keys:
                stamp, status = self._keys[(TOKEN, key)]
                if now - stamp < IDEMPOTENCY_TTL:
                    return 200, status
            text = form.get("status", "")
            if self.reject_422 is not None:
                return 422, {"error": self.reject_422}
            if not text.strip():
                return 422, {"error": "Validation failed: Text can't be blank"}
            # Mastodon counts every URL as 23 characters (characters_reserved_per_url).
            length = len(_URL.sub("x" * 23, text)) + len(form.get("spoiler_text", ""))
            if length > self._max_chars():
                limit = self._max_chars()
                return 422, {
                    "error": f"Validation failed: Text character limit of {limit} exceeded"
                }
            number = next(self._ids)
            status = dict(self._template)
            status |= {
                "id": str(number),
                "created_at": datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
                "content": f"<p>{text}</p>",
                "visibility": form.get("visibility", "public"),
                "language": form.get("language") or None,
                "spoiler_text": form.get("spoiler_text", ""),
                "sensitive": form.get("sensitive") == "true",
                "uri": f"{self.base_url}/users/fake/statuses/{number}",
                "url": f"{self.base_url}/@fake/{number}",
            }
            self.statuses.append(status)
            if key:
                self._keys[(TOKEN, key)] = (now, status)
            return 200, status


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self._reply(401, {"error": "The access token is invalid"})
        return False

    def do_GET(self) -> None:
        fake = self.server.fake
        fake.requests.append(("GET", self.path, dict(self.headers)))
        path = self.path.split("?")[0].rstrip("/")
        if path == "/api/v2/instance" and fake.instance_v2 is not None:
            self._reply(200, fake.instance_v2)
        elif path == "/api/v1/instance" and fake.instance_v1 is not None:
            self._reply(200, fake.instance_v1)
        elif path == "/api/v1/accounts/verify_credentials":
            if self._authorized():
                self._reply(200, fake.account)
        else:
            self._reply(404, {"error": "Record not found"})

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        fake.requests.append(("POST", self.path, dict(self.headers)))
        if self.path.rstrip("/") != "/api/v1/statuses":
            self._reply(404, {"error": "Record not found"})
            return
        if not self._authorized():
            return
        with fake.lock:
            failure = fake.failures.pop(0) if fake.failures else None
        if failure is not None:
            self._reply(failure.status, failure.body, failure.headers)
            return
        if self.headers.get("Content-Type", "").startswith("application/json"):
            form = {
                k: str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in json.loads(raw or "{}").items()
            }
        else:
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        status, body = fake.create(form, self.headers.get("Idempotency-Key"))
        with fake.lock:
            lose = fake.lose_responses > 0 and status == 200
            if lose:
                fake.lose_responses -= 1
        if lose:
            # The post exists but the client never hears back: drop the connection.
            self.close_connection = True
            return
        self._reply(status, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeMastodon


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    """A fresh fake per test on a free 127.0.0.1 port; its token is `fake.token`."""
    if not (ENTITIES / "index.jsonl").is_file():
        pytest.skip(f"corpus not found: {ENTITIES}")
    fake = FakeMastodon()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
