"""A small Mastodon stand-in for what snac does not do: Idempotency-Key and /api/v2/instance,
lists, ``Link`` pagination with ``min_id``, rate-limit headers, every notification type.

Instance answers are the REAL mastodon.social responses from the shared corpus; a
created status is a real mastodon.social status with its id, text and time replaced.
Switches make it fail N times (503/500/429 + Retry-After), lose a response after
creating the post (the case Idempotency-Key exists for), or answer 422 like Mastodon.

Reading: timelines, lists, account lookups and notifications are served from
statuses and notifications recorded from mastodon.social and a Mastodon test
instance (``load_recorded_*``), paged the way Mastodon pages (``max_id``,
``since_id``, ``min_id``, ``limit`` ≤ 40, ``Link`` rel=next/prev with sorted
parameters, as in the recordings), with the recorded ``X-RateLimit-*`` headers
counting down.  ``fail_get`` and ``malformed`` make reads fail.
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
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.conftest import CORPUS  # one place finds ../shared/corpus

ENTITIES = CORPUS / "social" / "mastodon" / "mastodon.social_entities"
TEST_INSTANCE = CORPUS / "social" / "mastodon" / "localhost_testinstance"
RAW_CASSETTES = CORPUS / "social" / "mastodon" / "raw_cassettes_entity"
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
        # Reading (see the module's docstring).
        self.timelines: dict[str, list[dict[str, Any]]] = {}  # path -> statuses
        self.notifications: list[dict[str, Any]] = []
        self.lookup_accounts: dict[str, dict[str, Any]] = {}  # acct -> account
        self.lists: dict[str, dict[str, Any]] = {}  # id -> list
        self.public_paths: set[str] = set()  # readable without a token
        self.get_failures: list[tuple[str, Failure]] = []  # (path prefix, failure)
        self.malformed: set[str] = set()  # paths answered with broken JSON
        self.rate = recorded_rate_limit()
        self.rate_remaining = int(self.rate["x-ratelimit-remaining"])

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

    # --- reading ----------------------------------------------------------

    def fail_get(
        self,
        prefix: str,
        status: int,
        times: int = 1,
        *,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next `times` GETs whose path starts with `prefix` with `status`."""
        failure = Failure(status, dict(headers or {}), body or {"error": f"HTTP {status}"})
        self.get_failures.extend((prefix, failure) for _ in range(times))

    def rate_headers(self) -> dict[str, str]:
        """The recorded X-RateLimit-* headers, counting down, resetting in 5 minutes."""
        reset = datetime.fromtimestamp(time.time() + 300, UTC).isoformat()
        return {
            "X-RateLimit-Limit": self.rate["x-ratelimit-limit"],
            "X-RateLimit-Remaining": str(max(0, self.rate_remaining)),
            "X-RateLimit-Reset": reset.replace("+00:00", "Z"),
        }

    def page(
        self, path: str, items: list[dict[str, Any]], query: dict[str, list[str]]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Mastodon's paging over `items` (any order): (page, Link header)."""
        ordered = sorted(items, key=lambda s: int(s["id"]), reverse=True)
        one = {k: v[-1] for k, v in query.items()}
        limit = min(int(one.get("limit") or 20), 40 if "notifications" not in path else 80)
        if "max_id" in one:
            ordered = [s for s in ordered if int(s["id"]) < int(one["max_id"])]
        if "since_id" in one:
            ordered = [s for s in ordered if int(s["id"]) > int(one["since_id"])]
        if "min_id" in one:
            newer = [s for s in ordered if int(s["id"]) > int(one["min_id"])]
            chosen = newer[-limit:]  # the `limit` just after min_id, newest first
        else:
            chosen = ordered[:limit]
        if not chosen:
            return [], None
        keep = [(k, v) for k, vs in query.items() for v in vs if k not in PAGING]
        base = f"{self.base_url}{path}"

        def link(name: str, value: str) -> str:
            params = sorted([*keep, (name, value)], key=lambda kv: kv[0])
            return f"{base}?{urlencode(params)}"

        header = (
            f'<{link("max_id", chosen[-1]["id"])}>; rel="next", '
            f'<{link("min_id", chosen[0]["id"])}>; rel="prev"'
        )
        return chosen, header


PAGING = ("max_id", "min_id", "since_id")


def recorded_rate_limit() -> dict[str, str]:
    """The X-RateLimit-* values of a real mastodon.social answer (raw vcr cassette)."""
    text = (RAW_CASSETTES / "test_entity_notification.yaml").read_text("utf-8")
    found = dict(re.findall(r"(x-ratelimit-(?:limit|remaining|reset)):\n\s*- '([^']*)'", text))
    assert set(found) == {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}
    return found


def _walk_statuses(value: Any, out: dict[str, dict[str, Any]]) -> None:
    if isinstance(value, dict):
        if {"id", "uri", "content", "account"} <= value.keys():
            out.setdefault(value["uri"], value)
        for item in value.values():
            _walk_statuses(item, out)
    elif isinstance(value, list):
        for item in value:
            _walk_statuses(item, out)


def load_recorded_statuses() -> list[dict[str, Any]]:
    """Every status recorded in the corpus (mastodon.social and the test instance)."""
    found: dict[str, dict[str, Any]] = {}
    for folder in (ENTITIES, *sorted(TEST_INSTANCE.iterdir())):
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.json")):
            try:
                _walk_statuses(json.loads(file.read_text("utf-8")), found)
            except ValueError:
                continue
    return list(found.values())


def load_recorded_page(name: str) -> tuple[dict[str, Any], Any]:
    """(index row, body) of one recorded test-instance answer, e.g. "test_home_tl__01.json"."""
    for folder in sorted(TEST_INSTANCE.iterdir()):
        index = folder / "index.jsonl"
        if not index.is_file():
            continue
        for line in index.read_text("utf-8").splitlines():
            row = json.loads(line)
            if row["file"] == name:
                return row, json.loads((folder / name).read_text("utf-8"))
    raise FileNotFoundError(name)


def load_recorded_notifications() -> list[dict[str, Any]]:
    """v1 notifications (favourite, reblog) rebuilt from real grouped (v2) answers:
    one per sampled account of each group, with the group's real status and account."""
    body = json.loads(
        (ENTITIES / "test_entity_partialaccountwithavatar__00.json").read_text("utf-8")
    )
    accounts = {a["id"]: a for a in body.get("accounts", []) + body.get("partial_accounts", [])}
    statuses = {s["id"]: s for s in body["statuses"]}
    out = []
    for group in body["notification_groups"]:
        if group["type"] not in ("favourite", "reblog") or group["status_id"] not in statuses:
            continue
        for n, account_id in enumerate(group["sample_account_ids"]):
            if account_id not in accounts:
                continue
            out.append(
                {
                    "id": str(int(group["most_recent_notification_id"]) - n),
                    "type": group["type"],
                    "created_at": group["latest_page_notification_at"],
                    "group_key": group["group_key"],
                    "account": accounts[account_id],
                    "status": statuses[group["status_id"]],
                }
            )
    return out


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
        elif self._read(path):
            pass
        else:
            self._reply(404, {"error": "Record not found"})

    def _read(self, path: str) -> bool:
        """The reading endpoints; False when `path` is none of them."""
        fake = self.server.fake
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        known = (
            path in fake.timelines
            or path == "/api/v1/notifications"
            or path == "/api/v1/accounts/lookup"
            or path.startswith("/api/v1/lists/")
        )
        if not known:
            return self._maybe_fail(path)
        if self._maybe_fail(path):
            return True
        if path not in fake.public_paths and not self._authorized():
            return True
        with fake.lock:
            fake.rate_remaining -= 1
            headers = fake.rate_headers()
            exhausted = fake.rate_remaining < 0
        if exhausted:
            self._reply(429, {"error": "Too many requests"}, headers)
            return True
        if path in fake.malformed:
            self._raw(200, b'[{"id": "1", "content": "<p>cut', headers)
            return True
        if path == "/api/v1/accounts/lookup":
            acct = (query.get("acct") or [""])[-1]
            account = fake.lookup_accounts.get(acct)
            if account is None:
                self._reply(404, {"error": "Record not found"}, headers)
            else:
                self._reply(200, account, headers)
            return True
        if path.startswith("/api/v1/lists/"):
            found = fake.lists.get(path.rsplit("/", 1)[-1])
            if found is None:
                self._reply(404, {"error": "Record not found"}, headers)
            else:
                self._reply(200, found, headers)
            return True
        if path == "/api/v1/notifications":
            types = query.get("types[]")
            items = [n for n in fake.notifications if not types or n["type"] in types]
        else:
            items = fake.timelines[path]
        chosen, link = fake.page(path, items, query)
        if link:
            headers["Link"] = link
        self._reply(200, chosen, headers)
        return True

    def _maybe_fail(self, path: str) -> bool:
        fake = self.server.fake
        with fake.lock:
            found = next(
                (n for n, (prefix, _) in enumerate(fake.get_failures) if path.startswith(prefix)),
                None,
            )
            if found is None:
                return False
            _, failure = fake.get_failures.pop(found)
        self._reply(failure.status, failure.body, failure.headers)
        return True

    def _raw(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

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
