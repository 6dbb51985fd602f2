"""Hostile and dead servers against one real ``veille refresh`` (issue 8, part 1)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.faults import Row, scenario
from tests.faults import servers as s
from tests.faults.home import Home, clean_one_line
from veille.config import Config

DEFAULT_TOTAL_TIMEOUT = 60  # config.py's default for fetch.total_timeout
DEFAULT_READ_TIMEOUT = 30
MARGIN = 20  # process start, parser pool, store writes on a loaded 2-core machine


@dataclass
class Case:
    name: str
    server: s.RawServer | None  # None: the URL needs no server (refused, DNS)
    path: str = "/feed"
    scheme: str = "http"
    expect: str = ""  # a substring the recorded error must hold
    url: str = ""

    def feed_url(self) -> str:
        if self.url:
            return self.url
        assert self.server is not None
        return self.server.url(self.path, self.scheme)


def _hostile_cases() -> list[Case]:
    cases = [
        Case("body trickled at 1 byte/s", s.RawServer(s.trickle_body), expect="timed out"),
        Case("headers trickled at 1 byte/s", s.RawServer(s.trickle_headers), expect="timed out"),
        Case("accepts, never answers", s.RawServer(s.silent), expect="timed out"),
        Case("listens, never accepts", s.RawServer(s.silent, accept=False), expect="timed out"),
        Case(
            "connection refused",
            None,
            url=f"http://127.0.0.1:{s.closed_port()}/feed",
            expect="connection refused",
        ),
        Case("unresolvable host", None, url="http://feeds.invalid/feed", expect="DNS lookup"),
        Case("redirect loop", s.RawServer(s.redirect_loop), expect="redirect loop"),
        Case(
            "11 permanent redirects",
            s.RawServer(s.permanent_hops),
            path="/hop/0",
            expect="too many redirects",
        ),
        Case(
            "redirect to file:",
            s.RawServer(s.redirect_to("file:///etc/passwd")),
            expect="unsupported URL scheme: file",
        ),
        Case(
            "redirect to javascript:",
            s.RawServer(s.redirect_to("javascript:alert(1)")),
            expect="unsupported URL scheme: javascript",
        ),
        Case(
            "redirect to ftp:",
            s.RawServer(s.redirect_to("ftp://example.org/feed")),
            expect="unsupported URL scheme: ftp",
        ),
        Case(
            "escape sequences in a redirect target",
            s.RawServer(s.escape_in_location),
            expect="invalid URL",
        ),
        Case(
            "escape sequences in the status line",
            s.RawServer(s.escape_in_status),
            expect="HTTP 500",
        ),
        Case("text/html with 200", s.RawServer(s.html_page), expect="HTML"),
        Case("a 2 MB header", s.RawServer(s.huge_header), expect="too large"),
        Case("100,000 headers", s.RawServer(s.many_headers), expect="too large"),
        Case("not an HTTP answer", s.RawServer(s.not_http), expect="protocol error"),
        Case("a 64 MiB body", s.RawServer(s.big_body), expect="body larger than 10 MiB"),
        Case("an endless chunked body", s.RawServer(s.endless_body), expect="body larger than"),
        Case("a gzip bomb (1 GiB of zeros)", s.RawServer(s.gzip_bomb), expect="body larger than"),
    ]
    tls = s.self_signed_context()
    if tls is not None:
        cases.append(
            Case(
                "self-signed HTTPS",
                s.RawServer(s.healthy, tls=tls),
                scheme="https",
                expect="certificate verify failed",
            )
        )
    return cases


@scenario(ci=True)
def hostile_servers() -> list[Row]:
    """One `veille refresh` (default settings) over every hostile server and a healthy feed."""
    cases = _hostile_cases()
    healthy = s.RawServer(s.healthy)
    servers = [c.server for c in cases if c.server is not None]
    rows: list[Row] = []
    with Home() as home, s.running(healthy, *servers):
        urls = [c.feed_url() for c in cases]
        home.import_urls([healthy.url(), *urls])
        ran = home.veille("refresh", timeout=DEFAULT_TOTAL_TIMEOUT * 5)
        feeds = home.feeds()
        items = home.items()
    bound = DEFAULT_TOTAL_TIMEOUT + MARGIN
    rows.append(
        Row(
            "refresh over hostile servers ends in time",
            f"took {ran.seconds:.1f} s (bound: total_timeout {DEFAULT_TOTAL_TIMEOUT} s + {MARGIN})",
            ran.seconds <= bound,
        )
    )
    rows.append(
        Row(
            "refresh exit status and output",
            f"exit {ran.code}; stdout {ran.lines!r}; stderr {ran.err.strip()[:200]!r}",
            ran.code == 0 and len(ran.lines) == 1 and not ran.err.strip(),
        )
    )
    good = feeds.get(healthy.url(), {})
    stored = [i["title"] for i in items]
    rows.append(
        Row(
            "healthy feed beside them",
            f"{good.get('status')}: {good.get('message')}; items {stored}",
            good.get("status") == "ok" and stored == [s.FEED_ITEM_TITLE],
        )
    )
    for c, url in zip(cases, urls, strict=True):
        feed = feeds.get(url, {})
        message = str(feed.get("message") or "")
        ok = (
            feed.get("status") == "error"
            and clean_one_line(message)
            and c.expect.lower() in message.lower()
            and "internal error" not in message
            and "unexpected error" not in message
        )
        rows.append(Row(c.name, f"{feed.get('status')}: {message!r}", ok))
    return rows


def _dead_hosts(n_feeds: int, n_hosts: int, config: str, bound: float) -> list[Row]:
    dead = [s.RawServer(s.silent) for _ in range(n_hosts)]
    healthy = s.RawServer(s.healthy)
    with Home() as home, s.running(healthy, *dead):
        home.write_config(config)
        urls = [dead[i % n_hosts].url(f"/dead/{i}") for i in range(n_feeds)]
        home.import_urls([*urls, healthy.url()])
        ran = home.veille("refresh", timeout=bound * 10)
        feeds = home.feeds()
    messages = [str(feeds.get(u, {}).get("message")) for u in urls]
    timed_out = sum(m.startswith("timed out after") for m in messages)
    skipped = sum("not answering" in m for m in messages)
    case = f"{n_feeds} dead feeds on {n_hosts} host{'s' if n_hosts > 1 else ''}"
    good = feeds.get(healthy.url(), {})
    return [
        Row(
            f"{case}: refresh time",
            f"took {ran.seconds:.1f} s (bound {bound:g} s; exit {ran.code})",
            ran.seconds <= bound and ran.code == 0,
        ),
        Row(
            f"{case}: what each feed says",
            f"{timed_out} timed out, {skipped} not tried (host not answering); e.g. "
            f"{messages[-1]!r}",
            timed_out + skipped == n_feeds
            # At most the first batch of a host (its per-host slots) waits it out.
            and timed_out <= Config()["fetch.per_host"] * n_hosts
            and all(clean_one_line(m) for m in messages),
        ),
        Row(
            f"{case}: a healthy feed elsewhere",
            f"{good.get('status')}: {good.get('message')}",
            good.get("status") == "ok",
        ),
    ]


@scenario(ci=True)
def dead_host_defaults() -> list[Row]:
    """20 feeds on one host that accepts and never answers, default settings."""
    return _dead_hosts(20, 1, "", DEFAULT_READ_TIMEOUT + MARGIN)


@scenario(ci=True)
def dead_hosts_short_timeouts() -> list[Row]:
    """100 feeds on 5 dead hosts with 5 s timeouts and a 10 s total."""
    config = "[fetch]\nconnect_timeout = 5\nread_timeout = 5\ntotal_timeout = 10\n"
    return _dead_hosts(100, 5, config, 30)
