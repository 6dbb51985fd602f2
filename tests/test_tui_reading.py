"""Reading in the app: the full article (w) and inline images, against pages and
images served on 127.0.0.1 by pytest-httpserver; the saved views of the picker
and the default view; the rules view and the status bar's alert counts.

Waits are for conditions; assertions read the item pane, the toasts, the
status bar, or the store through its public API.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.tui_helpers import (
    build_store,
    main_shown,
    make_app,
    make_config,
    make_paths,
    settle,
    started,
    toasts,
    wait_for,
)
from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.store.store import Store
from veille.tui.screens.main import ViewPickScreen
from veille.tui.screens.pickers import AskScreen, PickScreen
from veille.tui.screens.rules import RulesScreen
from veille.tui.services import images as image_service

DATA = Path(__file__).parent / "data" / "articles"
SIZE = (140, 45)


def png(width: int = 40, height: int = 30, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def one_item_store(root: Path, link: str, content: str, *, full_text: bool = False) -> Store:
    store = Store(root)
    feed, _ = store.add_feed("https://truncated.example/feed", title="Truncated")
    if full_text:
        store.update_feed(feed.id, full_text=True)
    entries = [
        ParsedEntry(
            key="a1",
            title="Polite crawlers",
            link=link,
            content=content,
            published="2026-03-01T10:00:00Z",
        ),
        ParsedEntry(
            key="a2",
            title="Second item",
            link=link + "?2",
            content="<p>Two.</p>",
            published="2026-02-28T10:00:00Z",
        ),
    ]
    store.upsert_entries(feed.id, ParsedFeed(title="Truncated", entries=entries))
    store.flush()
    return store


async def toast(pilot, needle: str) -> None:
    await wait_for(pilot, lambda: any(needle in t for t in toasts(pilot.app)), what=needle)


# ------------------------------------------------------------ full article
async def test_w_fetches_caches_and_toggles_the_full_article(
    tmp_path: Path, httpserver: HTTPServer
):
    httpserver.expect_request("/2026/03/polite.html").respond_with_data(
        (DATA / "blog.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    link = httpserver.url_for("/2026/03/polite.html")
    paths = make_paths(tmp_path)
    store = one_item_store(paths.store, link, "<p>Every feed reader is a crawler…</p>")
    try:
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            view = screen.item_view
            iid = screen.stream.current_id
            assert view.shown == "feed" and "Full article" not in view.header_plain
            await pilot.press("w")
            await wait_for(pilot, lambda: view.shown == "article", what="the article")
            assert "▤ Full article from the page · w: the feed's text" in view.header_plain
            body = view.body_plain
            assert "Conditional requests" in body and "That is all there is to it." in body
            assert "cheap pills" not in body  # the comments are not the article
            assert "[img 2: A chart of requests per hour]" in body
            base = httpserver.url_for("/")
            assert f"{base}img/requests.png (image)" in view.links_plain  # numbered links
            html, url = store.get_article(iid)  # cached in the store
            assert "Conditional requests" in html and url == link
            requests = len(httpserver.log)
            await pilot.press("w")  # back to the feed's text
            await wait_for(pilot, lambda: view.shown == "feed")
            assert "Every feed reader is a crawler…" in view.body_plain
            assert "Feed text · w: the full article" in view.header_plain
            await pilot.press("w")  # the cached article: no new request
            await wait_for(pilot, lambda: view.shown == "article")
            assert len(httpserver.log) == requests
    finally:
        store.close()


@pytest.mark.parametrize(
    ("path", "respond", "why"),
    [
        (
            "/missing.html",
            {"response_data": "no", "status": 404},
            "could not fetch the page: HTTP 404",
        ),
        (
            "/paywall.html",
            {"response_data": (DATA / "paywall.html").read_bytes(), "content_type": "text/html"},
            "no article text found on the page",
        ),
        ("/feed.pdf", {"response_data": b"%PDF-1.7", "content_type": "application/pdf"}, "PDF"),
    ],
)
async def test_a_failed_article_keeps_the_feed_text_and_says_why_in_one_line(
    tmp_path: Path, httpserver: HTTPServer, path, respond, why
):
    httpserver.expect_request(path).respond_with_data(**respond)
    paths = make_paths(tmp_path)
    store = one_item_store(paths.store, httpserver.url_for(path), "<p>The feed's own teaser.</p>")
    try:
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            view = screen.item_view
            await pilot.press("w")
            await wait_for(
                pilot, lambda: any("No full article" in t for t in toasts(pilot.app)), what="why"
            )
            said = [t for t in toasts(pilot.app) if "No full article" in t]
            assert why.lower() in said[0].lower() and "\n" not in said[0].strip()
            assert "The feed's own teaser." in view.body_plain
            assert view.shown == "feed" and "No full article" in view.header_plain
            assert store.get_article(screen.stream.current_id) is None
    finally:
        store.close()


async def test_a_full_text_feed_fetches_the_article_when_the_item_is_shown(
    tmp_path: Path, httpserver: HTTPServer
):
    httpserver.expect_request("/post").respond_with_data(
        (DATA / "blog.html").read_bytes(), content_type="text/html"
    )
    httpserver.expect_request("/post", query_string="2").respond_with_data(
        (DATA / "blog.html").read_bytes(), content_type="text/html"
    )
    paths = make_paths(tmp_path)
    store = one_item_store(
        paths.store, httpserver.url_for("/post"), "<p>Teaser.</p>", full_text=True
    )
    try:
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            view = screen.item_view
            await wait_for(pilot, lambda: view.shown == "article", what="the article, unasked")
            assert "Conditional requests" in view.body_plain
            await pilot.press("w")  # the user can still read the feed's text
            await wait_for(pilot, lambda: view.shown == "feed")
            assert "Teaser." in view.body_plain
    finally:
        store.close()


# ------------------------------------------------------------------ images
def image_store(root: Path, base: str) -> Store:
    content = (
        f"<p>Intro.</p><p><img src='{base}cat.png' alt='a red cat'></p>"
        f"<p>Middle.</p><p><img src='{base}broken.png' alt='broken one'></p>"
        f"<p><img src='{base}huge.png' alt='too big'></p><p>The end.</p>"
    )
    return one_item_store(root, "https://blog.example/post", content)


def serve_images(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cat.png").respond_with_data(png(), content_type="image/png")
    httpserver.expect_request("/broken.png").respond_with_data(
        b"\x89PNG\r\n\x1a\nthis is not the rest of a png", content_type="image/png"
    )
    big = os.urandom(60_000)  # over images_max_mb = 0.02 (about 20 KB)
    httpserver.expect_request("/huge.png").respond_with_data(big, content_type="image/png")


async def test_images_on_draw_under_their_alt_text_and_failures_are_one_line(
    tmp_path: Path, httpserver: HTTPServer
):
    serve_images(httpserver)
    paths = make_paths(tmp_path)
    store = image_store(paths.store, httpserver.url_for("/"))
    config = make_config('images = "on"\nimages_max_mb = 0.02\n')
    try:
        app = make_app(store, paths, config, images=True)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            view = screen.item_view
            await wait_for(pilot, lambda: "image 3 not shown" in "\n".join(view.plain_lines()))
            lines = view.plain_lines()
            cat = next(i for i, line in enumerate(lines) if "[img 1: a red cat]" in line)
            assert set(lines[cat + 1].strip()) == {"▀"}  # the picture, right under its alt text
            text = "\n".join(lines)
            assert "(image 2 not shown: the image is broken" in text
            assert "(image 3 not shown: " in text and "larger than" in text
            for alt in ("[img 2: broken one]", "[img 3: too big]"):
                assert alt in text  # alt text always there
            assert "cat.png (image)" in view.links_plain  # and the numbered links
            assert (paths.cache / "images").is_dir()  # cached on disk
    finally:
        store.close()


async def test_images_off_keep_alt_text_and_links_and_fetch_nothing(
    tmp_path: Path, httpserver: HTTPServer
):
    serve_images(httpserver)
    paths = make_paths(tmp_path)
    store = image_store(paths.store, httpserver.url_for("/"))
    try:
        app = make_app(store, paths, make_config('images = "off"\n'), images=True)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            await settle(pilot)
            text = "\n".join(screen.item_view.plain_lines())
            assert "[img 1: a red cat]" in text and "▀" not in text
            assert "cat.png (image)" in screen.item_view.links_plain
            assert httpserver.log == []
    finally:
        store.close()


async def test_a_terminal_without_colours_keeps_links(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch
):
    """Half blocks need colours: with NO_COLOR the pane is as with images off."""
    serve_images(httpserver)
    monkeypatch.setenv("NO_COLOR", "1")
    paths = make_paths(tmp_path)
    store = image_store(paths.store, httpserver.url_for("/"))
    try:
        app = make_app(store, paths, make_config('images = "on"\n'), images=True)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            await settle(pilot)
            assert "[img 1: a red cat]" in screen.item_view.body_plain
            assert "cat.png (image)" in screen.item_view.links_plain
            assert httpserver.log == []
    finally:
        store.close()


def test_image_rows_keep_the_aspect_within_the_width():
    wide = Image.new("RGBA", (400, 100), (0, 255, 0, 0))
    decoded = image_service.decode_image(png_of(wide), box=(80, 16))
    rows = image_service.image_rows(decoded, 30)
    assert rows and {len(r.plain) for r in rows} == {30}  # cut to the pane, not cropped
    assert set("".join(r.plain for r in rows)) == {"▀"}
    assert len(rows) < 30 / 2  # still four times wider than high (cells are 1:2)
    assert image_service.image_rows(image_service.DecodedImage(error="x"), 30) == []


def pixel_app(tmp_path: Path, httpserver: HTTPServer, protocol: str):  # type: ignore[no-untyped-def]
    """(store, app) for one image near the top of an item long enough to page past
    it, drawn with ``protocol``; the app records what it writes to the terminal."""
    httpserver.expect_request("/cat.png").respond_with_data(png(), content_type="image/png")
    paths = make_paths(tmp_path)
    content = f"<p>Look:</p><p><img src='{httpserver.url_for('/cat.png')}' alt='a red cat'></p>"
    content += "".join(f"<p>Paragraph {i}.</p>" for i in range(80))
    store = one_item_store(paths.store, "https://blog.example/post", content)
    config = make_config(f'images = "on"\nimages_protocol = "{protocol}"\n')
    app = make_app(store, paths, config, images=True)
    app.terminal_log = []
    return store, app


async def test_kitty_images_are_placeholder_cells_and_sent_once(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch
):
    """Kitty graphics: the image crosses to the terminal once, through the app's
    writer, and the pane shows it as placeholder cells naming that image."""
    monkeypatch.setenv("COLORTERM", "truecolor")
    store, app = pixel_app(tmp_path, httpserver, "kitty")
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            view = screen.item_view

            def cells() -> list[str]:
                return [line for line in view.plain_lines() if "\U0010eeee" in line]

            await wait_for(pilot, lambda: bool(cells()), what="placeholder rows")
            lines = view.plain_lines()
            cat = next(i for i, line in enumerate(lines) if "[img 1: a red cat]" in line)
            assert "\U0010eeee" in lines[cat + 1]  # right under its alt text
            sent = [w for w in app.terminal_log if "\x1b_Ga=T" in w]
            assert len(sent) == 1
            image_id = int(re.search(r"i=(\d+)", sent[0]).group(1))  # type: ignore[union-attr]
            assert f"i={image_id},c={cells()[0].count(chr(0x10EEEE))}," in sent[0]
            await pilot.press("j")  # the next item, then back: the terminal still has it
            await wait_for(pilot, lambda: not cells(), what="the second item")
            await pilot.press("k")
            await wait_for(pilot, lambda: bool(cells()), what="the image again")
            assert len([w for w in app.terminal_log if "\x1b_Ga=T" in w]) == 1
    finally:
        store.close()


async def test_sixel_images_are_painted_over_their_rows_while_wholly_on_screen(
    tmp_path: Path, httpserver: HTTPServer
):
    store, app = pixel_app(tmp_path, httpserver, "sixel")
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            view = screen.item_view

            def painted() -> list[str]:
                return [w for w in app.terminal_log if "\x1bP0;1;0q" in w]

            await wait_for(pilot, lambda: bool(painted()), what="a sixel")
            lines = view.plain_lines()
            first = next(i for i, line in enumerate(lines) if "[img 1: a red cat]" in line) + 1
            assert set(lines[first].strip()) == {"▀"}  # its half blocks are under it
            region = view.scrollable_content_region
            at = f"\x1b7\x1b[{region.y + first + 1};{region.x + 1}H\x1bP"
            assert painted()[-1].startswith(at) and painted()[-1].endswith("\x1b\\\x1b8")
            count = len(painted())
            await pilot.press("space")  # paged past it: not painted over other text
            await wait_for(pilot, lambda: view.scroll_y > first, what="paging down")
            await settle(pilot)
            assert len(painted()) == count
            await pilot.press("b")  # back: painted again, over the repainted rows
            await wait_for(pilot, lambda: len(painted()) > count, what="the sixel again")
            count = len(painted())
            await pilot.press("question_mark")  # a screen above: nothing painted over it
            await wait_for(pilot, lambda: not app.screen.is_current or app.screen is not screen)
            await settle(pilot)
            assert len(painted()) == count
            await pilot.press("escape")  # closed: the main screen is repainted, and so is it
            await wait_for(pilot, lambda: len(painted()) > count, what="the sixel after help")
    finally:
        store.close()


def png_of(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


async def test_a_slow_image_never_blocks_moving_or_scrolling(
    tmp_path: Path, httpserver: HTTPServer
):
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(20)
        return Response(png(), content_type="image/png")

    httpserver.expect_request("/cat.png").respond_with_handler(slow)
    paths = make_paths(tmp_path)
    content = "<p>" + "Long paragraph. " * 400 + "</p>"
    content += f"<p><img src='{httpserver.url_for('/cat.png')}' alt='slow cat'></p>"
    store = one_item_store(paths.store, "https://blog.example/p", content)
    try:
        app = make_app(store, paths, make_config('images = "on"\n'), images=True)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            await wait_for(pilot, lambda: len(httpserver.log) == 0 and not release.is_set())
            await pilot.press("space")  # pages the item while the image is on its way
            await wait_for(pilot, lambda: screen.item_view.scroll_y > 0, what="scrolled")
            await pilot.press("j")
            await wait_for(pilot, lambda: screen.item_view.body_plain.startswith("Two."))
            release.set()
            await pilot.press("k")
            await wait_for(pilot, lambda: "▀" in "\n".join(screen.item_view.plain_lines()))
    finally:
        release.set()
        store.close()


# ------------------------------------------------------------ saved views
async def test_saved_views_in_the_picker_with_counts_and_saving_one(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    config_file = paths.config_file
    config_file.write_text(
        '# my settings\ntheme = "veille-dark"\n\n[views.story3]\nsearch = "story 3"\n'
    )
    from veille.config import load_config

    try:
        app = make_app(store, paths, load_config(config_file))
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, ViewPickScreen))
            picker = pilot.app.screen
            await wait_for(pilot, lambda: picker.counted, what="counts")
            labels = [
                " ".join(str(o.prompt).split()) for o in picker.query_one("#pick-list").options
            ]
            n3 = store.count(store_filter("story 3"))
            assert labels[:4] == [f"Unread ({store.totals()[0]:,})", "Starred (0)", "Shared (0)",
                                  f"All ({len(store):,})"]  # fmt: skip
            assert "Today (" in labels[4] and any(lbl == f"Story3 ({n3})" for lbl in labels)
            assert any(lbl.startswith("Drafts") for lbl in labels)
            index = next(i for i, lbl in enumerate(labels) if lbl.startswith("Story3"))
            await pilot.press("home", *["down"] * index, "enter")
            await wait_for(pilot, lambda: screen.view.kind == "view" and not screen.stream.loading)
            assert len(screen.stream.ids) == n3
            assert "View: Story3" in screen.status_text
            # save the starred view plus a search under a name
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
            await pilot.press("home", "down", "enter")  # Starred
            await wait_for(pilot, lambda: screen.view.kind == "starred")
            await pilot.press("slash", *"feed 1", "enter")
            await wait_for(pilot, lambda: screen.view.search == "feed 1")
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
            choices = pilot.app.screen.choices
            index = next(i for i, (k, _) in enumerate(choices) if k == "save:")
            await pilot.press("home", *["down"] * index, "enter")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
            await pilot.press(*"starred1", "enter")
            await toast(pilot, "Saved the view “starred1”")
            text = config_file.read_text()
            assert text.startswith("# my settings")  # the user's comments kept
            assert "[views.starred1]" in text and 'search = "feed 1"' in text
            assert "starred = true" in text
            await wait_for(
                pilot, lambda: screen.view.kind == "view" and screen.view.value == "starred1"
            )
            # a name in use is one line
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
            choices = pilot.app.screen.choices  # starred1 is one of them now
            assert any(key == "view:starred1" for key, _ in choices)
            index = next(i for i, (k, _) in enumerate(choices) if k == "save:")
            await pilot.press("home", *["down"] * index, "enter")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
            await pilot.press(*"story3", "enter")
            await toast(pilot, "View not saved: a view named 'story3' exists already")
    finally:
        store.close()


def alerted():
    from veille.domain.filter import ItemFilter

    return ItemFilter(alerted=True)


def store_filter(search: str):
    from veille.domain.filter import ItemFilter

    return ItemFilter(search=search)


async def test_default_view_wins_over_the_view_left_last_time(tmp_path: Path):
    from veille.tui.state import UIState, save_state

    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    store.set_state(store.ordered_ids()[:2], starred=True)
    save_state(paths.state / "ui.json", UIState(view={"kind": "unread", "value": ""}))
    try:
        app = make_app(store, paths, make_config('default_view = "starred"'))
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            assert screen.view.kind == "starred" and len(screen.stream.ids) == 2
        save_state(paths.state / "ui.json", UIState(view={"kind": "view", "value": "today"}))
        app = make_app(store, paths)  # no default: the view left last time
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            assert screen.view.kind == "view" and screen.view.value == "today"
            assert "View: Today" in screen.status_text
    finally:
        store.close()


# ------------------------------------------------------------ rules, alerts
async def test_rules_add_mute_and_alert_remove_undo_and_the_status_counts(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    try:
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            total = store.totals()[1]
            await pilot.press("M")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, RulesScreen))
            rules = pilot.app.screen
            await wait_for(pilot, lambda: "0 mute rules · 0 alerts" in rules.status_text)
            # a bad pattern: one line at once, nothing added
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
            await pilot.press("home", "down", "down", "down", "enter")  # title pattern
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
            await pilot.press(*"story (", "enter")
            await toast(pilot, "Rule not added: bad regular expression 'story ('")
            assert store.rules() == []
            # mute the titles of feed 2
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
            await pilot.press("home", "down", "down", "down", "enter")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
            await pilot.press(*"from feed 2$", "enter")
            await toast(pilot, "Added rule 1: mute title ~ /from feed 2$/ (8 items hidden)")
            await wait_for(pilot, lambda: any("8 items hidden" in x for x in rules.lines()))
            assert store.totals()[1] == total - 8
            # an alert that stars "story 1 " items
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
            await pilot.press("home", "down", "down", "down", "enter")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
            await pilot.press(*"story 1 ", "enter")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
            await pilot.press("home", "down", "enter")  # star what it matches
            await toast(pilot, "Added rule 2: alert title ~ /story 1 / → star (")
            n = store.alert_counts()[2]
            assert n > 0 and all(store.get_item(i).starred for i in store.ids(alerted()))
            await wait_for(pilot, lambda: f"{n} unread · " in "\n".join(rules.lines()))
            await pilot.press("escape")
            await wait_for(
                pilot,
                lambda: main_shown(pilot.app),
            )
            await wait_for(pilot, lambda: f"⚑ story 1 {n}" in screen.status_text, what="alerts")
            # remove the mute, then undo that
            await pilot.press("M")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, RulesScreen))
            rules = pilot.app.screen
            await wait_for(pilot, lambda: len(rules.rows) == 2)
            await pilot.press("home", "d")
            await toast(pilot, "Removed rule 1")
            await wait_for(pilot, lambda: store.totals()[1] == total)
            await pilot.press("u")
            await toast(pilot, "Undid removing rule 1")
            await wait_for(pilot, lambda: store.totals()[1] == total - 8)
    finally:
        store.close()


# -------------------------------------------------------------------- tmux
@pytest.mark.skipif(sys.platform == "win32", reason="tmux")
@pytest.mark.parametrize("protocol", ["auto", "kitty"])
def test_tmux_paints_and_scrolls_with_images_on(
    tmp_path: Path, httpserver: HTTPServer, protocol: str
):
    """In a real terminal (tmux): ``auto`` is half blocks there; ``kitty`` sends
    the image once through tmux's passthrough and draws placeholder cells; the
    app paints, scrolls, pages and quits cleanly either way."""
    import shutil

    if shutil.which("tmux") is None:
        pytest.skip("tmux is absent")
    from tests.test_tui_tmux import _capture, _tmux

    httpserver.expect_request("/cat.png").respond_with_data(png(80, 60), content_type="image/png")
    paths = make_paths(tmp_path)
    content = f"<p>Look:</p><p><img src='{httpserver.url_for('/cat.png')}' alt='tmux cat'></p>"
    content += "".join(f"<p>Paragraph {i}.</p>" for i in range(60))
    one_item_store(paths.store, "https://blog.example/p", content).close()
    paths.config_file.write_text(f'images = "on"\nimages_protocol = "{protocol}"\n')
    drawn = "▀" if protocol == "auto" else "\U0010eeee"
    exe = Path(sys.executable).parent / "veille"
    cmd = str(exe) if exe.exists() else f"{sys.executable} -m veille"
    session = f"veille-img-{tmp_path.name}"[:40]
    done = tmp_path / "exit-code"
    raw = tmp_path / "raw.out"
    inner = (
        f"unset COLUMNS LINES; COLORTERM=truecolor VEILLE_HOME={tmp_path / 'home'} {cmd}; "
        f"echo $? > {done}"
    )
    sock = f"veille-img-{os.getpid()}"
    _tmux(sock, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", inner, check=True)
    _tmux(sock, "pipe-pane", "-O", "-t", session, f"cat > {raw}", check=True)

    def until(cond, seconds: float = 20) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(0.1)
        return bool(cond())

    try:
        assert until(lambda: "[img 1: tmux cat]" in (s := _capture(sock, session)) and drawn in s)
        _tmux(sock, "send-keys", "-t", session, "space", check=True)  # page the item down
        assert until(lambda: "[img 1: tmux cat]" not in _capture(sock, session))
        _tmux(sock, "send-keys", "-t", session, "b", check=True)  # and up again
        assert until(lambda: drawn in _capture(sock, session))
        _tmux(sock, "send-keys", "-t", session, "j", check=True)
        assert until(lambda: "Two." in _capture(sock, session))  # the pane followed
        _tmux(sock, "send-keys", "-t", session, "q", check=True)
        assert until(lambda: done.exists() and done.read_text().strip() != "")
        assert done.read_text().strip() == "0"
        sent = raw.read_bytes()
        if protocol == "kitty":  # once, wrapped for tmux (ESC doubled inside)
            assert sent.count(b"\x1bPtmux;\x1b\x1b_Ga=T,U=1,f=100,") == 1
        else:
            assert b"_Ga=T" not in sent
    finally:
        _tmux(sock, "kill-server")


FIRST_PAINT_MODULES = """
import asyncio, json, sys
from pathlib import Path
from tests.tui_helpers import make_app, make_paths
from veille.config import Config
from veille.store.store import Store
from veille.tui import messages

