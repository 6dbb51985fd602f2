"""Full articles (issue 12): fetch an item's page on 127.0.0.1, extract, cache, print.

Every page is served by a real HTTP server on loopback and fetched through the
polite Fetcher; assertions are on what a user sees: the extracted article as
the item pane's renderer shows it, the CLI's output and its one-line errors.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from veille.extract import Article, decode_html, extract_article, fetch_article
from veille.net.fetcher import Fetcher
from veille.render.html import link_list, render_html
from veille.store.store import Store

DATA = Path(__file__).parent / "data" / "articles"
HTML = "text/html; charset=utf-8"


def fetch(url: str, **fetcher_kw) -> Article:
    async def go() -> Article:
        kw = {"connect_timeout": 2, "read_timeout": 2, "total_timeout": 5, **fetcher_kw}
        async with Fetcher(**kw) as f:
            return await fetch_article(f, url)

    return asyncio.run(go())


def shown(article: Article) -> str:
    """What the item pane shows: rendered text, then the numbered links (laid out
    wide, so that a line break in the text is one the page asked for)."""
    r = render_html(article.html, article.url, width_hint=10_000)
    return r.text.plain + "\n" + link_list(r.links).plain


def serve(httpserver: HTTPServer, path: str, body: bytes | str, content_type: str = HTML) -> str:
    httpserver.expect_request(path).respond_with_data(body, content_type=content_type)
    return httpserver.url_for(path)


# ------------------------------------------------------------------ extraction
def test_article_keeps_structure_and_drops_the_rest(httpserver: HTTPServer) -> None:
    url = serve(httpserver, "/2026/03/polite.html", (DATA / "blog.html").read_bytes())
    a = fetch(url)
    assert a.ok, a.error
    assert a.title == "Why polite crawlers win"
    text = shown(a)
    for kept in (
        "Conditional requests",  # h2
        "In code",  # h3
        "• two connections per host;",  # bullet list
        "2. Parse.",  # ordered list keeps its numbers
        "async with host_semaphore(url.host):",  # code block
        "send If-None-Match and",  # inline code stays inline
        "│ Be conservative",  # quote
        "[img 2: A chart of requests per hour]",  # image with its alt text
        "Requests per hour before and after the change.",  # figcaption
        "That is all there is to it.",
    ):
        assert kept in text, kept
    for dropped in ("Archive", "Popular posts", "Advertisement", "cheap pills",
                    "All rights reserved", "Tweet", "dataLayer", "track("):  # fmt: skip
        assert dropped not in text, dropped
    base = httpserver.url_for("/")
    assert "[1] https://www.rfc-editor.org/rfc/rfc9110" in text
    assert f"[2] {base}img/requests.png (image)" in text
    assert f"[3] {base}2026/related/caching.html" in text  # "../related/caching.html"


def test_relative_links_resolve_against_the_final_url(httpserver: HTTPServer) -> None:
    page = (
        "<html><body><article><h1>Moved</h1>"
        + "<p>A paragraph long enough to count as an article, repeated a few times. " * 6
        + '<a href="next.html">the next part</a> and <img src="img/a.png" alt="A">'
        + '<a href="//cdn.example/x">cdn</a></p></article></body></html>'
    )
    serve(httpserver, "/2026/05/post.html", page)
    httpserver.expect_request("/p/1").respond_with_data(
        "", status=301, headers={"Location": "/2026/05/post.html"}
    )
    a = fetch(httpserver.url_for("/p/1"))
    assert a.ok, a.error
    assert a.url == httpserver.url_for("/2026/05/post.html")
    assert f'href="{httpserver.url_for("/2026/05/next.html")}"' in a.html
    assert f'src="{httpserver.url_for("/2026/05/img/a.png")}"' in a.html
    assert 'href="http://cdn.example/x"' in a.html


def test_active_content_never_survives(httpserver: HTTPServer) -> None:
    body = "Some words that make this paragraph long enough to be an article. " * 6
    page = f"""<html><head><style>p{{color:red}}</style></head><body><article>
        <p onclick="steal()">{body}<script>alert(1)</script></p>
        <p><a href="javascript:alert(2)">click</a> <a href="data:text/html,hi">data</a>
        <img src="javascript:alert(3)" alt="x" onerror="alert(4)"></p>
        <iframe srcdoc="<script>alert(5)</script>"></iframe>
        <form action="/x"><input name="q"><button>Go</button></form>
        <p style="position:fixed">Escape \x1b]8;;http://evil\x07sequences\x1b[2J here.</p>
        </article></body></html>"""
    a = fetch(serve(httpserver, "/a", page))
    assert a.ok, a.error
    low = a.html.lower()
    for bad in ("<script", "alert(", "onclick", "onerror", "javascript:", "data:text",
                "<style", "<form", "<input", "<button", "style=", "srcdoc", "\x1b"):  # fmt: skip
        assert bad not in low, bad
    assert "click" in a.html and "Escape" in a.html


def test_lazy_images_and_subheadings_of_a_cp1252_news_page(httpserver: HTTPServer) -> None:
    body = (DATA / "news-cp1252.html").read_bytes()
    # Served without a charset: only the page's <meta http-equiv> says windows-1252.
    url = serve(httpserver, "/news/2026/05/cafes.html", body, "text/html")
    a = fetch(url)
    assert a.ok, a.error
    text = shown(a)
    assert a.title == "Café owners ‘cautiously hopeful’"
    assert "“We lost the parking, but we gained the terrace,” said\nAmélie" not in text
    assert "“We lost the parking, but we gained the terrace,” said Amélie Durand" in text
    assert "€2.4 million" in text
    assert "What comes next" in text  # class="subheader" would make readability drop it
    base = httpserver.url_for("/")
    assert f"{base}media/2026/05/square.jpg (image)" in text  # data-src
    assert f"{base}media/2026/05/plan-1200.png (image)" in text  # widest srcset candidate
    assert "[img 1: The market square on a Saturday morning]" in text
    assert f"{base}news/documents/report-2026.pdf" in text  # "../../documents/..."
    for dropped in ("Ring road works delayed", "Weather", "_gaq", "Contact"):
        assert dropped not in text, dropped


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("Щи да каша — пища наша".encode("cp1251"), "text/html; charset=windows-1251",
         "Щи да каша — пища наша"),
        ('<meta charset="iso-8859-1"><p>Café “quoted”'.encode("cp1252"), "text/html",
         "Café “quoted”"),  # latin-1 labels mean windows-1252, as in browsers
        ("<p>Déjà vu ✓".encode(), "text/html", "Déjà vu ✓"),  # undeclared UTF-8
        ("<p>Déjà vu".encode("cp1252"), "text/html", "Déjà vu"),  # undeclared, not UTF-8
        (b"\xef\xbb\xbf<p>BOM \xc3\xa9", "text/html; charset=iso-8859-1", "BOM é"),
        ('<?xml version="1.0" encoding="ISO-8859-15"?><p>€'.encode("iso-8859-15"), "",
         "€"),
    ],
)  # fmt: skip
def test_charset_detection(body: bytes, content_type: str, expected: str) -> None:
    assert expected in decode_html(body, content_type)


def test_xhtml_page_with_an_encoding_declaration_is_extracted() -> None:
    para = "<p>Un paragraphe en français, assez long pour compter comme un article. </p>" * 5
    page = (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        f"<head><title>Été</title></head><body><div>{para}</div></body></html>"
    ).encode("latin-1")
    a = extract_article(page, "https://example.org/ete", "application/xhtml+xml")
    assert a.ok, a.error
    assert "français" in shown(a) and a.title == "Été"


# ------------------------------------------------------------------ failures
def reason(a: Article) -> str:
    assert not a.ok and a.error is not None and a.html == ""
    assert "\n" not in a.error and "Traceback" not in a.error
    return a.error


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf",
         "the link leads to a PDF, not a web page"),
        (b'{"title": "an API answer"}', "application/json",
         "the page is not HTML (application/json)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "the page is not HTML (image/png)"),
        (b"\x00\x01\x02binary" * 10, "text/html", "the page is binary data, not HTML"),
        (b"<html><body><div id='root'></div><script src='/app.js'></script></body></html>",
         "text/html", "no article text found on the page"),
        # A redirect page with no <body>: readability returns a body-less document.
        (b'<html><head><meta http-equiv="refresh" content="0;url=https://news.example/a">'
         b"</head></html>", "text/html", "no article text found on the page"),
    ],
)  # fmt: skip
def test_a_page_without_an_article_says_why(
    httpserver: HTTPServer, body: bytes, content_type: str, expected: str
) -> None:
    a = fetch(serve(httpserver, "/x", body, content_type))
    assert reason(a).startswith(expected)


def test_paywall_teaser_is_no_article(httpserver: HTTPServer) -> None:
    a = fetch(serve(httpserver, "/markets", (DATA / "paywall.html").read_bytes()))
    assert reason(a) == "no article text found on the page"


def test_html_served_as_text_plain_is_still_read(httpserver: HTTPServer) -> None:
    page = "<!DOCTYPE html><html><body><p>" + "Mislabelled but fine. " * 20 + "</p></body></html>"
    a = fetch(serve(httpserver, "/m", page, "text/plain"))
    assert a.ok, a.error


def test_http_errors_size_cap_and_timeouts_are_one_line(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    assert reason(fetch(httpserver.url_for("/missing"))) == (
        "could not fetch the page: HTTP 404 Not Found"
    )
    big = "<html><body>" + ("<p>" + "x" * 1000 + "</p>") * 300 + "</body></html>"
    url = serve(httpserver, "/big", big)
    assert reason(fetch(url, max_body=64 * 1024)) == (
        "could not fetch the page: body larger than 64 KiB"
    )
    release = threading.Event()

    def slow(_req: Request) -> Response:
        release.wait(5)
        return Response("<p>late</p>", content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    try:
        a = fetch(httpserver.url_for("/slow"), read_timeout=0.3)
    finally:
        release.set()
    assert reason(a) == "could not fetch the page: timed out after 0.3 s (read)"
    # The server logs the late answer when it is sent: wait for it, so it does not
    # land in the next test's log.
    for _ in range(500):
        if any(req.path == "/slow" for req, _ in httpserver.log):
            break
        threading.Event().wait(0.01)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/a", "javascript:alert(1)", "file:///etc/passwd", "", "example.org",
     "http://[::1/a"],  # malformed: one line, not a ValueError
)  # fmt: skip
def test_only_http_pages_are_fetched(httpserver: HTTPServer, url: str) -> None:
    before = len(httpserver.log)
    assert reason(fetch(url)).startswith("only http(s) pages can be fetched, not ")
    assert len(httpserver.log) == before


def test_extraction_runs_in_the_executor_it_is_given(httpserver: HTTPServer) -> None:
    url = serve(httpserver, "/p", (DATA / "blog.html").read_bytes())
    ran_in: list[str] = []

    def work(*args: object) -> Article:
        ran_in.append(threading.current_thread().name)
        return extract_article(*args)  # type: ignore[arg-type]

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
            return super().submit(work, *args, **kwargs)

    async def go() -> Article:
        with Recording(1, thread_name_prefix="extract") as pool:
            async with Fetcher() as f:
                return await fetch_article(f, url, executor=pool)

    a = asyncio.run(go())
    assert a.ok and ran_in and ran_in[0].startswith("extract")


def test_extract_article_runs_in_a_process_pool() -> None:
    body = (DATA / "blog.html").read_bytes()
    with ProcessPoolExecutor(1) as pool:
        a = pool.submit(extract_article, body, "https://blog.example/p.html", "text/html").result()
    assert a == extract_article(body, "https://blog.example/p.html", "text/html")
    assert a.ok and "Conditional requests" in a.html


# ------------------------------------------------------------------ real pages
PAGES = os.environ.get("VEILLE_ARTICLE_PAGES", "")
_WORD = re.compile(r"\w+")


def _f1(gold: str, got: str) -> float:
    g = collections.Counter(w.lower() for w in _WORD.findall(gold))
    o = collections.Counter(w.lower() for w in _WORD.findall(got))
    hit = sum((g & o).values())
    if not hit:
        return 0.0
    p, r = hit / sum(o.values()), hit / sum(g.values())
    return 2 * p * r / (p + r)


@pytest.mark.skipif(
    not (PAGES and Path(PAGES, "html").is_dir()),
    reason="VEILLE_ARTICLE_PAGES (newspaper4k's tests/data) is not set",
)
def test_real_news_pages_match_their_article_text() -> None:
    scores: dict[str, float] = {}
    for txt in sorted(Path(PAGES, "txt").glob("*.txt")):
        page = Path(PAGES, "html", txt.stem + ".html")
        if not page.exists():
            continue
        a = extract_article(page.read_bytes(), "https://news.example/a", "text/html")
        assert a.ok, f"{page.name}: {a.error}"
        scores[page.name] = _f1(txt.read_text("utf-8"), render_html(a.html).text.plain)
    assert len(scores) >= 20
    assert sum(scores.values()) / len(scores) > 0.9, scores
    assert min(scores.values()) > 0.75, scores


# ------------------------------------------------------------------ store and CLI
def test_the_store_caches_the_article_beside_the_feed_text(tmp_path: Path) -> None:
    from veille.domain.entries import ParsedEntry, ParsedFeed

    with Store(tmp_path / "s") as s:
        fid = s.add_feed("https://example.org/feed", title="Feed")[0].id
        entry = ParsedEntry(key="k1", title="T", link="https://example.org/1", content="<p>x</p>")
        s.upsert_entries(fid, ParsedFeed(title="Feed", entries=[entry]))
        iid = next(iter(s.ordered_ids()))
        assert s.get_article(iid) is None
        s.save_article(iid, "<p>full</p>", "https://example.org/1?final")
        s.flush()
    with Store(tmp_path / "s") as s:
        assert s.get_article(iid) == ("<p>full</p>", "https://example.org/1?final")
        assert s.get_content(iid).html == "<p>x</p>"
        # The feed updates the entry: its new text is kept, and so is the article.
        entry.content = "<p>x, corrected</p>"
        s.upsert_entries(fid, ParsedFeed(title="Feed", entries=[entry]))
        assert s.get_content(iid).html == "<p>x, corrected</p>"
        assert s.get_article(iid) == ("<p>full</p>", "https://example.org/1?final")


def feed_with(links: list[str]) -> str:
    items = "".join(
        f"<item><guid>g{i}</guid><title>Story {i}</title><link>{link}</link>"
        f"<description>Teaser {i}</description></item>"
        for i, link in enumerate(links)
    )
    channel = f"<channel><title>F</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def item_ids(cli) -> dict[str, str]:
    r = cli("items", "--json")
    return {d["title"]: d["id"] for d in map(json.loads, r.lines)}


def test_cli_article_fetches_caches_and_refetches(cli, httpserver: HTTPServer) -> None:
    page = serve(httpserver, "/2026/03/polite.html", (DATA / "blog.html").read_bytes())
    feed = serve(httpserver, "/feed.xml", feed_with([page]), "application/rss+xml")
    assert cli("add", feed).code == 0
    iid = item_ids(cli)["Story 0"]

    def page_hits() -> int:
        return sum(1 for req, _ in httpserver.log if req.path == "/2026/03/polite.html")

    r = cli("article", iid[:8])
    assert r.code == 0, r.err
    assert r.lines[0] == "Story 0"
    assert r.lines[1] == page
    assert "Conditional requests" in r.out and "Popular posts" not in r.out
    assert "Links:" in r.out and "[1] https://www.rfc-editor.org/rfc/rfc9110" in r.out
    assert page_hits() == 1
    again = cli("article", iid)
    assert again.out == r.out and page_hits() == 1  # from the cache
    assert cli("article", iid, "--refetch").out == r.out and page_hits() == 2


def test_cli_article_failures_are_one_line(cli, httpserver: HTTPServer) -> None:
    gone = httpserver.url_for("/gone")
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    paywall = serve(httpserver, "/pay", (DATA / "paywall.html").read_bytes())
    feed = serve(httpserver, "/feed.xml", feed_with([gone, paywall, "ftp://old.example/x"]),
                 "application/rss+xml")  # fmt: skip
    assert cli("add", feed).code == 0
    ids = item_ids(cli)
    cases = {
        "Story 0": "could not fetch the page: HTTP 410 Gone (the page was removed)",
        "Story 1": "no article text found on the page",
        "Story 2": "the item has no link",  # the feed parser keeps only http(s) links
    }
    for title, why in cases.items():
        r = cli("article", ids[title])
        assert r.code == 1 and r.out == ""
        assert r.err == f"veille: no full article for item {ids[title]}: {why}\n"
    r = cli("article", "zzzzzzzz")
    assert r.code == 1 and r.err == "veille: unknown item id 'zzzzzzzz'\n"


def test_cli_article_output_is_free_of_escape_sequences(cli_proc, httpserver: HTTPServer) -> None:
    words = "A normal sentence of the article that keeps going for a while. " * 5
    page = serve(
        httpserver,
        "/evil",
        f"<html><head><title>\x1b]0;pwned\x07T</title></head><body><article><p>{words}"
        f"\x1b[31mred\x1b[0m \x9b2J<a href='https://ok.example/\x1b[1m'>x</a></p>"
        "</article></body></html>",
    )
    feed = serve(httpserver, "/feed.xml", feed_with([page]), "application/rss+xml")
    assert cli_proc("add", feed).code == 0
    items = cli_proc("items", "--json")
    iid = json.loads(items.lines[0])["id"]
    r = cli_proc("article", iid)
    assert r.code == 0, r.err
    assert "\x1b" not in r.out and "\x9b" not in r.out and "\x07" not in r.out
    assert "red" in r.out
