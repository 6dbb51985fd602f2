"""Every key of the main screen, driven through Pilot on synthetic and real feeds.

Waits are for conditions (the panes showing the item, workers done), never fixed
sleeps; assertions read what the user sees (rows, panes, status bar, toasts) or
what another process would read from the store.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.tui_helpers import (
    ANSI_TITLE,
    CORPUS,
    HOSTILE_TITLE,
    MARKUP_TITLE,
    ManualTimers,
    build_store,
    corpus_store,
    make_app,
    make_config,
    make_paths,
    screen_lines,
    settle,
    started,
    toasts,
    wait_for,
)
from veille.domain.records import Draft
from veille.render.hygiene import clean_line
from veille.store.store import Store
from veille.tui.screens.help import HelpScreen
from veille.tui.screens.main import MainScreen
from veille.tui.screens.pickers import AskScreen, PickScreen

SIZE = (160, 50)


@pytest.fixture
def env(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    yield store, paths
    store.close()


async def shown(pilot, screen: MainScreen) -> None:
    """Wait until the item pane and the composer follow the cursor row."""
    await wait_for(
        pilot,
        lambda: (
            screen.item_view.item_id == screen.stream.current_id
            and screen.composer.item_id == screen.stream.current_id
        ),
        what="the panes following the cursor",
    )


def row_text(screen: MainScreen, y: int) -> str:
    return screen.stream.render_line(y).text


def current(screen: MainScreen):
    return screen.session.store.get_item(screen.stream.current_id)


async def test_stream_is_newest_first_and_status_counts(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        assert screen.stream.ids == store.ordered_ids()
        unread, total = store.totals()
        await wait_for(pilot, lambda: f"{unread:,} unread / {total:,}" in screen.status_text)


async def test_move_keys(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
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


async def test_G_shows_the_last_row(tmp_path):
    """No horizontal scrollbar may hide the stream's last row."""
    paths = make_paths(tmp_path)
    store = build_store(paths.store, feeds=3, per_feed=20)
    try:
        async with make_app(store, paths).run_test(size=(100, 24), notifications=True) as pilot:
            screen = await started(pilot)
            await pilot.press("G")
            await pilot.pause()
            last = clean_line(store.get_item(screen.stream.ids[-1]).display_title)
            assert any(last in row for row in screen_lines(pilot.app))  # on the terminal
            assert screen.stream.scrollbars_enabled == (True, False)  # no horizontal bar
    finally:
        store.close()


async def test_next_and_previous_unread(env):
    store, paths = env
    ids = store.ordered_ids()
    store.set_state(ids[1:4], read=True)
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("n")
        assert screen.stream.cursor == 4
        await pilot.press("N")
        assert screen.stream.cursor == 0


