"""Every key of the main screen, driven through Pilot on synthetic and real feeds."""

from __future__ import annotations

import json
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.tui_helpers import (
    ANSI_TITLE,
    CORPUS,
    HOSTILE_TITLE,
    MARKUP_TITLE,
    build_store,
    corpus_store,
    make_app,
    make_config,
    make_paths,
)
from veille.domain.records import Draft
from veille.store.store import Store
from veille.tui.screens.main import MainScreen
from veille.tui.screens.pickers import AskScreen, PickScreen

SIZE = (160, 50)


@pytest.fixture
def env(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    yield store, paths
    store.close()


async def started(pilot) -> MainScreen:
    for _ in range(50):
        await pilot.pause()
        if isinstance(pilot.app.screen, MainScreen):
            await pilot.pause(0.1)  # the item pane follows the cursor after a moment
            return pilot.app.screen
    raise AssertionError(f"main screen never showed: {pilot.app.screen_stack}")


def row_text(screen: MainScreen, y: int) -> str:
    return screen.stream.render_line(y).text


def current(screen: MainScreen) -> dict:
    return screen.app.store.get_item(screen.stream.current_id)


async def test_stream_is_newest_first_and_status_counts(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert screen.stream.ids == store.ordered_ids()
        await pilot.pause(0.7)  # counts come from a thread
        status = str(screen.query_one("#status").render())
        assert "unread /" in status and f"{len(store)}" in status


async def test_move_keys(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        s = screen.stream
        await pilot.press("j", "j", "down")
        assert s.cursor == 3
        await pilot.press("k", "up")
        assert s.cursor == 1
        await pilot.press("G")
        assert s.cursor == len(s.ids) - 1
        await pilot.press("g")
        assert s.cursor == 0


async def test_next_and_previous_unread(env):
    store, paths = env
    ids = store.ordered_ids()
    store.set_state(ids[1:4], read=True)
    app = make_app(store, paths, make_config("mark_read_delay = 60"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("n")
        assert screen.stream.cursor == 4
        await pilot.press("N")
        assert screen.stream.cursor == 0


async def test_opening_marks_read_and_m_toggles(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        iid = screen.stream.current_id
        assert store.get_item(iid).read is True  # mark_read_delay = 0
        await pilot.press("m")
        assert store.get_item(iid).read is False
        assert row_text(screen, 0).startswith("●")
        await pilot.press("m")
        assert store.get_item(iid).read is True


async def test_mark_read_delay(env):
    store, paths = env
    app = make_app(store, paths, make_config("mark_read_delay = 30"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.pause(0.2)
        assert store.get_item(screen.stream.current_id).read is False


async def test_star_dismiss_and_multilevel_undo(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        first = screen.stream.current_id
        await pilot.press("s")
        assert store.get_item(first).starred is True
        assert "★" in row_text(screen, 0)
        await pilot.press("x")  # dismiss: read + hidden, then on to the next
        assert store.get_item(first).hidden is True
        assert screen.stream.current_id != first
        await pilot.press("u")
        assert store.get_item(first).hidden is False
        await pilot.press("u")
        assert store.get_item(first).starred is False


async def test_dismiss_removes_from_unread_view(env):
    store, paths = env
    app = make_app(store, paths)
    app.ui.view = {"kind": "unread", "value": ""}
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        victim = screen.stream.current_id
        n = len(screen.stream.ids)
        await pilot.press("x")
        assert victim not in screen.stream.ids
        assert len(screen.stream.ids) == n - 1


async def test_mark_all_read_is_undoable(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("A")
        assert all(store.get_item(i).read for i in screen.stream.ids)
        await pilot.press("u")
        unread = [i for i in screen.stream.ids if not store.get_item(i).read]
        assert len(unread) == len(screen.stream.ids) - 1  # the opened one stays read


async def test_space_and_b_page_the_item(tmp_path):
    paths = make_paths(tmp_path)
    store = Store(paths.store)
    from veille.domain.entries import ParsedEntry, ParsedFeed

    feed, _ = store.add_feed("https://long.example/feed", title="Long")
    body = "".join(f"<p>Paragraph {i} of a long article.</p>" for i in range(200))
    store.upsert_entries(
        feed.id,
        ParsedFeed(entries=[ParsedEntry(key=k, title=k, content=body) for k in ("a", "b")]),
    )
    try:
        async with make_app(store, paths).run_test(size=SIZE) as pilot:
            screen = await started(pilot)
            view = screen.item_view
            await pilot.press("space")
            await pilot.pause()
            assert view.scroll_y > 0
            y = view.scroll_y
            await pilot.press("space")
            await pilot.press("b")
            await pilot.pause()
            assert view.scroll_y == y
    finally:
        store.close()


async def test_enter_tab_escape_and_composer_draft(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("enter")
        assert pilot.app.focused is screen.item_view
        await pilot.press("tab")
        assert pilot.app.focused is screen.composer.area
        await pilot.press("escape")
        assert pilot.app.focused is screen.stream
        await pilot.press("c")
        assert pilot.app.focused is screen.composer.area
        # The text box holds your comment; title, link and "via" are in the preview.
        assert current(screen).title in screen.composer.preview.text_of("atom")
        await pilot.press(*"Must read")
        iid = screen.stream.current_id
        assert store.get_draft(iid).text.startswith("Must read")
        await pilot.pause(0.3)
    # the draft is on disk, as another process sees it
    other = Store(paths.store, autoflush=False)
    assert other.get_draft(iid).text.startswith("Must read")


async def test_draft_comes_back_for_its_item(env):
    store, paths = env
    iid = store.ordered_ids()[1]
    store.save_draft(Draft(item_id=iid, text="half-written thought"))
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("j")
        await pilot.pause(0.1)
        assert screen.composer.text == "half-written thought"


async def test_open_link_numbered_links_and_refusal(env, monkeypatch):
    store, paths = env
    opened: list[str] = []
    monkeypatch.setattr("veille.tui.app.webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.delenv("BROWSER", raising=False)
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        item = current(screen)
        await pilot.press("o")
        await pilot.press("2", "o")  # [2] is the relative link, made absolute
        await pilot.press("3", "o")  # [3] the image
        await pilot.press("9", "o")  # no such link
        await pilot.pause(0.2)
        assert opened[0] == item.link
        assert opened[1].startswith("https://site") and "/rel/" in opened[1]
        assert opened[2].startswith("https://img.example/")
        assert len(opened) == 3
        pilot.app.open_in_browser("file:///etc/passwd")
        pilot.app.open_in_browser("javascript:alert(1)")
        await pilot.pause(0.1)
        assert len(opened) == 3
        assert any("Not opening" in n.message for n in pilot.app._notifications)


async def test_copy_link(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("y")
        assert pilot.app.clipboard == current(screen).link
        await pilot.press("1", "y")
        assert pilot.app.clipboard.endswith("/a/0")


async def test_search_is_incremental_and_escape_clears(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        total = len(screen.stream.ids)
        await pilot.press("slash", *"story 3")
        await pilot.pause(0.2)
        ids = screen.stream.ids
        assert ids and len(ids) < total
        assert all("Story 3" in store.get_item(i).title for i in ids)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert len(screen.stream.ids) == total


async def test_search_matches_source_and_author(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("slash", *"site 1", "enter")
        await pilot.pause(0.2)
        feed_ids = {store.get_item(i).feed for i in screen.stream.ids}
        assert len(feed_ids) == 1
        assert pilot.app.focused is screen.stream


async def test_filter_views(env):
    store, paths = env
    starred = store.ordered_ids()[5]
    store.set_state([starred], starred=True)
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(pilot.app.screen, PickScreen)
        await pilot.press("home", "down", "enter")  # Unread, [Starred], Shared, All, feeds...
        await pilot.pause()
        assert screen.stream.ids == [starred]
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("home", "down", "down", "down", "down", "enter")  # the first feed
        await pilot.pause()
        assert screen.view.kind == "feed"
        assert {store.get_item(i).feed for i in screen.stream.ids} == {screen.view.value}
    saved = json.loads((paths.state / "ui.json").read_text())
    assert saved["view"]["kind"] == "feed"


async def test_edit_tags_and_tag_view(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        iid = screen.stream.current_id
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(pilot.app.screen, AskScreen)
        await pilot.press(*"ai, ml", "enter")
        await pilot.pause()
        assert store.get_item(iid).tags == ("ai", "ml")
        await pilot.press("u")
        assert not store.get_item(iid).tags


async def test_help_lists_rebound_keys_and_q_quits(env):
    store, paths = env
    app = make_app(store, paths, make_config('[keys]\nnext_unread = "J"'))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        store.set_state(store.ordered_ids()[1:3], read=True)
        await pilot.press("n")
        assert screen.stream.cursor == 0  # n no longer bound
        await pilot.press("J")
        assert screen.stream.cursor == 3
        await pilot.press("question_mark")
        await pilot.pause()
        from veille.tui.screens.help import HelpScreen

        assert isinstance(pilot.app.screen, HelpScreen)
        table = pilot.app.screen.query_one("#help-table").content
        from rich.console import Console

        console = Console(width=100, record=True)
        console.print(table)
        text = console.export_text()
        assert "J" in text and "Next unread" in text
        await pilot.press("escape")
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_theme_cycle_is_remembered(env):
    store, paths = env
    app = make_app(store, paths)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.theme == "veille-dark"
        await pilot.press("ctrl+t")
        assert app.theme != "veille-dark"
        chosen = app.theme
    assert json.loads((paths.state / "ui.json").read_text())["theme"] == chosen
    app2 = make_app(store, paths)
    async with app2.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app2.theme == chosen


async def test_pane_sizes_are_adjustable_and_saved(env):
    store, paths = env
    app = make_app(store, paths)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        before = screen.query_one("#stream-pane").size.width
        await pilot.press("right_square_bracket", "right_curly_bracket")
        await pilot.pause()
        assert screen.query_one("#stream-pane").size.width > before
    saved = json.loads((paths.state / "ui.json").read_text())
    assert saved["stream_width"] == 50 and saved["composer_height"] == 10


async def test_narrow_shows_one_pane_and_tab_cycles(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=(80, 24)) as pilot:
        screen = await started(pilot)
        assert screen.narrow
        assert screen.stream.display and not screen.query_one("#right").display
        await pilot.press("tab")
        await pilot.pause()
        assert screen.item_view.display and not screen.query_one("#stream-pane").display
        await pilot.press("tab")
        await pilot.pause()
        assert screen.composer.display and not screen.item_view.display
        await pilot.press("escape")
        await pilot.pause()
        assert screen.query_one("#stream-pane").display


async def test_palette_has_the_actions(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        titles = [c.title for c in pilot.app.get_system_commands(screen)]
        for want in ("Next unread", "Dismiss", "Search", "Theme: veille-light", "Keys"):
            assert want in titles


async def test_feed_text_is_never_markup(env):
    store, paths = env
    app = make_app(store, paths)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("G")
        await pilot.pause()
        lines = [row_text(screen, y) for y in range(len(screen.stream.ids))]
        joined = "\n".join(lines)
        assert HOSTILE_TITLE in joined
        assert MARKUP_TITLE in joined
        assert "\x1b" not in joined and "\x07" not in joined
        assert "red alert" in joined and ANSI_TITLE not in joined
        assert "[b]Evil[/b]" in joined
        # clicking the hostile title does nothing but select it
        row = next(y for y, line in enumerate(lines) if HOSTILE_TITLE in line)
        await pilot.click("#stream", offset=(40, row))
        await pilot.pause()
        assert app.is_running
        assert current(screen).title == HOSTILE_TITLE
        body = str(screen.query_one("#item-body").render())
        assert "\x1b" not in body and "[red]markup[/red]" in body


async def test_new_items_do_not_move_the_cursor(env):
    store, paths = env
    from tests.tui_helpers import NOW, entries
    from veille.domain.entries import ParsedFeed

    async with make_app(store, paths).run_test(size=(160, 16)) as pilot:
        screen = await started(pilot)
        await pilot.press("j", "j", "j")
        iid = screen.stream.current_id
        row_on_screen = screen.stream.cursor - screen.stream.scroll_offset.y
        feed = store.feeds()[0]
        new = entries(7, 5, start=NOW.replace(year=2027))
        store.upsert_entries(feed.id, ParsedFeed(entries=new))
        pilot.app._store_changed()
        await pilot.pause()
        assert screen.stream.current_id == iid
        assert screen.stream.cursor - screen.stream.scroll_offset.y == row_on_screen
        assert len(screen.stream.ids) == len(store)


async def test_sync_shows_items_from_another_process(env):
    store, paths = env
    from veille.domain.entries import ParsedEntry, ParsedFeed

    app = make_app(store, paths, sync_seconds=0.2)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        n = len(screen.stream.ids)
        other = Store(paths.store, autoflush=False)
        feed = other.feeds()[0]
        other.upsert_entries(
            feed.id, ParsedFeed(entries=[ParsedEntry(key="zz", title="From cron")])
        )
        other.flush()
        for _ in range(40):
            await pilot.pause(0.1)
            if len(screen.stream.ids) > n:
                break
        assert len(screen.stream.ids) == n + 1


async def test_worker_crash_is_a_notification(env, monkeypatch):
    store, paths = env

    async def boom(*a, **k):
        raise OSError("network is down [bold]")

    monkeypatch.setattr("veille.tui.app.refresh_feeds", boom)
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("r")
        for _ in range(30):
            await pilot.pause(0.05)
            if pilot.app._notifications:
                break
        assert pilot.app.is_running
        messages = [n.message for n in pilot.app._notifications]
        assert any("network is down [bold]" in m for m in messages)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def corpus_server():
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    handler = partial(_Quiet, directory=str(CORPUS / "feeds"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_refresh_keys_fetch_in_background(tmp_path, corpus_server):
    paths = make_paths(tmp_path)
    store = Store(paths.store)
    a, _ = store.add_feed(f"{corpus_server}/feedjira/FeedjiraBlog.xml", title="Feedjira")
    b, _ = store.add_feed(f"{corpus_server}/feedjira/CRE.xml", title="CRE")
    try:
        async with make_app(store, paths).run_test(size=SIZE) as pilot:
            screen = await started(pilot)
            assert screen.stream.ids == []
            await pilot.press("r")
            await pilot.press("j")  # input keeps flowing during the refresh
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (not screen.stream.ids or pilot.app._refreshing):
                await pilot.pause(0.1)
            assert screen.stream.ids
            feeds = {store.get_item(i).feed for i in screen.stream.ids}
            assert feeds == {a.id, b.id}
            await pilot.press("R")  # this feed only
            deadline = time.monotonic() + 20
            await pilot.pause(0.1)
            while time.monotonic() < deadline and pilot.app._refreshing:
                await pilot.pause(0.1)
            assert store.get_feed(a.id).status != "new"
    finally:
        store.close()


async def test_real_feeds_render_with_numbered_links(tmp_path):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    paths = make_paths(tmp_path)
    store = corpus_store(paths.store)
    try:
        async with make_app(store, paths).run_test(size=SIZE) as pilot:
            screen = await started(pilot)
            seen_links = 0
            for _ in range(len(screen.stream.ids)):
                await pilot.pause(0.1)
                header = str(screen.query_one("#item-header").render())
                assert store.get_item(screen.stream.current_id).title[:20] in header
                seen_links += len(screen.item_view.links)
                await pilot.press("j")
            assert seen_links > 0
            assert "Links:" in str(screen.query_one("#item-links").render()) or seen_links
    finally:
        store.close()
