"""A polite concurrent HTTP fetcher for feeds (httpx + asyncio).

Polite: an honest User-Agent, conditional GET with stored validators, at most a few
connections per host, and server hints (Retry-After, max-age) handed back to the
scheduler. Robust: every network or HTTP problem becomes a ``FetchResult`` with one human
line in ``error``, never an exception, so one bad feed cannot stop a refresh.

A server that stops answering (a connect or read time-out) is given up on for the rest
of the Fetcher's life: the feeds queued for it fail at once with "not answering" rather
than each waiting out its own time-out.

Redirects are followed by hand because only a chain of permanent hops (301/308) from the
start may change the stored feed URL; httpx's own redirect handling hides that.

Requests go straight to httpx's transports, not through an ``AsyncClient``: the client's
per-request machinery (auth flow, redirect and cookie handling, event hooks) cost a
warm refresh, where every feed answers 304, a third of its time per request, and its
TLS context (~50 ms: the CA bundle) was built even when every feed is plain http.
What the client gave is kept here: the proxies of the environment, one cookie jar for
the fetcher's life, the default headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http
import logging
import os
import socket
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

import httpx

from veille import USER_AGENT
from veille.domain.errors import VeilleError
from veille.domain.text import clean_line
from veille.net.httputil import clean_message, parse_max_age, parse_retry_after
from veille.util.dates import parse_http_date
from veille.util.urls import UrlError, http_url

try:  # httpx decodes `br` only when a brotli package is importable
    import brotli  # noqa: F401

    ACCEPT_ENCODING = "gzip, deflate, br"
except ImportError:  # pragma: no cover - brotli is a declared dependency
    ACCEPT_ENCODING = "gzip, deflate"

log = logging.getLogger(__name__)

ACCEPT_FEEDS = (
    "application/atom+xml, application/rss+xml, application/rdf+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)
ACCEPT_PAGES = "text/html, application/xhtml+xml;q=0.9, application/xml;q=0.8, */*;q=0.5"

MAX_REDIRECTS = 10
DRAIN_LIMIT = 64 * 1024  # bytes of an unwanted body read to keep the connection
DRAIN_SECONDS = 0.5
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
PERMANENT_CODES = frozenset({301, 308})

#: Every value ``FetchResult.error_kind`` can take.
ERROR_KINDS = (
    "dns",  # name did not resolve
    "connect",  # refused, unreachable, reset, lost mid-body
    "tls",  # handshake or certificate problem
    "timeout",  # connect/read/write/pool or the total budget
    "http",  # 4xx/5xx (and odd 1xx/3xx) other than the ones below
    "too_large",  # body over the cap (after decompression)
    "redirect",  # loop, too many hops, missing or bad Location
    "empty",  # 2xx with no body
    "gone",  # 410
    "throttled",  # 429/503
    "protocol",  # malformed HTTP, undecodable content-encoding
    "url",  # invalid URL or unsupported scheme
    "other",  # anything unexpected (a bug): still reported, never raised
)


@dataclass
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # sha256 hex of the last body we parsed


@dataclass
class FetchResult:
    url: str  # as requested
    final_url: str  # after redirects
    permanent_url: str | None  # set only when every hop from the start was 301/308
    status: int | None
    not_modified: bool = False  # 304
    unchanged: bool = False  # 200 but body identical to body_hash: skip parsing
    body: bytes | None = None  # None when not_modified/unchanged/error
    body_hash: str | None = None
    etag: str | None = None  # validators to store
    last_modified: str | None = None
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case, final response
    retry_after: float | None = None  # seconds
    max_age: float | None = None  # seconds
    gone: bool = False  # 410
    error: str | None = None  # one human line
    error_kind: str | None = None  # one of ERROR_KINDS
    elapsed: float = 0.0  # seconds spent in requests (not queued for a slot)

    @property
    def ok(self) -> bool:
        """True when the fetch worked (new body, unchanged or not modified)."""
        return self.error is None


class _Failure(VeilleError):
    """Internal: a classified failure that ends a fetch (its message is for the user)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class _Hop:
    """The final response of a fetch: status, headers and (for 2xx) the body."""

    url: httpx.URL
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes | None = None


