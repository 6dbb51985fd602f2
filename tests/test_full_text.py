"""A feed marked "always fetch the full article": refresh caches its new items' articles."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer

from veille.store.store import Store

DATA = Path(__file__).parent / "data" / "articles"


def feed_linking(base: str) -> str:
    items = "".join(
        f"<item><guid>g{i}</guid><title>Story {i}</title><link>{base}{path}</link>"
        f"<description>Teaser {i}</description></item>"
        for i, path in enumerate(("/story/blog.html", "/story/missing.html"))
    )
    channel = f"<channel><title>F</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def test_refresh_caches_articles_of_a_full_text_feed(httpserver: HTTPServer, cli, home) -> None:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/feed.xml").respond_with_data(
        feed_linking(base), content_type="application/rss+xml"
    )
    httpserver.expect_request("/story/blog.html").respond_with_data(
        (DATA / "blog.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    httpserver.expect_request("/story/missing.html").respond_with_data("gone", status=404)
    assert cli("add", f"{base}/feed.xml", "--no-fetch").code == 0
    assert cli("feed", "edit", f"{base}/feed.xml", "--full-text").code == 0
    r = cli("refresh")
    assert r.code == 0, r.err
    rows = {row["title"]: row["id"] for row in map(json.loads, cli("items", "--json").lines)}
    with Store(home / "data" / "store", autoflush=False) as store:
        cached = store.get_article(rows["Story 0"])
        assert cached is not None and cached[1].endswith("/story/blog.html")
        assert store.get_article(rows["Story 1"]) is None  # a 404: the feed's text stays
        assert store.get_content(rows["Story 1"]).html or store.get_item(rows["Story 1"]).summary
    # Reading it needs no network now: the server forgets the page, the article stays.
    httpserver.clear()
    out = cli("article", rows["Story 0"])
    assert out.code == 0 and out.lines


def test_a_feed_without_full_text_fetches_no_page(httpserver: HTTPServer, cli, home) -> None:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/feed.xml").respond_with_data(
        feed_linking(base), content_type="application/rss+xml"
    )
    assert cli("add", f"{base}/feed.xml").code == 0
    asked = [req.path for req, _ in httpserver.log]
    assert not any(path.startswith("/story/") for path in asked)
