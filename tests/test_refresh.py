"""`veille refresh` end to end against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from veille.config import Config
from veille.refresh.runner import refresh_feeds
from veille.store.store import Store


def rss(n: int, title: str = "Feed", *, ttl: int | None = None, prefix: str = "e") -> str:
    items = "".join(
        f"<item><guid>{prefix}{i}</guid><title>Item {i}</title>"
        f"<link>https://example.com/{prefix}{i}</link>"
        f"<pubDate>Mon, 0{1 + i % 9} Jun 2026 10:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Body {i}&lt;/p&gt;</description></item>"
        for i in range(n)
    )
    ttl_el = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://example.com/</link>{ttl_el}{items}</channel></rss>"
    )


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "store")
    yield s
    s.close()


def config(**values) -> Config:
    base = {"fetch.read_timeout": 2, "fetch.total_timeout": 5, "fetch.connect_timeout": 2}
    return Config({**base, **values})


def refresh(store: Store, cfg: Config | None = None, **kw):
    return asyncio.run(refresh_feeds(store, cfg or config(), **kw))


def test_conditional_get_uses_first_validators(httpserver: HTTPServer, store: Store) -> None:
    seen: list[dict[str, str]] = []

    def handler(req: Request) -> Response:
        seen.append(dict(req.headers))
        if req.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(rss(3), content_type="application/rss+xml", headers={"ETag": '"v1"'})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    f, _ = store.add_feed(httpserver.url_for("/feed"))
    s1 = refresh(store)
    assert s1.new_items == 3
    s2 = refresh(store)
    assert s2.not_modified == 1 and s2.new_items == 0
    assert seen[1].get("If-None-Match") == '"v1"'
    assert seen[0]["User-Agent"].startswith("veille/")
    assert "application/atom+xml" in seen[0]["Accept"]
    assert store.get_feed(f.id).status == "ok"


def test_identical_body_skips_parsing(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/feed").respond_with_data(rss(2), content_type="text/xml")
    store.add_feed(httpserver.url_for("/feed"))
    refresh(store)
    s2 = refresh(store)
    assert s2.not_modified == 1
    assert "unchanged" in s2.outcomes[0].status


def test_failing_feed_never_stops_others(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/good").respond_with_data(rss(4), content_type="text/xml")
    httpserver.expect_request("/missing").respond_with_data("nope", status=404)
    httpserver.expect_request("/broken").respond_with_data("oops", status=500)
    httpserver.expect_request("/html").respond_with_data(
        "<!doctype html><html><head><title>x</title></head><body>hi</body></html>",
        content_type="text/html",
    )
    httpserver.expect_request("/empty").respond_with_data("", content_type="text/xml")
    httpserver.expect_request("/garbage").respond_with_data("<<<not xml", content_type="text/xml")
    for path in ("/good", "/missing", "/broken", "/html", "/empty", "/garbage"):
        store.add_feed(httpserver.url_for(path))
    store.add_feed("http://127.0.0.1:9/closed")
    store.add_feed("http://nope.invalid/feed")
    s = refresh(store)
    assert s.new_items == 4 and s.errors == 7
    msgs = {f.url.rsplit("/", 1)[-1]: f.message for f in store.feeds()}
    assert "404" in msgs["missing"]
    assert "500" in msgs["broken"]
    assert "HTML" in msgs["html"]
    assert "empty" in msgs["empty"]
    assert msgs["garbage"]
    assert "refused" in msgs["closed"]
    assert "DNS" in msgs["feed"] or "nope.invalid" in msgs["feed"]
    for m in msgs.values():
        assert "\n" not in m and "Traceback" not in m
    # Failing feeds back off: they are not polled again right away.
    again = refresh(store)
    assert again.feeds == 1 and again.held_back == 7


def test_backoff_grows_with_each_failure(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/bad").respond_with_data("x", status=500)
    f, _ = store.add_feed(httpserver.url_for("/bad"))
    gaps = []
    for _ in range(3):
        refresh(store, feed_ids=[f.id])  # named: a manual refresh skips the back-off
        doc = store.get_feed(f.id)
        gaps.append(doc.next_poll)
    assert store.get_feed(f.id).errors == 3
    assert gaps == sorted(gaps) and len(set(gaps)) == 3


def test_permanent_redirect_updates_url_temporary_does_not(
    httpserver: HTTPServer, store: Store
) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/new"}
    )
    httpserver.expect_request("/tmp").respond_with_data(
        "", status=302, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_data(rss(1), content_type="text/xml")
    a, _ = store.add_feed(httpserver.url_for("/old"))
    b, _ = store.add_feed(httpserver.url_for("/tmp"))
    refresh(store)
    assert store.get_feed(a.id).url == httpserver.url_for("/new")
    assert store.get_feed(b.id).url == httpserver.url_for("/tmp")


def test_redirect_loop_is_an_error(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    f, _ = store.add_feed(httpserver.url_for("/a"))
    refresh(store)
    assert "loop" in store.get_feed(f.id).message


def test_410_disables_the_feed(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    f, _ = store.add_feed(httpserver.url_for("/gone"))
    refresh(store)
    doc = store.get_feed(f.id)
    assert doc.disabled and "410" in doc.disabled
    assert refresh(store).feeds == 0  # never polled again unless named


def test_429_retry_after_is_honoured(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/busy").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "3600"}
    )
    f, _ = store.add_feed(httpserver.url_for("/busy"))
    refresh(store)
    doc = store.get_feed(f.id)
    from veille.util.dates import now, parse_iso

    wait = (parse_iso(doc.retry_until) - now()).total_seconds()
    assert 3500 < wait <= 3600
    assert parse_iso(doc.next_poll) >= parse_iso(doc.retry_until)
    # Held back even when named: the server asked for it.
    s = refresh(store, feed_ids=[f.id])
    assert s.feeds == 0 and s.held_back == 1
    assert len(httpserver.log) == 1


def test_ttl_and_max_age_push_next_poll(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/ttl").respond_with_data(rss(1, ttl=240), content_type="text/xml")
    httpserver.expect_request("/cc").respond_with_data(
        rss(1, prefix="c"), content_type="text/xml", headers={"Cache-Control": "max-age=7200"}
    )
    a, _ = store.add_feed(httpserver.url_for("/ttl"))
    b, _ = store.add_feed(httpserver.url_for("/cc"))
    refresh(store)
    la, lb = store.get_feed(a.id), store.get_feed(b.id)
    from veille.util.dates import parse_iso

    def minutes(doc):
        return (parse_iso(doc.next_poll) - parse_iso(doc.last_fetch)).total_seconds() / 60

    assert 239 <= minutes(la) <= 241
    assert 119 <= minutes(lb) <= 121


def test_due_only_skips_recent_feeds(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/f").respond_with_data(rss(1), content_type="text/xml")
    store.add_feed(httpserver.url_for("/f"))
    assert refresh(store, due_only=True).feeds == 1
    assert refresh(store, due_only=True).feeds == 0
    assert refresh(store).feeds == 1


def test_body_over_cap_is_refused(httpserver: HTTPServer, store: Store) -> None:
    big = gzip.compress(rss(1).encode() + b"<!--" + b"x" * 3_000_000 + b"-->")
    httpserver.expect_request("/big").respond_with_data(
        big, content_type="text/xml", headers={"Content-Encoding": "gzip"}
    )
    f, _ = store.add_feed(httpserver.url_for("/big"))
    refresh(store, config(**{"fetch.max_body_mb": 1}))
    assert "larger" in store.get_feed(f.id).message


def test_timeout_from_a_slow_server(store: Store) -> None:
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def accept() -> None:
        conns = []
        while not stop.is_set():
            srv.settimeout(0.2)
            try:
                c, _ = srv.accept()
                conns.append(c)  # never answer
            except OSError:
                pass
        for c in conns:
            c.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    f, _ = store.add_feed(f"http://127.0.0.1:{srv.getsockname()[1]}/slow")
    refresh(store, config(**{"fetch.read_timeout": 0.5, "fetch.total_timeout": 2}))
    stop.set()
    t.join()
    srv.close()
    assert "timed out" in store.get_feed(f.id).message


def test_updated_entry_keeps_read_state(httpserver: HTTPServer, store: Store) -> None:
    body = {"v": rss(2)}
    httpserver.expect_request("/f").respond_with_handler(
        lambda req: Response(body["v"], content_type="text/xml")
    )
    store.add_feed(httpserver.url_for("/f"))
    refresh(store)
    ids = store.ordered_ids()
    store.set_state(ids, read=True, starred=True)
    body["v"] = rss(2).replace("Item 0", "Item zero (corrected)")
    s = refresh(store)
    assert (s.new_items, s.updated_items) == (0, 1)
    titles = {store.get_item(i).title for i in ids}
    assert "Item zero (corrected)" in titles
    assert all(store.get_item(i).read and store.get_item(i).starred for i in ids)


def test_mislabelled_encoding_still_gives_entries(httpserver: HTTPServer, store: Store) -> None:
    body = rss(2, title="Café crème").encode("latin-1")
    httpserver.expect_request("/latin").respond_with_data(
        body, content_type="text/xml; charset=utf-8"
    )
    store.add_feed(httpserver.url_for("/latin"))
    assert refresh(store).new_items == 2


def test_json_feed_is_parsed(httpserver: HTTPServer, store: Store) -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JF",
        "items": [
            {
                "id": "1",
                "url": "https://example.com/1",
                "title": "Hello",
                "content_html": "<p>Hi</p>",
                "date_published": "2026-06-01T10:00:00Z",
            }
        ],
    }
    httpserver.expect_request("/feed.json").respond_with_data(
        json.dumps(doc), content_type="application/feed+json"
    )
    f, _ = store.add_feed(httpserver.url_for("/feed.json"))
    assert refresh(store).new_items == 1
    assert store.get_feed(f.id).title == "JF"
    assert store.items()[0].published == "2026-06-01T10:00:00Z"


def test_control_sequences_stripped_at_ingest(httpserver: HTTPServer, store: Store) -> None:
    evil = rss(1).replace("Item 0", "Item \x1b[31mred\x1b[0m [@click=app.quit]x[/]\x07")
    httpserver.expect_request("/evil").respond_with_data(evil, content_type="text/xml")
    store.add_feed(httpserver.url_for("/evil"))
    refresh(store)
    title = store.items()[0].title
    assert "\x1b" not in title and "\x07" not in title
    assert "[@click=app.quit]x[/]" in title


def _exit_now() -> None:
    import os

    os._exit(1)  # a parser process dying, as a SIGTERM to the whole group does


def test_parser_processes_dying_never_count_against_a_feed(
    httpserver: HTTPServer, store: Store
) -> None:
    """When the parser processes die (a SIGTERM to the process group, the OOM
    killer), the feeds they were parsing are not the culprits: no error and no
    back-off recorded, so the next refresh polls them all (the crash test saw
    two feeds "held back" after a group SIGTERM, their items never coming)."""
    from concurrent.futures import BrokenExecutor, ProcessPoolExecutor

    for i in range(3):
        httpserver.expect_request(f"/f{i}").respond_with_data(rss(2, prefix=f"f{i}-"),
                                                              content_type="text/xml")  # fmt: skip
    ids = [store.add_feed(httpserver.url_for(f"/f{i}"))[0].id for i in range(3)]
    broken = ProcessPoolExecutor(max_workers=1)
    with pytest.raises(BrokenExecutor):
        broken.submit(_exit_now).result()
    s1 = refresh(store, executor=broken)
    broken.shutdown()
    assert s1.new_items == 0
    assert all(store.get_feed(i).status == "new" for i in ids)  # as if never reached
    s2 = refresh(store)
    assert s2.new_items == 6 and s2.held_back == 0


MODULES_AFTER_REFRESH = """
import json, runpy, sys
sys.argv = ["veille", "refresh"]
try:
    runpy.run_module("veille", run_name="__main__")