def _fmt_seconds(value: float) -> str:
    return f"{value:g}"


def _fmt_size(n: int) -> str:
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n // 2**20} MiB"
    if n >= 2**10 and n % 2**10 == 0:
        return f"{n // 2**10} KiB"
    return f"{n} bytes"


def _reason(status: int, server_reason: str = "") -> str:
    """The standard reason phrase (the server's own text is untrusted and often empty)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return clean_line(server_reason, limit=60)


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """The exception, its causes/contexts and exception-group members, each once."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        if isinstance(cur, BaseExceptionGroup):
            stack.extend(cur.exceptions)
        for nxt in (cur.__cause__, cur.__context__):
            if nxt is not None:
                stack.append(nxt)


def _host_port(url: httpx.URL) -> tuple[str, int]:
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        host = url.host  # decodes xn-- labels, which can fail
    except (UnicodeError, ValueError):
        host = url.raw_host.decode("ascii", "replace")
    return host, port


def host_key(url: httpx.URL) -> str:
    """The server a request goes to, as shown to the user: ``host``, or ``host:port``
    when the port is not the scheme's default.

    Politeness limits and "not answering" are per server, and two ports on one host are
    two servers (browsers pool connections by host and port too).
    """
    host, port = _host_port(url)
    shown = f"[{host}]" if ":" in host else host
    default = 443 if url.scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"


def _leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (nested) exception groups (anyio wraps in them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _tls_message(err: ssl.SSLError) -> str:
    if isinstance(err, ssl.SSLCertVerificationError):
        detail = err.verify_message or "certificate verify failed"
        if "certificate verify failed" not in detail:
            detail = f"certificate verify failed ({detail})"
        return f"TLS error: {detail}"
    reason = getattr(err, "reason", None)
    if reason:
        return f"TLS error: {str(reason).replace('_', ' ').lower()}"
    return f"TLS error: {err}"


def describe_exception(
    exc: BaseException, url: httpx.URL, timeouts: dict[str, float]
) -> tuple[str, str]:
    """Map an exception raised while fetching ``url`` to (error_kind, one human line).

    ``timeouts`` gives the configured seconds per phase ("connect", "read", "write",
    "pool") so the message can say what expired.
    """
    host, port = _host_port(url)
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "pool",
        }.get(type(exc), "read")
        return "timeout", f"timed out after {_fmt_seconds(timeouts[phase])} s ({phase})"
    chain = list(_causes(exc))
    for err in chain:
        if isinstance(err, socket.gaierror):
            return "dns", f"DNS lookup failed for {host}"
    for err in chain:
        if isinstance(err, ssl.SSLError):
            return "tls", _tls_message(err)
    for err in chain:
        if isinstance(err, ConnectionRefusedError):
            return "connect", f"connection refused by {host}:{port}"
    if isinstance(exc, httpx.ConnectError):
        for err in chain:
            if isinstance(err, OSError) and err.strerror:
                return "connect", f"could not connect to {host}:{port}: {err.strerror}"
        return "connect", f"could not connect to {host}:{port}: {exc}"
    if isinstance(exc, httpx.RemoteProtocolError):
        if "buffer too long" in str(exc):  # h11's cap on the response head (100 KiB)
            return "protocol", f"response headers from {host} are too large"
        return "protocol", f"protocol error from {host}: {exc}"
    if isinstance(exc, httpx.DecodingError):
        return "protocol", f"could not decode the response body: {exc}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "connect", f"connection to {host}:{port} lost: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.ProtocolError):
        return "protocol", f"protocol error from {host}: {exc}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "url", f"unsupported URL scheme: {url.scheme or '(none)'}"
    if isinstance(exc, httpx.InvalidURL):
        return "url", f"invalid URL: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return "connect", f"{type(exc).__name__}: {exc}"
    for err in chain:
        if isinstance(err, UnicodeError):  # IDNA: a host name that cannot be encoded
            return "url", f"invalid host name: {err}"
    leaf = _leaf(exc)
    return "other", f"unexpected error: {type(leaf).__name__}: {leaf}"


