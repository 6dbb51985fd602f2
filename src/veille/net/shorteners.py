"""Short links (t.co, bit.ly, buff.ly...) resolved to the article they point at,
once, so that a post's ``bit.ly/x`` and a feed's full URL become one item.

A short link is asked about with a ``HEAD`` (a ``GET`` whose body is never read
when the shortener refuses ``HEAD``), and only its ``Location`` is used: hops are
followed while they stay on known shorteners, so the article's own server is
never contacted and no body is downloaded (the size cap is zero bytes).  Targets
that are not http(s) are never followed.  Answers are kept in a small JSON file
in the cache folder the caller names, written atomically, so a link is resolved
once per machine, not once per poll.

The politeness rules are the feed fetcher's: its User-Agent and per-host limit
when one is given (``Fetcher.per_host``, ``Fetcher.user_agent``), short timeouts,
at most ``MAX_HOPS`` redirects.  The Fetcher itself is not used for the request:
it only knows ``GET`` and reads bodies, which a redirect lookup needs neither of.
``resolve`` never raises: on any failure the short link is kept as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import httpx

from veille import USER_AGENT
from veille.net.httputil import shared_ssl_context
from veille.util.atomicfile import write_atomic
from veille.util.dates import iso, now
from veille.util.urls import is_safe_link

if TYPE_CHECKING:
    from veille.net.fetcher import Fetcher

__all__ = ["CACHE_FILE", "KNOWN_SHORTENERS", "MAX_HOPS", "ShortLinks", "is_shortened"]

log = logging.getLogger(__name__)

#: Hosts whose links are only redirects to somewhere else.
KNOWN_SHORTENERS = frozenset(
    {
        "t.co",
        "bit.ly",
        "bitly.com",
        "j.mp",
        "buff.ly",
        "ow.ly",
        "tinyurl.com",
        "lnkd.in",
        "dlvr.it",
        "goo.gl",
        "is.gd",
        "v.gd",
        "t.ly",
        "rebrand.ly",
        "shorturl.at",
        "cutt.ly",
        "tiny.cc",
        "trib.al",
        "fb.me",
        "ift.tt",
        "wp.me",
        "amzn.to",
        "rb.gy",
        "s.id",
        "bl.ink",
        "snip.ly",
        "flip.it",
        "apple.co",
        "spoti.fi",
        "nyti.ms",
        "wapo.st",
        "reut.rs",
        "bbc.in",
        "econ.st",
        "on.ft.com",
        "n.pr",
        "ti.me",
        "cnn.it",
        "bloom.bg",
        "hubs.ly",
        "mailchi.mp",
        "lat.ms",
        "shar.es",
        "po.st",
        "qr.ae",
        "zpr.io",
        "sco.lt",
    }
)

CACHE_FILE = "shortlinks.json"
MAX_HOPS = 5
MAX_ENTRIES = 50_000  # the oldest answers go first beyond this
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# A shortener that answers HEAD with one of these may still redirect a GET.
_TRY_GET = frozenset({400, 403, 404, 405, 501})


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return ""


def is_shortened(url: str, extra_hosts: Iterable[str] = ()) -> bool:
    """Whether ``url`` is on a known shortener (``extra_hosts``: host or host:port)."""
    if not is_safe_link(url):
        return False
    host = _host(url)
    bare = host.removeprefix("www.")
    return bare in KNOWN_SHORTENERS or host in extra_hosts or bare in extra_hosts


@dataclass
class _Answer:
    url: str
    at: str


class ShortLinks:
    """Resolve short links with an on-disk cache; use as ``async with``.

    ``cache_dir`` None keeps answers in memory only.  ``fetcher`` lends its
    politeness settings; ``client`` is an httpx client to reuse (tests, or a
    caller that already has one).  ``extra_hosts`` adds shortener hosts.
    """

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        fetcher: Fetcher | None = None,
        client: httpx.AsyncClient | None = None,
        extra_hosts: Iterable[str] = (),
        max_hops: int = MAX_HOPS,
    ) -> None:
        self.file = Path(cache_dir) / CACHE_FILE if cache_dir is not None else None
        self.extra_hosts = frozenset(h.lower() for h in extra_hosts)
        self.max_hops = max_hops
        self._per_host = max(1, getattr(fetcher, "per_host", 2) or 2)
        self._user_agent = getattr(fetcher, "user_agent", None) or USER_AGENT
        self._client = client
        self._own_client = client is None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._answers: dict[str, _Answer] | None = None
        self._failed: set[str] = set()
        self._inflight: dict[str, asyncio.Future[str]] = {}
        self._dirty = False
        self.requests = 0  # HTTP requests made (for tests and the benchmark)

    async def __aenter__(self) -> ShortLinks:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Save what was learnt and close our own HTTP client."""
        self.save()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- the cache ---------------------------------------------------------

    def _load(self) -> dict[str, _Answer]:
        if self._answers is not None:
            return self._answers
        answers: dict[str, _Answer] = {}
        if self.file is not None:
            try:
                data = json.loads(self.file.read_bytes())
            except FileNotFoundError:
                data = {}
            except (OSError, ValueError):
                log.warning("ignoring an unreadable short-link cache: %s", self.file)
                data = {}
            links = data.get("links") if isinstance(data, dict) else None
            if isinstance(links, dict):
                for short, value in links.items():
                    if (
                        isinstance(short, str)
                        and isinstance(value, list)
                        and len(value) == 2
                        and all(isinstance(v, str) for v in value)
                        and is_safe_link(value[0])
                    ):
                        answers[short] = _Answer(value[0], value[1])
        self._answers = answers
        return answers

    def save(self) -> None:
        """Write the cache file if something new was learnt (atomically)."""
        if not self._dirty or self.file is None or self._answers is None:
            return
        answers = self._answers
        if len(answers) > MAX_ENTRIES:
            keep = sorted(answers.items(), key=lambda kv: kv[1].at)[-MAX_ENTRIES:]
            answers = self._answers = dict(keep)
        data = {"version": 1, "links": {k: [a.url, a.at] for k, a in answers.items()}}
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.file, json.dumps(data, separators=(",", ":")).encode())
        except OSError:
            log.exception("could not write the short-link cache %s", self.file)
            return
        self._dirty = False

    def cached(self, url: str) -> str | None:
        """The known target of ``url``, without asking the network."""
        answer = self._load().get(url)
        return answer.url if answer else None

    # --- resolving ---------------------------------------------------------

    def is_short(self, url: str) -> bool:
        return is_shortened(url, self.extra_hosts)

    async def resolve(self, url: str) -> str:
        """The article behind ``url`` if it is a short link; else ``url`` itself."""
        if not self.is_short(url):
            return url
        known = self.cached(url)
        if known is not None:
            return known
        if url in self._failed:
            return url
        pending = self._inflight.get(url)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._inflight[url] = future
        try:
            target = await self._follow(url)
        except Exception:  # the contract: never raise; the link stays as posted
            log.exception("resolving the short link %s failed", url)
            target = None
        finally:
            self._inflight.pop(url, None)
        if target is None or target == url:
            self._failed.add(url)
            future.set_result(url)
            return url
        self._load()[url] = _Answer(target, iso(now()) or "")
        self._dirty = True
        future.set_result(target)
        return target

    async def resolve_many(self, urls: Iterable[str]) -> dict[str, str]:
        """Resolve several at once (bounded per host); maps each to its target."""
        unique = list(dict.fromkeys(u for u in urls if self.is_short(u)))
        targets = await asyncio.gather(*(self.resolve(u) for u in unique))
        return dict(zip(unique, targets, strict=True))

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=TIMEOUT,
                follow_redirects=False,
                headers={"User-Agent": self._user_agent},
                verify=shared_ssl_context(),
            )
        return self._client

    def _semaphore(self, host: str) -> asyncio.Semaphore:
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self._per_host)
        return sem

    async def _location(self, url: str) -> str | None:
        """The redirect target of one hop: HEAD, else GET without reading the body."""
        client = self._http()
        async with self._semaphore(_host(url)):
            for method in ("HEAD", "GET"):
                self.requests += 1
                try:
                    request = client.build_request(
                        method, url, headers={"User-Agent": self._user_agent}
                    )
                    response = await client.send(request, stream=True, follow_redirects=False)
                except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
                    log.info("short link %s: %s", url, type(exc).__name__)
                    return None
                try:
                    status = response.status_code
                    location = str(response.headers.get("location", "")).strip()
                finally:
                    with contextlib.suppress(Exception):
                        await response.aclose()
                if status in _REDIRECTS and location:
                    return urljoin(url, location)
                if method == "HEAD" and status in _TRY_GET:
                    continue
                return None
        return None

    async def _follow(self, url: str) -> str | None:
        current = url
        for _ in range(self.max_hops):
            target = await self._location(current)
            if target is None:
                return None if current == url else current
            if not is_safe_link(target):
                log.info("short link %s points at a non-http target; kept as is", url)
                return None
            current = target
            if not self.is_short(current):
                return current
            known = self.cached(current)
            if known is not None:
                return known
        return None  # still on a shortener after MAX_HOPS: keep the link as posted
