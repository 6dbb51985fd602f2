"""The fetcher against real HTTP servers on 127.0.0.1 (no mocked transport)."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli
import httpx
import pytest

from veille import USER_AGENT
from veille.net.fetcher import (
    ACCEPT_FEEDS,
    ACCEPT_PAGES,
    ERROR_KINDS,
    Fetcher,
    FetchRequest,
    FetchResult,
    describe_exception,
)

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'

Route = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalServer

    def do_GET(self) -> None:
        srv = self.server
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        with srv.lock:
            srv.requests.append((self.path, dict(self.headers.items())))
            srv.active[host] = srv.active.get(host, 0) + 1
            srv.active_total += 1
            srv.max_active[host] = max(srv.max_active.get(host, 0), srv.active[host])
            srv.max_total = max(srv.max_total, srv.active_total)
        try:
            route = srv.route_for(self.path)
            if route is None:
                self.reply(404, b"no route")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        finally:
            with srv.lock:
                srv.active[host] -= 1
                srv.active_total -= 1

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        hdrs = {"Content-Type": "application/rss+xml", **(headers or {})}
        for k, v in hdrs.items():
            self.send_header(k, v)
        if "Content-Length" not in hdrs:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.active: dict[str, int] = {}
        self.max_active: dict[str, int] = {}
        self.active_total = 0
        self.max_total = 0

    def route_for(self, path: str) -> Route | None:
        if path in self.routes:
            return self.routes[path]
        for key, route in self.routes.items():
            if key.endswith("*") and path.startswith(key[:-1]):
                return route
        return None

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up mid-request are part of the tests

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def _server() -> Iterator[LocalServer]:
    srv = LocalServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server(_server: LocalServer) -> LocalServer:
    _server.reset()
    return _server


def static(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    return lambda h: h.reply(status, body, headers)


async def fetch(url: str, **kwargs: object) -> FetchResult:
    req_fields = {k: kwargs.pop(k) for k in ("etag", "last_modified", "body_hash") if k in kwargs}
    async with Fetcher(**kwargs) as f:  # type: ignore[arg-type]
        return await f.fetch(FetchRequest(url, **req_fields))  # type: ignore[arg-type]


# -- plain success, headers sent --------------------------------------------------------


async def test_ok_body_and_headers_sent(server: LocalServer) -> None:
    server.routes["/feed"] = static(200, FEED, {"Cache-Control": "public, max-age=600"})
    r = await fetch(server.url("/feed"))
    assert r.error is None and r.ok
    assert r.status == 200
    assert r.body == FEED
    assert r.final_url == server.url("/feed") and r.permanent_url is None
    assert r.content_type == "application/rss+xml"
    assert r.headers["content-type"] == "application/rss+xml"
    assert r.max_age == 600
    assert len(r.body_hash or "") == 64
    _, sent = server.requests[0]
    assert sent["User-Agent"] == USER_AGENT
    assert sent["Accept"] == ACCEPT_FEEDS
    assert sent["Accept-Encoding"] == "gzip, deflate, br"
    assert "If-None-Match" not in sent and "If-Modified-Since" not in sent


async def test_get_page_sends_page_accept_and_no_validators(server: LocalServer) -> None:
    server.routes["/page"] = static(200, b"<html>hi</html>", {"Content-Type": "text/html"})
    async with Fetcher() as f:
        r = await f.get_page(server.url("/page"))
        r2 = await f.get_page(server.url("/page"), accept="application/json")
    assert r.body == b"<html>hi</html>" and r2.ok
    assert server.requests[0][1]["Accept"] == ACCEPT_PAGES
    assert server.requests[1][1]["Accept"] == "application/json"
    assert server.requests[0][1]["User-Agent"] == USER_AGENT


async def test_no_cache_ignores_max_age(server: LocalServer) -> None:
    server.routes["/feed"] = static(200, FEED, {"Cache-Control": "no-cache, max-age=600"})
    r = await fetch(server.url("/feed"))
    assert r.ok and r.max_age is None


# -- conditional GET ---------------------------------------------------------------------

LM1 = "Mon, 01 Jan 2024 10:00:00 GMT"
LM2 = "Tue, 02 Jan 2024 10:00:00 GMT"


def conditional(etag: str, last_modified: str, extra_304: dict[str, str] | None = None) -> Route:
    def route(h: Handler) -> None:
        if h.headers.get("If-None-Match") == etag:
            h.reply(304, b"", extra_304 or {})
        else:
            h.reply(200, FEED, {"ETag": etag, "Last-Modified": last_modified})

    return route


async def test_first_validators_saved_then_sent_then_304(server: LocalServer) -> None:
    server.routes["/feed"] = conditional('"v1"', LM1)
    async with Fetcher() as f:
        first = await f.fetch(FetchRequest(server.url("/feed")))
        assert first.etag == '"v1"' and first.last_modified == LM1
        second = await f.fetch(
            FetchRequest(server.url("/feed"), first.etag, first.last_modified, first.body_hash)
        )
    sent = server.requests[1][1]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == LM1
    assert second.not_modified and second.status == 304
    assert second.body is None and second.error is None
    assert second.etag == '"v1"' and second.last_modified == LM1


async def test_a_non_ascii_etag_is_sent_back_as_the_server_gave_it(server: LocalServer) -> None:
    # RFC 9110 allows bytes 0x80-0xFF in an entity-tag; this server sends UTF-8. Sent
    # back as ASCII it failed every later refresh of the feed ("invalid host name").
    wire = '"café"'.encode().decode("latin-1")  # the header's bytes, as http.server has them
    server.routes["/feed"] = conditional(wire, LM1)
    async with Fetcher() as f:
        first = await f.fetch(FetchRequest(server.url("/feed")))
        assert first.ok and first.etag == '"café"'
        second = await f.fetch(FetchRequest(server.url("/feed"), first.etag, first.last_modified))
    assert second.error is None and second.not_modified
    assert server.requests[1][1]["If-None-Match"] == wire


async def test_304_adopts_newer_validators(server: LocalServer) -> None:
    server.routes["/feed"] = conditional('"v1"', LM1, {"Last-Modified": LM2, "ETag": '"v1"'})
    r = await fetch(server.url("/feed"), etag='"v1"', last_modified=LM1)
    assert r.not_modified and r.last_modified == LM2 and r.etag == '"v1"'


async def test_304_keeps_request_last_modified_when_older(server: LocalServer) -> None:
    server.routes["/feed"] = conditional('"v1"', LM1, {"Last-Modified": LM1})
    r = await fetch(server.url("/feed"), etag='"v1"', last_modified=LM2)
    assert r.not_modified and r.last_modified == LM2


async def test_expires_zero_ignores_validators(server: LocalServer) -> None:
    server.routes["/feed"] = static(
        200, FEED, {"ETag": '"x"', "Last-Modified": LM1, "Expires": "0"}
    )
    r = await fetch(server.url("/feed"))
    assert r.ok and r.body == FEED
    assert r.etag is None and r.last_modified is None


async def test_identical_body_is_unchanged(server: LocalServer) -> None:
    server.routes["/feed"] = static(200, FEED)
    first = await fetch(server.url("/feed"))
    again = await fetch(server.url("/feed"), body_hash=first.body_hash)
    assert again.unchanged and again.body is None and again.error is None
    assert again.body_hash == first.body_hash
    other = await fetch(server.url("/feed"), body_hash="0" * 64)
    assert not other.unchanged and other.body == FEED


async def test_error_keeps_request_validators(server: LocalServer) -> None:
    server.routes["/feed"] = static(500, b"oops")
    r = await fetch(server.url("/feed"), etag='"v1"', last_modified=LM1)
    assert r.error_kind == "http" and r.etag == '"v1"' and r.last_modified == LM1


# -- compression and caps ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)],
)
async def test_compressed_bodies_are_decoded(
    server: LocalServer, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    big = FEED * 200
    server.routes["/feed"] = static(200, compress(big), {"Content-Encoding": encoding})
    r = await fetch(server.url("/feed"))
    assert r.error is None and r.body == big


async def test_plain_body_over_cap_with_content_length(server: LocalServer) -> None:
    server.routes["/big"] = static(200, b"x" * 300_000)
    r = await fetch(server.url("/big"), max_body=100_000)
    assert r.error_kind == "too_large" and r.body is None
    assert r.error == "body larger than 100000 bytes"


def chunked(total: int, chunk: bytes = b"y" * 16384) -> Route:
    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        sent = 0
        while sent < total:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        h.wfile.write(b"0\r\n\r\n")

    return route


async def test_streamed_body_over_cap_without_length(server: LocalServer) -> None:
    server.routes["/stream"] = chunked(2 * 2**20)
    r = await fetch(server.url("/stream"), max_body=2**20)
    assert r.error_kind == "too_large" and r.error == "body larger than 1 MiB"


async def test_gzip_bomb_is_capped_after_decompression(server: LocalServer) -> None:
    bomb = gzip.compress(b"\0" * (8 * 2**20))
    assert len(bomb) < 100_000
    server.routes["/bomb"] = static(200, bomb, {"Content-Encoding": "gzip"})
    r = await fetch(server.url("/bomb"), max_body=2**20)
    assert r.error_kind == "too_large" and r.body is None


async def test_body_just_under_cap_is_fine(server: LocalServer) -> None:
    server.routes["/fits"] = chunked(64 * 1024)
    r = await fetch(server.url("/fits"), max_body=64 * 1024)
    assert r.ok and len(r.body or b"") == 64 * 1024


@pytest.mark.parametrize("body", [b"", b"  \r\n "])
async def test_empty_body_is_an_error(server: LocalServer, body: bytes) -> None:
    server.routes["/empty"] = static(200, body)
    r = await fetch(server.url("/empty"))
    assert r.error == "empty response" and r.error_kind == "empty" and r.status == 200


# -- redirects ---------------------------------------------------------------------------


def redirect(status: int, location: str) -> Route:
    return static(status, b"", {"Location": location})


@pytest.mark.parametrize("code", [301, 308])
async def test_permanent_redirect_sets_permanent_url(server: LocalServer, code: int) -> None:
    server.routes["/old"] = redirect(code, "/new")
    server.routes["/new"] = static(200, FEED)
    r = await fetch(server.url("/old"))
    assert r.ok and r.body == FEED
    assert r.url == server.url("/old")
    assert r.final_url == server.url("/new") and r.permanent_url == server.url("/new")


@pytest.mark.parametrize("code", [302, 303, 307])
async def test_temporary_redirect_keeps_url(server: LocalServer, code: int) -> None:
    server.routes["/old"] = redirect(code, server.url("/new"))
    server.routes["/new"] = static(200, FEED)
    r = await fetch(server.url("/old"))
    assert r.ok and r.final_url == server.url("/new") and r.permanent_url is None


async def test_mixed_chain_is_not_permanent(server: LocalServer) -> None:
    server.routes["/a"] = redirect(301, "/b")
    server.routes["/b"] = redirect(302, "/c")
    server.routes["/c"] = static(200, FEED)
    r = await fetch(server.url("/a"))
    assert r.ok and r.final_url == server.url("/c") and r.permanent_url is None


async def test_all_permanent_chain_across_hosts(server: LocalServer) -> None:
    server.routes["/a"] = redirect(301, server.url("/b", host="localhost"))
    server.routes["/b"] = redirect(308, "c")  # relative Location
    server.routes["/c"] = static(200, FEED)
    r = await fetch(server.url("/a"))
    assert r.ok and r.permanent_url == server.url("/c", host="localhost")


async def test_permanent_redirect_to_an_error_is_not_adopted(server: LocalServer) -> None:
    server.routes["/a"] = redirect(301, "/missing")
    r = await fetch(server.url("/a"))
    assert r.error == "HTTP 404 Not Found" and r.permanent_url is None
    assert r.final_url == server.url("/missing")


async def test_redirect_loop(server: LocalServer) -> None:
    server.routes["/a"] = redirect(302, "/b")
    server.routes["/b"] = redirect(302, "/a")
    r = await fetch(server.url("/a"))
    assert r.error == "redirect loop" and r.error_kind == "redirect"


def hops(limit: int) -> Route:
    def route(h: Handler) -> None:
        n = int(h.path.rsplit("/", 1)[1])
        if n < limit:
            h.reply(301, b"", {"Location": f"/hop/{n + 1}"})
        else:
            h.reply(200, FEED)

    return route


async def test_ten_redirects_are_allowed(server: LocalServer) -> None:
    server.routes["/hop/*"] = hops(10)
    r = await fetch(server.url("/hop/0"))
    assert r.ok and r.final_url == server.url("/hop/10")


async def test_more_than_ten_redirects(server: LocalServer) -> None:
    server.routes["/hop/*"] = hops(11)
    r = await fetch(server.url("/hop/0"))
    assert r.error == "too many redirects (>10)" and r.error_kind == "redirect"
    assert len(server.requests) == 11  # the 11th Location is never requested


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("ftp://example.org/feed", "redirect to unsupported URL scheme: ftp"),
        ("mailto:me@example.org", "redirect to unsupported URL scheme: mailto"),
        ("javascript:alert(1)", "redirect to unsupported URL scheme: javascript"),
        ("http://[::1/feed", None),
    ],
)
async def test_redirect_to_non_http_scheme(
    server: LocalServer, location: str, message: str | None
) -> None:
    server.routes["/a"] = redirect(302, location)
    r = await fetch(server.url("/a"))
    assert r.error_kind == "redirect" and r.error
    if message:
        assert r.error == message
    assert len(server.requests) == 1


async def test_redirect_without_location(server: LocalServer) -> None:
    server.routes["/a"] = static(302, b"")
    r = await fetch(server.url("/a"))
    assert r.error_kind == "redirect" and "without a Location" in (r.error or "")


# -- HTTP errors ---------------------------------------------------------------------------


async def test_410_gone(server: LocalServer) -> None:
    server.routes["/gone"] = static(410, b"bye")
    r = await fetch(server.url("/gone"))
    assert r.gone and r.status == 410 and r.error_kind == "gone"
    assert r.error == "HTTP 410 Gone: the feed was removed"


async def test_429_retry_after_seconds(server: LocalServer) -> None:
    server.routes["/slow"] = static(429, b"", {"Retry-After": "120"})
    r = await fetch(server.url("/slow"))
    assert r.retry_after == 120 and r.error_kind == "throttled" and r.status == 429
    assert (r.error or "").startswith("HTTP 429 Too Many Requests")


async def test_503_retry_after_http_date(server: LocalServer) -> None:
    when = datetime.now(UTC) + timedelta(hours=1)
    server.routes["/busy"] = static(503, b"", {"Retry-After": format_datetime(when, usegmt=True)})
    r = await fetch(server.url("/busy"))
    assert r.error_kind == "throttled"
    assert r.retry_after is not None and 3000 < r.retry_after <= 3600
    assert (r.error or "").startswith("HTTP 503 Service Unavailable")


@pytest.mark.parametrize(
    ("code", "message"), [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error")]
)
async def test_http_errors(server: LocalServer, code: int, message: str) -> None:
    server.routes["/x"] = static(code, b"error page")
    r = await fetch(server.url("/x"))
    assert r.error == message and r.error_kind == "http" and r.status == code
    assert r.body is None and not r.gone


async def test_cloudflare_challenge(server: LocalServer) -> None:
    server.routes["/cf"] = static(403, b"<html>Just a moment</html>", {"cf-mitigated": "challenge"})
    r = await fetch(server.url("/cf"))
    assert r.error == "Cloudflare challenge page (HTTP 403)" and r.status == 403
    server.routes["/plain403"] = static(403, b"")
    r = await fetch(server.url("/plain403"))
    assert r.error == "HTTP 403 Forbidden"


# -- network failures ----------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_connection_refused() -> None:
    port = closed_port()
    r = await fetch(f"http://127.0.0.1:{port}/feed")
    assert r.error == f"connection refused by 127.0.0.1:{port}"
    assert r.error_kind == "connect" and r.status is None


async def test_dns_failure_for_invalid_tld() -> None:
    # .invalid is short-circuited (RFC 6761), so no query leaves the machine.
    r = await fetch("http://nope.invalid/feed")
    assert r.error == "DNS lookup failed for nope.invalid" and r.error_kind == "dns"


def test_describe_exception_maps_gaierror_chain() -> None:
    # A real gaierror without a network lookup (numeric-host only), chained the way
    # httpcore and httpx chain it.
    with pytest.raises(socket.gaierror) as info:
        socket.getaddrinfo("feeds.example.org", 80, flags=socket.AI_NUMERICHOST)
    try:
        try:
            raise OSError("lookup") from info.value
        except OSError as inner:
            raise httpx.ConnectError("[Errno -2] Name or service not known") from inner
    except httpx.ConnectError as exc:
        outer = exc
    timeouts = {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 10.0}
    kind, msg = describe_exception(outer, httpx.URL("https://feeds.example.org/x"), timeouts)
    assert (kind, msg) == ("dns", "DNS lookup failed for feeds.example.org")
    kind, msg = describe_exception(httpx.PoolTimeout("x"), httpx.URL("http://a/"), timeouts)
    assert (kind, msg) == ("timeout", "timed out after 10 s (pool)")


async def test_tls_error_against_plain_http(server: LocalServer) -> None:
    server.routes["/feed"] = static(200, FEED)
    r = await fetch(f"https://127.0.0.1:{server.port}/feed")
    assert r.error_kind == "tls" and (r.error or "").startswith("TLS error: ")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/feed", "unsupported URL scheme: ftp"),
        ("example.org/feed", "invalid URL (no http:// or https://): example.org/feed"),
        ("http://[::1/feed", None),
    ],
)
async def test_bad_urls(url: str, message: str | None) -> None:
    r = await fetch(url)
    assert r.error_kind == "url" and r.status is None
    if message:
        assert r.error == message


async def test_read_timeout(server: LocalServer) -> None:
    def sleepy(h: Handler) -> None:
        time.sleep(1.5)
        h.reply(200, FEED)

    server.routes["/sleepy"] = sleepy
    r = await fetch(server.url("/sleepy"), read_timeout=0.3)
    assert r.error == "timed out after 0.3 s (read)" and r.error_kind == "timeout"


async def test_total_timeout_with_trickling_server(server: LocalServer) -> None:
    def trickle(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(1000):
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(0.05)

    server.routes["/trickle"] = trickle
    r = await fetch(server.url("/trickle"), read_timeout=5, total_timeout=0.5)
    assert r.error == "timed out after 0.5 s (total)" and r.error_kind == "timeout"
    assert r.elapsed >= 0.5


# -- TLS with a real certificate -----------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    srv = LocalServer()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.routes["/feed"] = static(200, FEED)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, cert
    srv.shutdown()
    srv.server_close()


async def test_tls_certificate_not_trusted(tls_server: tuple[LocalServer, Path]) -> None:
    srv, _ = tls_server
    r = await fetch(f"https://127.0.0.1:{srv.port}/feed")
    assert r.error_kind == "tls"
    assert (r.error or "").startswith("TLS error: certificate verify failed")


async def test_tls_with_custom_ca_file(tls_server: tuple[LocalServer, Path]) -> None:
    srv, cert = tls_server
    r = await fetch(f"https://127.0.0.1:{srv.port}/feed", verify=str(cert))
    assert r.error is None and r.body == FEED


# -- concurrency limits --------------------------------------------------------------------


def slow_ok(h: Handler) -> None:
    time.sleep(0.25)
    h.reply(200, FEED)


async def test_per_host_limit(server: LocalServer) -> None:
    server.routes["/s/*"] = slow_ok
    urls = [server.url(f"/s/{i}", host=h) for i in range(5) for h in ("127.0.0.1", "localhost")]
    async with Fetcher(concurrency=16, per_host=2) as f:
        results = await asyncio.gather(*(f.fetch(FetchRequest(u)) for u in urls))
    assert all(r.ok for r in results)
    assert server.max_active == {"127.0.0.1": 2, "localhost": 2}
    assert server.max_total > 2  # the two hosts ran side by side


async def test_global_limit(server: LocalServer) -> None:
    server.routes["/s/*"] = slow_ok
    urls = [server.url(f"/s/{i}", host=h) for i in range(4) for h in ("127.0.0.1", "localhost")]
    async with Fetcher(concurrency=3, per_host=8) as f:
        results = [r async for r in f.fetch_many(FetchRequest(u) for u in urls)]
    assert len(results) == 8 and all(r.ok for r in results)
    assert {r.url for r in results} == set(urls)
    assert server.max_total == 3


async def test_busy_host_does_not_hold_global_slots(server: LocalServer) -> None:
    # Four slow feeds on one host queue for its single slot; the other host's feed
    # must still get the second global slot rather than wait behind them.
    server.routes["/s/*"] = slow_ok
    urls = [server.url(f"/s/{i}") for i in range(4)] + [server.url("/s/b", host="localhost")]
    async with Fetcher(concurrency=2, per_host=1) as f:
        results = await asyncio.gather(*(f.fetch(FetchRequest(u)) for u in urls))
    assert all(r.ok for r in results)
    assert server.max_active == {"127.0.0.1": 1, "localhost": 1}
    assert server.max_total == 2


# -- contract ------------------------------------------------------------------------------


async def test_error_kinds_are_declared(server: LocalServer) -> None:
    server.routes["/x"] = static(418, b"")
    r = await fetch(server.url("/x"))
    assert r.error == "HTTP 418 I'm a Teapot"
    assert r.error_kind in ERROR_KINDS


async def test_fetch_outside_context_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        await Fetcher().fetch(FetchRequest("http://127.0.0.1/"))


async def test_not_modified_answers_keep_their_connection() -> None:
    """A warm refresh is mostly 304s: each must leave its connection in the pool (a 304
    closed unread used to cost one new connection per feed)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ports: set[int] = set()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            ports.add(self.client_address[1])
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.send_header("ETag", '"v1"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
            self.send_response(200)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/f.xml"
    try:
        async with Fetcher(per_host=1) as f:
            for _ in range(8):
                r = await f.fetch(FetchRequest(url=url, etag='"v1"'))
                assert r.not_modified
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert len(ports) == 1


async def test_requests_do_not_search_for_missing_modules(server: LocalServer) -> None:
    """httpcore imports sniffio on each request and lock: were it missing, every 304
    of a warm refresh would pay failed searches of sys.path (half its CPU)."""
    server.routes["/f"] = static(304, b"", {"ETag": '"v1"'})
    missing: list[str] = []

    class Recorder:
        """Last on sys.meta_path: only asked about modules no real finder has."""

        @staticmethod
        def find_spec(name: str, path: object = None, target: object = None) -> None:
            missing.append(name)

    async with Fetcher() as f:
        await f.fetch(FetchRequest(server.url("/f"), etag='"v1"'))  # lazy imports done
        sys.meta_path.append(Recorder)  # type: ignore[arg-type]
        try:
            for _ in range(5):
                assert (await f.fetch(FetchRequest(server.url("/f"), etag='"v1"'))).not_modified
        finally:
            sys.meta_path.remove(Recorder)  # type: ignore[arg-type]
    assert missing == []


async def test_plain_http_needs_no_tls_setup(
    tls_server: tuple[LocalServer, Path],
    server: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The TLS context (the CA bundle, ~50 ms) is built for the first https URL only:
    a broken CA setting fails the https feeds, as a TLS error, never the http ones."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    server.routes["/f"] = static(200, FEED)
    srv, _ = tls_server
    async with Fetcher() as f:
        plain = await f.fetch(FetchRequest(server.url("/f")))
        secure = await f.fetch(FetchRequest(f"https://127.0.0.1:{srv.port}/feed"))
    assert plain.error is None and plain.body == FEED
    assert secure.error_kind == "tls"
    assert (secure.error or "").startswith("TLS error: cannot load the CA certificates")


async def test_ssl_cert_file_is_trusted(
    tls_server: tuple[LocalServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, cert = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    r = await fetch(f"https://127.0.0.1:{srv.port}/feed")
    assert r.error is None and r.body == FEED


# -- what the HTTP client used to give: proxies, cookies, default headers -----------------


async def test_proxy_from_the_environment(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", server.url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.routes["http://feeds.example/f"] = static(200, FEED)  # absolute: a proxy request
    r = await fetch("http://feeds.example/f")
    assert r.error is None and r.body == FEED
    assert server.requests[0][0] == "http://feeds.example/f"


async def test_no_proxy_goes_direct(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nothing listens on: the proxy must not be used
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server.routes["/f"] = static(200, FEED)
    r = await fetch(server.url("/f"))
    assert r.error is None and r.body == FEED


async def test_cookies_are_kept_across_redirects(server: LocalServer) -> None:
    """A site that sets a cookie and redirects to the page that wants it."""
    server.routes["/gate"] = static(302, b"", {"Set-Cookie": "ok=1; Path=/", "Location": "/in"})
    server.routes["/in"] = lambda h: (
        h.reply(200, FEED) if "ok=1" in (h.headers.get("Cookie") or "") else h.reply(403)
    )
    r = await fetch(server.url("/gate"))
    assert r.error is None and r.body == FEED


async def test_default_headers(server: LocalServer) -> None:
    server.routes["/f"] = static(200, FEED)
    await fetch(server.url("/f"))
    sent = {k.lower(): v for k, v in server.requests[0][1].items()}
    assert sent["connection"] == "keep-alive" and sent["user-agent"] == USER_AGENT
    assert sent["accept"] == ACCEPT_FEEDS and sent["host"] == f"127.0.0.1:{server.port}"