def _newer_last_modified(old: str | None, new: str | None) -> str | None:
    """The later of two Last-Modified values; unparseable ones lose to parseable ones."""
    if not new:
        return old
    if not old:
        return new
    old_d, new_d = parse_http_date(old), parse_http_date(new)
    if new_d is None:
        return old
    if old_d is None or new_d > old_d:
        return new
    return old


def _validators_ignored(headers: httpx.Headers) -> bool:
    """``Expires: 0`` means "never reuse": such servers' validators are not to be trusted."""
    return str(headers.get("expires", "")).strip() == "0"


def _is_invalid_tld(host: str) -> bool:
    """RFC 6761: names under .invalid never resolve, so don't send them to a resolver."""
    host = host.rstrip(".").lower()
    return host == "invalid" or host.endswith(".invalid")


def environment_proxies() -> dict[str, str]:
    """The proxies the environment names (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``,
    as httpx's client reads them): scheme ("http", "https", "all") -> proxy URL."""
    found = {}
    for scheme, value in urllib.request.getproxies().items():
        if scheme in ("http", "https", "all") and value:
            found[scheme] = value if "://" in value else f"http://{value}"
    return found


@dataclass
class _HostState:
    """Per server: its connection slots, and why it counts as not answering (if it does).

    ``dead`` is set by the first connect/read time-out on the server (or a total
    time-out before it sent its response head): every request still queued for it, and
    every later one in this Fetcher's life, then fails at once instead of waiting its
    turn to time out too.  One refresh is one Fetcher, so the next refresh tries again.
    """

    slots: asyncio.Semaphore
    dead: str | None = None


@dataclass
class _Progress:
    """How far one request got, readable after it was cancelled by a time-out."""

    head: bool = False  # the response's status line and headers arrived


