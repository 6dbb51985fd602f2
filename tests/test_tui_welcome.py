"""First run: the welcome screen adds a feed or imports OPML right there."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.tui_helpers import CORPUS, make_app, make_paths
from veille.store.store import Store
from veille.tui.screens.main import MainScreen
from veille.tui.screens.welcome import WelcomeScreen

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Tiny</title>
<link>http://x/</link><item><title>Hello [bold]world</title><guid>1</guid>
<link>http://127.0.0.1/1</link></item></channel></rss>"""


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        self.wfile.write(FEED)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()


async def _wait_for(pilot, test, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.1)):
        await pilot.pause(0.1)
        if test():
            return
    raise AssertionError("condition never became true")


async def test_welcome_then_add_a_feed(tmp_path: Path, feed_url: str):
    paths = make_paths(tmp_path)
    store = Store(paths.store)
    try:
        app = make_app(store, paths)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, WelcomeScreen)
            app.screen.query_one("#welcome-url", Input).value = feed_url
            await pilot.press("enter")
            await _wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            screen = app.screen
            await _wait_for(pilot, lambda: bool(screen.stream.ids))
            assert store.get_item(screen.stream.ids[0]).title == "Hello [bold]world"
            assert "Hello [bold]world" in screen.stream.render_line(0).text
    finally:
        store.close()


async def test_welcome_reports_bad_input(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = Store(paths.store)
    try:
        app = make_app(store, paths)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.screen.query_one("#welcome-opml", Input).value = str(tmp_path / "nope.opml")
            app.screen.query_one("#welcome-opml", Input).focus()
            await pilot.press("enter")
            await pilot.pause()
            status = str(app.screen.query_one("#welcome-status").content)
            assert "nope.opml" in status
            assert isinstance(app.screen, WelcomeScreen)
    finally:
        store.close()


async def test_welcome_imports_opml(tmp_path: Path):
    opml = CORPUS / "opml" / "newsboat" / "example.opml"
    if not opml.is_file():
        pytest.skip("../shared/corpus is absent")
    paths = make_paths(tmp_path)
    store = Store(paths.store)
    try:
        app = make_app(store, paths)
        app.start_refresh = lambda *a, **k: None  # no network in this test
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.screen.query_one("#welcome-opml", Input).value = str(opml)
            app.screen.query_one("#welcome-opml", Input).focus()
            await pilot.press("enter")
            await _wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            assert store.feeds()
    finally:
        store.close()