except SystemExit as exit:
    assert not exit.code, exit.code
print(json.dumps(sorted(sys.modules)))
"""


def test_a_warm_refresh_loads_no_parser(httpserver: HTTPServer, home: Path) -> None:
    """Every feed answering 304: no parser processes, and none of what parsing needs
    is imported (feedparser, lxml, multiprocessing): a cron refresh every few minutes
    mostly finds nothing new."""
    import subprocess
    import sys

    def handler(req: Request) -> Response:
        if req.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        body = rss(2, prefix=req.path.strip("/"))
        return Response(body, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    for i in range(5):  # enough to make the cold refresh start processes
        httpserver.expect_request(f"/f{i}").respond_with_handler(handler)
    with Store(home / "data" / "store") as s:  # where VEILLE_HOME puts it
        for i in range(5):
            s.add_feed(httpserver.url_for(f"/f{i}"))

    def modules() -> set[str]:
        p = subprocess.run([sys.executable, "-c", MODULES_AFTER_REFRESH],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        assert p.returncode == 0, p.stderr
        return set(json.loads(p.stdout.splitlines()[-1]))

    heavy = {"feedparser", "lxml", "multiprocessing", "veille.sources.feed.parse"}
    cold = modules()
    assert heavy <= cold  # what the cold refresh needed (and the test looks for)
    warm = modules()
    assert not heavy & warm