class Fetcher:
    """Fetch many feeds at once without hammering any one host.

    Use as ``async with Fetcher() as f: result = await f.fetch(FetchRequest(url))``.

    Time: ``total_timeout`` bounds each fetch from the moment it asks for a connection to
    its server, redirects and the wait for that server's slots included, so feeds queued
    behind a wedged server cannot make a refresh last. The wait for one of the global
    ``concurrency`` slots is not counted: that queue is our own throughput limit, and
    counting it would fail healthy feeds merely for being many.
    """

    def __init__(
        self,
        *,
        concurrency: int = 16,
        per_host: int = 2,
        connect_timeout: float = 10,
        read_timeout: float = 30,
        total_timeout: float = 60,
        max_body: int = 10 * 2**20,
        user_agent: str = USER_AGENT,
        verify: bool | str = True,
    ) -> None:
        self.concurrency = max(1, concurrency)
        self.per_host = max(1, per_host)
        self.total_timeout = total_timeout
        self.max_body = max_body
        self.user_agent = user_agent
        self._timeouts = {
            "connect": connect_timeout,
            "read": read_timeout,
            "write": read_timeout,
            # The semaphores already bound concurrency to the pool size, so a pool wait
            # only happens when something is wrong; give it the connect budget.
            "pool": connect_timeout,
        }
        self._verify = verify
        self._global = asyncio.Semaphore(self.concurrency)
        self._hosts: dict[str, _HostState] = {}
        self._request_timeouts = httpx.Timeout(**self._timeouts).as_dict()
        # The client's default headers, then ours; the request's own go last.
        self._headers = {
            "Accept": "*/*",
            "Accept-Encoding": ACCEPT_ENCODING,
            "Connection": "keep-alive",
            "User-Agent": self.user_agent,
        }
        self._open = False
        self._proxies: dict[str, str] = {}
        self._transports: dict[tuple[str, str], httpx.AsyncHTTPTransport] = {}
        self._cookies = httpx.Cookies()

    async def __aenter__(self) -> Fetcher:
        self._open = True
        self._proxies = environment_proxies()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            await transport.aclose()

    # -- public API ---------------------------------------------------------------------

    async def fetch(self, req: FetchRequest) -> FetchResult:
        """Conditional GET of a feed. Never raises for network or HTTP problems."""
        headers = {"Accept": ACCEPT_FEEDS}
        if req.etag:
            headers["If-None-Match"] = req.etag
        if req.last_modified:
            headers["If-Modified-Since"] = req.last_modified
        result = await self._run(req.url, headers, req.body_hash)
        if result.not_modified:
            # The stored validators still hold; a 304 may carry fresher ones.
            result.etag = result.headers.get("etag") or req.etag
            result.last_modified = _newer_last_modified(
                req.last_modified, result.headers.get("last-modified")
            )
        elif result.error is not None:
            # Keep what we had: a transient failure must not cost us conditional GET.
            result.etag, result.last_modified = req.etag, req.last_modified
        return result

    async def get_page(self, url: str, *, accept: str | None = None) -> FetchResult:
        """Plain GET (no validators) for discovery: same caps, limits and error handling."""
        return await self._run(url, {"Accept": accept or ACCEPT_PAGES}, None)

    async def fetch_many(self, reqs: Iterable[FetchRequest]) -> AsyncIterator[FetchResult]:
        """Fetch all, yielding each result as it completes (for progress display)."""
        tasks = [asyncio.ensure_future(self.fetch(r)) for r in reqs]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for t in tasks:
                t.cancel()

    # -- internals ----------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        """The context that checks servers' certificates: the system's or certifi's CAs,
        or the CA file or folder given as ``verify`` (``SSL_CERT_FILE`` and
        ``SSL_CERT_DIR`` count, as in httpx)."""
        if isinstance(self._verify, str):
            if os.path.isdir(self._verify):
                return ssl.create_default_context(capath=self._verify)
            return ssl.create_default_context(cafile=self._verify)
        return httpx.create_ssl_context(verify=self._verify)

    def _transport(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        """The transport for ``url``: one per scheme and proxy, each made on first need,
        so a refresh of plain-http feeds never builds a TLS context (~50 ms)."""
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all") or ""
        if proxy and urllib.request.proxy_bypass(_host_port(url)[0]):  # NO_PROXY
            proxy = ""
        key = (url.scheme, proxy)
        transport = self._transports.get(key)
        if transport is None:
            tls = url.scheme == "https" or proxy.startswith("https:")
            try:
                verify: ssl.SSLContext | bool = self._tls_context() if tls else False
            except (OSError, ssl.SSLError) as exc:  # a CA file missing or unreadable
                raise _Failure(
                    "tls", f"TLS error: cannot load the CA certificates: {exc}"
                ) from None
            transport = self._transports[key] = httpx.AsyncHTTPTransport(
                verify=verify,
                limits=httpx.Limits(
                    max_connections=self.concurrency,
                    max_keepalive_connections=self.concurrency,
                ),
                proxy=proxy or None,
            )
        return transport

    def _host_state(self, key: str) -> _HostState:
        state = self._hosts.get(key)
        if state is None:
            state = self._hosts[key] = _HostState(asyncio.Semaphore(self.per_host))
        return state

    def _fail_if_dead(self, key: str, state: _HostState) -> None:
        if state.dead is not None:
            raise _Failure(
                "timeout", f"not tried: {key} is not answering (another feed on it {state.dead})"
            )

    async def _run(self, url: str, headers: dict[str, str], body_hash: str | None) -> FetchResult:
        if not self._open:
            raise RuntimeError("Fetcher must be used as 'async with Fetcher() as f'")
        result = FetchResult(url=url, final_url=url, permanent_url=None, status=None)
        try:
            hop = await self._follow(result, headers)
            self._classify(result, hop, body_hash)
        except _Failure as fail:
            result.error, result.error_kind = clean_message(fail.message), fail.kind
        except Exception as exc:  # the contract: never raise
            kind, msg = describe_exception(exc, httpx.URL(), self._timeouts)
            result.error, result.error_kind = clean_message(msg), kind
            if kind == "other":  # not the network's doing: maybe ours, so the traceback
                log.exception("fetching %s failed unexpectedly", url)
            else:
                log.debug("fetching %s: %s", url, msg, exc_info=True)
        if result.error is not None:
            result.body = None
        return result

    def _check_target(self, url: httpx.URL, *, redirected: bool) -> None:
        kind = "redirect" if redirected else "url"
        prefix = "redirect to " if redirected else ""
        if not url.scheme:
            raise _Failure(kind, f"{prefix}invalid URL (no http:// or https://): {url}")
        if url.scheme not in ("http", "https"):
            raise _Failure(kind, f"{prefix}unsupported URL scheme: {url.scheme}")
        if not url.raw_host:
            raise _Failure(kind, f"{prefix}invalid URL (no host): {url}")
        try:  # port range, host name (IDNA): the one URL check veille has
            http_url(str(url))
        except UrlError as exc:
            raise _Failure(kind, f"{prefix}invalid URL: {exc.reason}") from None
        if _is_invalid_tld(url.host):
            raise _Failure("dns", f"DNS lookup failed for {url.host}")

    async def _follow(self, result: FetchResult, headers: dict[str, str]) -> _Hop:
        """Follow redirects by hand, recording the final URL and whether all were permanent."""
        try:
            current = httpx.URL(result.url.strip())
        except httpx.InvalidURL as exc:
            raise _Failure("url", f"invalid URL: {exc}") from None
        self._check_target(current, redirected=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total_timeout
        total = _fmt_seconds(self.total_timeout)
        seen = {str(current)}
        all_permanent = True
        redirects = 0
        while True:
            key = host_key(current)
            state = self._host_state(key)
            self._fail_if_dead(key, state)
            # Host slot first, then a global one: a fetch queued behind a busy host must
            # not sit on a global slot that another host's feed could use.
            try:
                async with asyncio.timeout_at(deadline):
                    await state.slots.acquire()
            except TimeoutError:
                raise _Failure(
                    "timeout",
                    f"timed out after {total} s (total) waiting for {key}, busy with other feeds",
                ) from None
            try:
                self._fail_if_dead(key, state)  # it may have died while we queued
                queued = loop.time()
                async with self._global:
                    deadline += loop.time() - queued  # our own throughput limit: not counted
                    hop = await self._attempt(current, headers, result, state, deadline)
            finally:
                state.slots.release()
            result.final_url = str(hop.url)
            if hop.status not in REDIRECT_CODES:
                if all_permanent and redirects and 200 <= hop.status < 400:
                    result.permanent_url = str(hop.url)
                return hop
            location = hop.headers.get("location", "").strip()
            if not location:
                raise _Failure(
                    "redirect",
                    f"HTTP {hop.status} {_reason(hop.status)} without a Location header",
                )
            try:
                target = current.join(location).copy_with(fragment=None)
            except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
                raise _Failure("redirect", f"redirect to an invalid URL: {exc}") from None
            self._check_target(target, redirected=True)
            redirects += 1
            if str(target) in seen:
                raise _Failure("redirect", "redirect loop")
            if redirects > MAX_REDIRECTS:
                raise _Failure("redirect", f"too many redirects (>{MAX_REDIRECTS})")
            seen.add(str(target))
            all_permanent = all_permanent and hop.status in PERMANENT_CODES
            current = target
            result.final_url = str(current)

    async def _attempt(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        result: FetchResult,
        state: _HostState,
        deadline: float,
    ) -> _Hop:
        """One request within the fetch's budget; time-outs that show the server is not
        answering mark it so (see :class:`_HostState`)."""
        total = _fmt_seconds(self.total_timeout)
        progress = _Progress()
        began = time.monotonic()
        try:
            async with asyncio.timeout_at(deadline) as budget:
                return await self._one(url, headers, progress)
        except TimeoutError:
            if budget.expired():
                message = f"timed out after {total} s (total)"
                if not progress.head and state.dead is None:
                    state.dead = message
                raise _Failure("timeout", message) from None
            raise
        except (httpx.HTTPError, OSError, httpx.InvalidURL) as exc:
            kind, msg = describe_exception(exc, url, self._timeouts)
            if isinstance(exc, httpx.ConnectTimeout | httpx.ReadTimeout) and state.dead is None:
                state.dead = msg
            raise _Failure(kind, msg) from None
        finally:
            result.elapsed += time.monotonic() - began

    async def _one(self, url: httpx.URL, headers: dict[str, str], progress: _Progress) -> _Hop:
        """One request; reads the body (capped, decompressed) only for 2xx."""
        transport = self._transport(url)
        # UTF-8, not httpx's ASCII: a validator is sent back as the server gave it, and
        # servers do send non-ASCII ETags (RFC 9110 allows obs-text); ASCII would make
        # every later conditional GET of that feed fail.
        request = httpx.Request(
            "GET",
            url,
            headers=httpx.Headers({**self._headers, **headers}, encoding="utf-8"),
            extensions={"timeout": self._request_timeouts},
        )
        if self._cookies:
            self._cookies.set_cookie_header(request)
        response = await transport.handle_async_request(request)
        response.request = request
        progress.head = True
        try:
            if "set-cookie" in response.headers:
                self._cookies.extract_cookies(response)
            hop = _Hop(url, response.status_code, response.reason_phrase, response.headers)
            if 200 <= response.status_code < 300:
                hop.body = await self._read_capped(response)
            else:
                await self._drain(response)
            return hop
        finally:
            with contextlib.suppress(Exception):
                await response.aclose()

    @staticmethod
    async def _drain(response: httpx.Response) -> None:
        """Read a small unwanted body (a 304's is empty, an error page short) so the
        connection goes back to the pool: closed unread, it is thrown away, and a warm
        refresh would open one connection per feed."""
        left = DRAIN_LIMIT
        # Never long: a server trickling its error page must not turn "HTTP 500"
        # into a time-out.
        with contextlib.suppress(httpx.HTTPError, TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                async for chunk in response.aiter_raw():
                    left -= len(chunk)
                    if left < 0:
                        break

    async def _read_capped(self, response: httpx.Response) -> bytes:
        too_large = _Failure("too_large", f"body larger than {_fmt_size(self.max_body)}")
        declared = response.headers.get("content-length", "")
        encoded = response.headers.get("content-encoding", "identity").lower()
        if encoded in ("", "identity") and declared.isdigit() and int(declared) > self.max_body:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > self.max_body:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def _classify(self, result: FetchResult, hop: _Hop, body_hash: str | None) -> None:
        """Turn the final response into the result's flags, hints and error line."""
        status = hop.status
        result.status = status
        result.headers = {k.lower(): v for k, v in hop.headers.items()}
        result.content_type = hop.headers.get("content-type", "")
        now = datetime.now(UTC)
        result.retry_after = parse_retry_after(hop.headers.get("retry-after"), now)
        reason = _reason(status, hop.reason)

        if status == 304:
            result.not_modified = True
            result.max_age = parse_max_age(hop.headers.get("cache-control"))
            return
        if 200 <= status < 300:
            body = hop.body or b""
            result.max_age = parse_max_age(hop.headers.get("cache-control"))
            if not _validators_ignored(hop.headers):
                result.etag = hop.headers.get("etag") or None
                result.last_modified = hop.headers.get("last-modified") or None
            if not body.strip():
                raise _Failure("empty", "empty response")
            digest = hashlib.sha256(body).hexdigest()
            result.body_hash = digest
            if body_hash is not None and digest == body_hash:
                result.unchanged = True
            else:
                result.body = body
            return
        if status == 410:
            result.gone = True
            raise _Failure("gone", "HTTP 410 Gone: the feed was removed")
        if hop.headers.get("cf-mitigated", "").strip().lower() == "challenge":
            raise _Failure("http", f"Cloudflare challenge page (HTTP {status})")
        if status in (429, 503):
            msg = f"HTTP {status} {reason}"
            if result.retry_after is not None:
                msg += f" (retry after {_fmt_seconds(round(result.retry_after))} s)"
            raise _Failure("throttled", msg)
        raise _Failure("http", f"HTTP {status} {reason}".rstrip())