seen = {}
paths = make_paths(Path(sys.argv[1]))
store = Store(paths.store)
app = make_app(store, paths, Config({"images": "on"}), images=True)
original = type(app).on_first_paint

def on_first_paint(self, event):
    seen.setdefault("at_first_paint", sorted(sys.modules))
    original(self, event)

type(app).on_first_paint = on_first_paint

async def main():
    async with app.run_test(size=(120, 40)) as pilot:
        while "at_first_paint" not in seen:
            await pilot.pause(0.02)
        while app.screen.item_view.image_loader is None:
            await pilot.pause(0.02)
        seen["later"] = sorted(sys.modules)

asyncio.run(main())
store.close()
print(json.dumps(seen))
"""


def test_images_load_after_the_first_paint(tmp_path: Path) -> None:
    """Pillow and the image service (~25 ms of imports) are not on the way to the
    first painted stream; they come right after it, with images on."""
    import json
    import subprocess

    one_item_store(make_paths(tmp_path).store, "https://blog.example/p", "<p>Hi.</p>").close()
    out = subprocess.run(
        [sys.executable, "-c", FIRST_PAINT_MODULES, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    for module in ("PIL.Image", "veille.tui.services.images", "veille.render.graphics"):
        assert module not in seen["at_first_paint"]
        assert module in seen["later"]
