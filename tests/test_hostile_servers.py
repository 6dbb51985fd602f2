"""The fetcher against hostile raw-socket servers (tests/faults/servers.py), with short
time-outs so each case takes a second or two.  The same servers at default settings,
through a real `veille refresh`, are in tests/test_faults.py."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.faults import servers as s
from veille.net.fetcher import ERROR_KINDS, Fetcher, FetchRequest, FetchResult

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


async def fetch_all(urls: list[str], **kwargs: float) -> list[FetchResult]:
    async with Fetcher(**kwargs) as f:  # type: ignore[arg-type]
        return await asyncio.gather(*(f.fetch(FetchRequest(u)) for u in urls))


def assert_clean(r: FetchResult) -> None:
    assert r.error and not CONTROL.search(r.error), r.error
    assert r.error_kind in ERROR_KINDS and r.error_kind != "other", r.error


@pytest.mark.parametrize(
    ("behaviour", "path", "kind", "message"),
    [
        (s.trickle_body, "/feed", "timeout", "timed out after 2 s (total)"),
        (s.trickle_headers, "/feed", "timeout", "timed out after 2 s (total)"),
        (s.silent, "/feed", "timeout", "timed out after 2 s (total)"),
        (s.redirect_loop, "/loop-a", "redirect", "redirect loop"),
        (s.permanent_hops, "/hop/0", "redirect", "too many redirects (>10)"),
        (s.escape_in_location, "/feed", "redirect", "redirect to an invalid URL"),
        (s.escape_in_status, "/feed", "http", "HTTP 500 Internal Server Error"),
        (s.huge_header, "/feed", "protocol", "response headers from 127.0.0.1 are too large"),
        (s.many_headers, "/feed", "protocol", "response headers from 127.0.0.1 are too large"),
        (s.not_http, "/feed", "protocol", "protocol error from 127.0.0.1"),
        (s.redirect_to("file:///etc/passwd"), "/", "redirect", "unsupported URL scheme: file"),
    ],
)
async def test_hostile_server_gives_one_clean_line(
    behaviour: s.Behaviour, path: str, kind: str, message: str
) -> None:
    with s.running(s.RawServer(behaviour)) as (srv,):
        (r,) = await fetch_all([srv.url(path)], read_timeout=3, total_timeout=2)
    assert_clean(r)
    assert r.error_kind == kind and message in (r.error or "")


async def test_servers_on_one_host_but_other_ports_do_not_share_slots() -> None:
    # per_host=1: were the slot per host name, the healthy feed would queue behind the
    # trickling one and run out of its own total budget waiting.
    with s.running(s.RawServer(s.trickle_body), s.RawServer(s.healthy)) as (bad, good):
        r_bad, r_good = await fetch_all(
            [bad.url(), good.url()], per_host=1, read_timeout=5, total_timeout=1.5
        )
    assert r_bad.error == "timed out after 1.5 s (total)"
    assert r_good.ok and r_good.body == s.HEALTHY_FEED


async def test_queued_feeds_of_a_dead_host_fail_fast() -> None:
    # 12 feeds on a server that never answers, 2 at a time: the first two time out,
    # the ten queued behind them are not tried, instead of five more rounds of waiting.
    with s.running(s.RawServer(s.silent)) as (srv,):
        urls = [srv.url(f"/dead/{i}") for i in range(12)]
        results = await fetch_all(urls, per_host=2, read_timeout=0.5, total_timeout=30)
        connections = srv.connections
    errors = [r.error or "" for r in results]
    assert errors.count("timed out after 0.5 s (read)") == 2
    host = f"127.0.0.1:{srv.port}"
    skipped = (
        f"not tried: {host} is not answering (another feed on it timed out after 0.5 s (read))"
    )
    assert errors.count(skipped) == 10
    assert connections == 2
    for r in results:
        assert_clean(r)


async def test_a_dead_host_stays_dead_for_the_fetcher_and_not_for_others() -> None:
    with s.running(s.RawServer(s.silent), s.RawServer(s.healthy)) as (dead, good):
        async with Fetcher(read_timeout=0.5) as f:
            first = await f.fetch(FetchRequest(dead.url("/a")))
            later = await f.fetch(FetchRequest(dead.url("/b")))
            other = await f.fetch(FetchRequest(good.url()))
        async with Fetcher(read_timeout=0.5) as f:  # the next refresh tries again
            again = await f.fetch(FetchRequest(dead.url("/c")))
    assert first.error == "timed out after 0.5 s (read)"
    assert (later.error or "").startswith("not tried: ")
    assert other.ok
    assert again.error == "timed out after 0.5 s (read)"


async def test_waiting_for_a_host_slot_counts_against_the_total_timeout() -> None:
    # A trickling body is an answering server (not marked dead), so a feed queued behind
    # it must give up when its own budget is spent, not a whole budget later.  With one
    # global slot, `holder` keeps host A's only slot for two budgets (its wait for the
    # global slot behind `other` is not counted), so `queued` must give up while waiting.
    with s.running(s.RawServer(s.trickle_body), s.RawServer(s.trickle_body)) as (a, b):
        other, holder, queued = await fetch_all(
            [b.url("/other"), a.url("/holder"), a.url("/queued")],
            concurrency=1,
            per_host=1,
            read_timeout=5,
            total_timeout=1,
        )
    assert other.error == holder.error == "timed out after 1 s (total)"
    assert queued.error == (
        f"timed out after 1 s (total) waiting for 127.0.0.1:{a.port}, busy with other feeds"
    )
    # The holder still had (nearly) its whole budget for the request after its wait for
    # the global slot; the queued feed never sent one.
    assert holder.elapsed > 0.5 and queued.elapsed == 0


async def test_wait_for_a_global_slot_is_not_counted() -> None:
    # concurrency=1: the healthy feed waits for the global slot while the trickling feed
    # spends its whole budget; our own throughput limit must not fail it.
    with s.running(s.RawServer(s.trickle_body), s.RawServer(s.healthy)) as (bad, good):
        async with Fetcher(concurrency=1, read_timeout=5, total_timeout=1) as f:
            r_bad = asyncio.ensure_future(f.fetch(FetchRequest(bad.url())))
            await asyncio.sleep(0)  # the trickling feed takes the slot first
            r_good = await f.fetch(FetchRequest(good.url()))
            await r_bad
    assert r_bad.result().error == "timed out after 1 s (total)"
    assert r_good.ok


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:99999/feed", "invalid URL: port out of range 1-65535"),
        ("http://xn--a.example/feed", "invalid URL: invalid host name"),
        ("http://a..b/feed", "invalid URL: invalid host name a..b"),
    ],
)
async def test_urls_the_network_layer_cannot_use(url: str, message: str) -> None:
    (r,) = await fetch_all([url])
    assert r.error_kind == "url" and (r.error or "").startswith(message)


async def test_redirect_to_an_out_of_range_port() -> None:
    with s.running(s.RawServer(s.redirect_to("http://127.0.0.1:70000/x"))) as (srv,):
        (r,) = await fetch_all([srv.url()])
    assert r.error == "redirect to invalid URL: port out of range 1-65535"