async def test_start_and_view_switch_and_search_mark_nothing_read(env):
    """The item the app selects by itself is not seen, even with a zero delay."""
    store, paths = env
    app = make_app(store, paths, make_config("mark_read_delay = 0"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        first = screen.stream.current_id
        assert store.get_item(first).read is False
        assert row_text(screen, 0).startswith("●")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
        await pilot.press("home", "enter")  # Unread
        await shown(pilot, screen)
        assert screen.view.kind == "unread"
        assert store.get_item(screen.stream.current_id).read is False
        await pilot.press("slash", *"story 3", "enter")
        await wait_for(pilot, lambda: screen.view.search == "story 3")
        await shown(pilot, screen)
        assert store.get_item(screen.stream.current_id).read is False
        assert store.totals()[0] == len(store)  # nothing at all was marked


async def test_moving_to_an_item_with_zero_delay_marks_it_and_m_toggles(env):
    store, paths = env
    app = make_app(store, paths, make_config("mark_read_delay = 0"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("j")
        await shown(pilot, screen)
        iid = screen.stream.current_id
        assert store.get_item(iid).read is True  # moved to it: seen at once
        assert not row_text(screen, 1).startswith("●")
        await pilot.press("m")
        assert store.get_item(iid).read is False
        assert row_text(screen, 1).startswith("●")
        await pilot.press("m")
        assert store.get_item(iid).read is True


async def test_mark_read_timer_marks_the_item_the_user_stayed_on(env):
    """The default delay, on a timer the test fires: no sleeps, no race."""
    store, paths = env
    timers = ManualTimers()
    app = make_app(store, paths, timers=timers)  # mark_read_delay: the default
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        assert timers.pending == []  # the start-up selection arms nothing
        await pilot.press("j")
        await shown(pilot, screen)
        stayed = screen.stream.current_id
        assert timers.pending == [2]  # the default, >= 1.5 s
        assert store.get_item(stayed).read is False  # not before the delay
        assert timers.fire() == 1
        assert store.get_item(stayed).read is True
        assert not row_text(screen, 1).startswith("●")
        # moving on before the delay: the item left behind stays unread
        await pilot.press("j")
        await shown(pilot, screen)
        left = screen.stream.current_id
        await pilot.press("j")
        await shown(pilot, screen)
        timers.fire()
        assert store.get_item(left).read is False
        assert store.get_item(screen.stream.current_id).read is True
        # enter on an item the app selected counts as opening it
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
        await pilot.press("home", "enter")  # Unread: its first row selected by the app
        await shown(pilot, screen)
        assert timers.pending == []
        await pilot.press("enter")
        assert timers.pending == [2]
        opened = screen.stream.current_id
        timers.fire()
        assert store.get_item(opened).read is True


async def test_star_dismiss_and_multilevel_undo(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
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
        await pilot.press("u")
        await _toast(pilot, "Nothing to undo.")


async def _toast(pilot, text: str) -> bool:
    await wait_for(pilot, lambda: any(text in t for t in toasts(pilot.app)), what=text)
    return True


async def test_undo_works_after_a_restart(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        starred = screen.stream.current_id
        await pilot.press("s")
        assert store.get_item(starred).starred
    store.flush()
    again = Store(paths.store)  # as a new process opens it
    try:
        async with make_app(again, paths).run_test(size=SIZE, notifications=True) as pilot:
            await started(pilot)
            await pilot.press("u")
            assert again.get_item(starred).starred is False
            await _toast(pilot, "Undid star.")
    finally:
        again.close()


async def test_dismiss_removes_from_unread_view(env):
    store, paths = env
    app = make_app(store, paths)
    app.session.ui.view = {"kind": "unread", "value": ""}
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        victim = screen.stream.current_id
        n = len(screen.stream.ids)
        await pilot.press("x")
        assert victim not in screen.stream.ids
        assert len(screen.stream.ids) == n - 1


async def test_mark_all_read_is_undoable(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        n = len(screen.stream.ids)
        assert n <= 50  # under confirm_over: no question
        await pilot.press("A")
        assert all(store.get_item(i).read for i in screen.stream.ids)
        await _toast(pilot, f"Marked {n:,} item(s) read")
        await pilot.press("u")
        assert all(not store.get_item(i).read for i in screen.stream.ids)


async def test_mark_all_read_asks_over_confirm_over(env):
    store, paths = env
    app = make_app(store, paths, make_config("confirm_over = 5"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        n = len(screen.stream.ids)
        await pilot.press("A")
        await wait_for(pilot, lambda: pilot.app.screen is not screen, what="the question")
        question = str(pilot.app.screen.query_one("#confirm-question").content)
        assert f"Mark {n:,} items of All read?" == question
        await pilot.press("n")
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        assert store.totals()[0] == n  # nothing marked
        await pilot.press("A")
        await wait_for(pilot, lambda: pilot.app.screen is not screen)
        await pilot.press("y")
        await wait_for(pilot, lambda: store.totals()[0] == 0)


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
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
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
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
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
        await settle(pilot)  # the draft's flush runs on a thread worker
    # the draft is on disk, as another process sees it
    other = Store(paths.store, autoflush=False)
    assert other.get_draft(iid).text.startswith("Must read")


async def test_draft_comes_back_for_its_item(env):
    store, paths = env
    iid = store.ordered_ids()[1]
    store.save_draft(Draft(item_id=iid, text="half-written thought"))
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("j")
        await shown(pilot, screen)
        assert screen.composer.text == "half-written thought"


async def test_open_link_numbered_links_and_refusal(env, monkeypatch):
    store, paths = env
    opened: list[str] = []
    monkeypatch.setattr("veille.tui.app.webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.delenv("BROWSER", raising=False)
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        item = current(screen)
        await pilot.press("o")
        await pilot.press("2", "o")  # [2] is the relative link, made absolute
        await pilot.press("3", "o")  # [3] the image
        await pilot.press("9", "o")  # no such link
        await wait_for(pilot, lambda: len(opened) == 3)
        await settle(pilot)
        assert opened[0] == item.link
        assert opened[1] == "https://site0.example/rel/0"  # against the item's link
        assert opened[2].startswith("https://img.example/")
        await _toast(pilot, "No link [9] in this item.")
        pilot.app.open_in_browser("file:///etc/passwd")
        pilot.app.open_in_browser("javascript:alert(1)")
        # http(s) but no host, or a control character urlsplit would quietly drop:
        pilot.app.open_in_browser("https:///etc/passwd")
        pilot.app.open_in_browser("https://ok.example/\x1b]52;c;cGF5bG9hZA==\x07")
        await settle(pilot)
        assert len(opened) == 3
        await _toast(pilot, "Not opening a file link")
        await _toast(pilot, "Not opening this link: https:///etc/passwd")


async def test_relative_links_resolve_against_xml_base(tmp_path, monkeypatch):
    """An entry's xml:base (Content.base) wins over its link for relative links."""
    from veille.domain.entries import ParsedEntry, ParsedFeed

    paths = make_paths(tmp_path)
    store = Store(paths.store)
    feed, _ = store.add_feed("https://feed.example/atom", title="Based")
    store.upsert_entries(
        feed.id,
        ParsedFeed(
            entries=[
                ParsedEntry(
                    key="b1",
                    title="Based entry",
                    link="https://www.example/entries/1",
                    content="<p><a href='img/x.png'>x</a></p>",
                    base="https://cdn.example/blog/",
                )
            ]
        ),
    )
    opened: list[str] = []
    monkeypatch.setattr("veille.tui.app.webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.delenv("BROWSER", raising=False)
    try:
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            assert "https://cdn.example/blog/img/x.png" in screen.item_view.links_plain
            await pilot.press("1", "o")
            await wait_for(pilot, lambda: bool(opened))
            assert opened == ["https://cdn.example/blog/img/x.png"]
    finally:
        store.close()


async def test_copy_link(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("y")
        assert pilot.app.clipboard == current(screen).link
        await pilot.press("1", "y")
        assert pilot.app.clipboard.endswith("/a/0")


async def test_search_is_incremental_and_escape_clears(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        total = len(screen.stream.ids)
        await pilot.press("slash", *"story 3")
        await wait_for(pilot, lambda: screen.view.search == "story 3")
        ids = screen.stream.ids
        assert ids and len(ids) < total
        assert all("Story 3" in store.get_item(i).title for i in ids)
        assert "search “story 3”" in screen.status_text
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(screen.stream.ids) == total)


async def test_search_says_its_scope_and_offers_all_items(env):
    store, paths = env
    hidden = store.ordered_ids()[4]
    title = store.get_item(hidden).title
    store.set_state([hidden], read=True)  # out of the Unread view
    app = make_app(store, paths)
    app.session.ui.view = {"kind": "unread", "value": ""}
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("slash", *title.lower(), "enter")
        await wait_for(pilot, lambda: screen.view.search == title.lower())
        assert screen.stream.ids == []
        empty = row_text(screen, 1)
        assert f"No match for “{title.lower()}” in Unread" in empty
        assert "^f searches all items" in empty
        assert "Unread · search" in screen.status_text
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: screen.stream.ids == [hidden])
        assert screen.view.kind == "all" and screen.view.search == title.lower()
        assert "All · search" in screen.status_text


async def test_search_matches_source_and_author(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("slash", *"site 1", "enter")
        await wait_for(pilot, lambda: screen.view.search == "site 1")
        feed_ids = {store.get_item(i).feed for i in screen.stream.ids}
        assert len(feed_ids) == 1
        assert pilot.app.focused is screen.stream


async def test_filter_views(env):
    store, paths = env
    starred = store.ordered_ids()[5]
    store.set_state([starred], starred=True)
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
        await pilot.press("home", "down", "enter")  # Unread, [Starred], Shared, All, feeds...
        await wait_for(pilot, lambda: screen.stream.ids == [starred])
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
        choices = pilot.app.screen.choices  # saved views, "Save this view as…", feeds, tags
        first_feed = next(i for i, (key, _) in enumerate(choices) if key.startswith("feed:"))
        await pilot.press("home", *["down"] * first_feed, "enter")  # the first feed
        await wait_for(pilot, lambda: screen.view.kind == "feed")
        assert {store.get_item(i).feed for i in screen.stream.ids} == {screen.view.value}
    saved = json.loads((paths.state / "ui.json").read_text())
    assert saved["view"]["kind"] == "feed"


async def test_edit_tags_and_tag_view(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        iid = screen.stream.current_id
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        await pilot.press(*"ai, ml", "enter")
        await wait_for(pilot, lambda: store.get_item(iid).tags == ("ai", "ml"))
        assert "Tags: ai, ml" in screen.item_view.header_plain
        await pilot.press("u")
        assert not store.get_item(iid).tags


def _help_text(app) -> str:
    from rich.console import Console

    console = Console(width=140, record=True)
    for static in app.screen.query("Static"):
        console.print(static.content)
    return console.export_text()


async def test_help_lists_rebound_keys_with_action_names_and_q_quits(env):
    store, paths = env
    app = make_app(store, paths, make_config('[keys]\nnext_unread = "J"'))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        store.set_state(store.ordered_ids()[1:3], read=True)
        await pilot.press("n")
        assert screen.stream.cursor == 0  # n no longer bound
        await pilot.press("J")
        assert screen.stream.cursor == 3
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        text = _help_text(pilot.app)
        line = next(ln for ln in text.splitlines() if "Next unread" in ln)
        assert line.split()[0] == "J" and "next_unread" in line  # the [keys] name
        toggle = next(ln for ln in text.splitlines() if "Toggle read" in ln)
        assert "toggle_read" in toggle
        shorter = next(ln for ln in text.splitlines() if "Composer shorter" in ln)
        assert shorter.split()[0] == "{" and "left_curly" not in text
        await pilot.press("escape")
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_key_taken_from_another_action_is_said(env):
    """The README's own example takes r from refresh_all: say so, name both."""
    store, paths = env
    app = make_app(store, paths, make_config('[keys]\ntoggle_read = "m,r"'))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await _toast(pilot, "toggle_read takes r from refresh_all")
        iid = screen.stream.current_id
        await pilot.press("r")
        assert store.get_item(iid).read is True  # r toggles read now, and that was said


async def test_theme_cycle_is_remembered(env):
    store, paths = env
    app = make_app(store, paths)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        assert app.theme == "veille-dark"
        await pilot.press("ctrl+t")
        assert app.theme != "veille-dark"
        chosen = app.theme
    assert json.loads((paths.state / "ui.json").read_text())["theme"] == chosen
    app2 = make_app(store, paths)
    async with app2.run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        assert app2.theme == chosen


async def test_pane_sizes_are_adjustable_and_saved(env):
    store, paths = env
    app = make_app(store, paths)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        before = screen.query_one("#stream-pane").size.width
        await pilot.press("right_square_bracket", "right_curly_bracket")
        await pilot.pause()
        assert screen.query_one("#stream-pane").size.width > before
    saved = json.loads((paths.state / "ui.json").read_text())
    assert saved["stream_width"] == 50 and saved["composer_height"] == 10


async def test_narrow_shows_one_pane_and_tab_cycles(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=(80, 24), notifications=True) as pilot:
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


async def test_palette_names_every_action_once_with_readable_keys(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        commands = list(pilot.app.get_system_commands(screen))
        titles = [c.title for c in commands]
        for want in (
            "Next unread",
            "Search in this view",
            "Theme: veille-light",
            "Help: every key",
        ):
            assert want in titles
        assert len(titles) == len(set(titles))  # nothing twice ("Add a feed" was)
        helps = " ".join(c.help for c in commands)
        assert "left_curly_bracket" not in helps and "key: {" in helps
        for word in ("opml", "export", "import"):
            assert any(word in t.lower() for t in titles), word


async def test_palette_export_writes_opml(env, tmp_path):
    store, paths = env
    target = tmp_path / "out.opml"
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        await pilot.press("ctrl+p", *"export")
        await wait_for(pilot, lambda: "Export feeds" in "\n".join(screen_lines(pilot.app)))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        ask = pilot.app.screen.query_one("#ask-input")
        ask.value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists)
        await _toast(pilot, f"Exported {len(store.feeds())} feed(s)")
    assert "site0.example/feed.xml" in target.read_text()


async def test_feed_text_is_never_markup(env):
    store, paths = env
    app = make_app(store, paths)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
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
        await shown(pilot, screen)
        assert app.is_running
        assert current(screen).title == HOSTILE_TITLE
        body = screen.item_view.body_plain
        assert "\x1b" not in body and "[red]markup[/red]" in body


async def test_new_items_do_not_move_the_cursor(env):
    store, paths = env
    from tests.tui_helpers import NOW, entries
    from veille.domain.entries import ParsedFeed

    async with make_app(store, paths).run_test(size=(160, 16), notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("j", "j", "j")
        iid = screen.stream.current_id
        row_on_screen = screen.stream.cursor - screen.stream.scroll_offset.y
        feed = store.feeds()[0]
        new = entries(7, 5, start=NOW.replace(year=2027))
        store.upsert_entries(feed.id, ParsedFeed(entries=new))
        pilot.app.items_version += 1  # what a refresh or a sync does
        await wait_for(pilot, lambda: len(screen.stream.ids) == len(store))
        assert screen.stream.current_id == iid
        assert screen.stream.cursor - screen.stream.scroll_offset.y == row_on_screen


async def test_sync_shows_items_from_another_process(env):
    store, paths = env
    from veille.domain.entries import ParsedEntry, ParsedFeed

    app = make_app(store, paths, sync_seconds=0.2)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        n = len(screen.stream.ids)
        other = Store(paths.store, autoflush=False)
        feed = other.feeds()[0]
        other.upsert_entries(
            feed.id, ParsedFeed(entries=[ParsedEntry(key="zz", title="From cron")])
        )
        other.flush()
        await wait_for(pilot, lambda: len(screen.stream.ids) == n + 1)
        assert any("From cron" in row_text(screen, y) for y in range(n + 1))


async def test_worker_crash_is_a_notification(env, monkeypatch):
    store, paths = env

    async def boom(*a, **k):
        raise OSError("network is down [bold]")

    monkeypatch.setattr("veille.tui.app.refresh_feeds", boom)
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        await pilot.press("r")
        await _toast(pilot, "Refresh failed: network is down [bold]")
        assert pilot.app.is_running


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
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            assert screen.stream.ids == []
            await pilot.press("r")
            await pilot.press("j")  # input keeps flowing during the refresh
            await settle(pilot)
            await wait_for(pilot, lambda: bool(screen.stream.ids))
            feeds = {store.get_item(i).feed for i in screen.stream.ids}
            assert feeds == {a.id, b.id}
            await _toast(pilot, "2 feeds polled")
            # R polls this item's feed only: its note says one feed was polled
            await pilot.press("R")
            await settle(pilot)
            await _toast(pilot, "1 feed polled")
            assert "⟳" not in screen.status_text  # the progress is gone when done
    finally:
        store.close()


async def test_real_feeds_render_with_numbered_links(tmp_path):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    paths = make_paths(tmp_path)
    store = corpus_store(paths.store)
    try:
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            seen_links = 0
            for _ in range(len(screen.stream.ids)):
                await shown(pilot, screen)
                header = screen.item_view.header_plain
                assert store.get_item(screen.stream.current_id).title[:20] in header
                if screen.item_view.links:
                    seen_links += len(screen.item_view.links)
                    links = screen.item_view.links_plain
                    assert links.startswith("Links:")
                    assert f"[1] {screen.item_view.links[0].url}" in links
                await pilot.press("j")
            assert seen_links > 0
    finally:
        store.close()
