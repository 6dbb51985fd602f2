"""Triage you can trust: whatever changes the row under the cursor, the item pane,
the composer and every action follow it; dates, titles and the composer say what
is true; the app keeps up with config.toml and never calls a screen not mounted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_tui_keys import row_text, shown
from tests.tui_helpers import (
    ManualTimers,
    build_store,
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
from veille.tui.screens.shares import SharesScreen

SIZE = (160, 50)


@pytest.fixture
def env(tmp_path: Path, home: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    yield store, paths
    store.close()


def unread_app(store, paths, **kw):
    app = make_app(store, paths, timers=ManualTimers(), **kw)
    app.session.ui.view = {"kind": "unread", "value": ""}
    return app


async def dismissed(pilot):
    """x on the first row of the Unread view: (screen, dismissed id, next id)."""
    screen = await started(pilot)
    victim = screen.stream.current_id
    nxt = screen.stream.ids[1]
    await pilot.press("x")
    assert screen.stream.current_id == nxt
    return screen, victim, nxt


async def test_after_x_the_panes_show_the_next_item(env):
    store, paths = env
    async with unread_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen, victim, nxt = await dismissed(pilot)
        await shown(pilot, screen)
        title = store.get_item(nxt).title
        assert screen.item_view.header_plain.startswith(title)
        assert store.get_item(victim).title not in screen.item_view.header_plain
        assert title in screen.composer.preview.text_of("atom")


async def test_after_x_y_copies_the_cursor_rows_link(env):
    store, paths = env
    async with unread_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        _screen, _victim, nxt = await dismissed(pilot)
        await pilot.press("y")
        assert pilot.app.clipboard == store.get_item(nxt).link
        await pilot.press("1", "y")  # a numbered link is the shown item's too
        assert "/a/" in pilot.app.clipboard
        assert pilot.app.clipboard == store.get_content(nxt).html.split("'")[1]


async def test_after_x_o_opens_the_cursor_rows_link(env, monkeypatch):
    store, paths = env
    opened: list[str] = []
    monkeypatch.setattr("veille.tui.app.webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.delenv("BROWSER", raising=False)
    async with unread_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        _screen, _victim, nxt = await dismissed(pilot)
        await pilot.press("o")
        await wait_for(pilot, lambda: bool(opened))
        assert opened == [store.get_item(nxt).link]


async def test_after_x_s_and_m_change_the_cursor_row(env):
    store, paths = env
    async with unread_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen, victim, nxt = await dismissed(pilot)
        await pilot.press("s")
        assert store.get_item(nxt).starred and not store.get_item(victim).starred
        assert "★ starred" in screen.item_view.header_plain
        await pilot.press("m")
        assert store.get_item(nxt).read is True
        assert store.get_item(victim).hidden is True  # untouched since x


async def test_after_x_a_share_goes_to_the_cursor_row(env):
    store, paths = env
    async with unread_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen, victim, nxt = await dismissed(pilot)
        await pilot.press("c")
        screen.composer.area.insert("About the next one")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(store.shares()))
        await settle(pilot)
    share = store.shares()[0]
    assert share.item_id == nxt and share.item_id != victim
    assert share.title == store.get_item(nxt).title


async def test_panes_follow_a_filter_a_search_and_new_items(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("slash", *"feed 2", "enter")
        await wait_for(pilot, lambda: screen.view.search == "feed 2")
        await shown(pilot, screen)
        assert "feed 2" in screen.item_view.header_plain
        # another process removes the feed of the item under the cursor
        gone = screen.stream.current_id
        other = Store(paths.store, autoflush=False)
        other.remove_feed(other.get_item(gone).feed)
        other.flush()
        other.close()
        assert store.sync()
        pilot.app.items_version += 1  # what the app's sync does when it sees it
        await wait_for(pilot, lambda: gone not in screen.stream.ids)
        await shown(pilot, screen)
        assert screen.item_view.item_id != gone


async def test_an_untitled_item_shows_its_first_words_everywhere(env):
    store, paths = env
    feed, _ = store.add_feed("https://notitle.example/feed", title="No titles")
    words = "a microblog post without any title but with several words to read"
    store.upsert_entries(
        feed.id,
        ParsedFeed(entries=[ParsedEntry(key="n1", summary=words, link="https://n.example/1")]),
    )
    iid = next(i for i in store.ordered_ids() if store.get_item(i).feed == feed.id)
    first_words = store.get_item(iid).display_title
    assert first_words.startswith("a microblog post")
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        screen.open_item(iid)
        await shown(pilot, screen)
        row = screen.stream.cursor - int(screen.stream.scroll_offset.y)
        assert first_words[:30] in row_text(screen, row)
        assert screen.item_view.header_plain.startswith(first_words)
        assert "untitled" not in row_text(screen, row) + screen.item_view.header_plain


async def test_an_item_without_a_date_says_seen_not_published(env):
    store, paths = env
    feed, _ = store.add_feed("https://nodate.example/feed", title="Undated")
    store.upsert_entries(
        feed.id, ParsedFeed(entries=[ParsedEntry(key="d1", title="Undated story", content="x")])
    )
    iid = next(i for i in store.ordered_ids() if store.get_item(i).feed == feed.id)
    item = store.get_item(iid)
    assert item.published is None and item.first_seen
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        screen.open_item(iid)
        await shown(pilot, screen)
        seen = item.first_seen[:16].replace("T", " ")
        assert f"seen {seen}" in screen.item_view.header_plain
        row = row_text(screen, screen.stream.cursor - int(screen.stream.scroll_offset.y))
        assert row.rstrip().split()[-1].startswith("~")  # an arrival age, marked as such
        dated = next(i for i in screen.stream.ids if store.get_item(i).published)
        y = screen.stream.ids.index(dated) - int(screen.stream.scroll_offset.y)
        assert not row_text(screen, y).rstrip().split()[-1].startswith("~")
    assert store.get_item(iid).published is None


async def test_the_composer_says_where_and_warns_of_an_earlier_share(env):
    store, paths = env
    config = make_config(
        '[share]\ndefault_to = ["atom", "masto"]\n\n'
        '[accounts.masto]\ntype = "mastodon"\ninstance = "http://127.0.0.1:9"\n'
    )
    async with make_app(store, paths, config).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        screen.session.compose.asked.add("masto")  # no network here
        title = str(screen.composer.query_one("#composer-title").content)
        assert "Reshare with comment → atom, masto" in title
        assert "already shared" not in title
        await pilot.press("c")
        screen.composer.area.insert("once")
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("space", "enter")  # masto (listed first) off
        await wait_for(pilot, lambda: screen.composer.choices.ticked == ["atom"])
        assert "→ atom " in str(screen.composer.query_one("#composer-title").content) + " "
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("atom: sent" in t for t in toasts(pilot.app)))
        title = str(screen.composer.query_one("#composer-title").content)
        day = store.shares()[0].created[:10]
        assert f"already shared: {day} to atom" in title


async def test_an_account_added_on_disk_is_offered_without_a_restart(env):
    store, paths = env
    config_file = paths.config_file
    config_file.write_text('[share]\ndefault_to = ["atom"]\n')
    from veille.config import load_config

    app = make_app(store, paths, load_config(config_file), config_seconds=0)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        assert screen.composer.choices.destinations == ["atom"]
        # `veille account add` from another terminal appends a table
        config_file.write_text(
            '[share]\ndefault_to = ["atom"]\n\n[accounts.work]\ntype = "command"\ncommand = "cat"\n'
        )
        await pilot.press("c")  # opening the composer looks at config.toml
        await wait_for(pilot, lambda: "work" in screen.composer.choices.destinations)
        assert "☐ work" in str(screen.composer.query_one("#composer-toggles").render())


async def test_a_share_queued_from_the_command_line_is_sent_with_the_new_account(env, tmp_path):
    """A stale account list must not fail a share with "no destination named"."""
    store, paths = env
    config_file = paths.config_file
    config_file.write_text("")
    from veille.config import load_config
    from veille.share.outbox import create_share

    app = make_app(store, paths, load_config(config_file), config_seconds=0)
    out = tmp_path / "posted.json"
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        config_file.write_text(f'[accounts.pipe]\ntype = "command"\ncommand = "tee {out}"\n')
        other = Store(paths.store, autoflush=False)
        share = create_share(
            other,
            load_config(config_file),
            other.ordered_ids()[0],
            "from the shell",
            to=["pipe"],
        )
        other.close()
        store.sync()
        pilot.app.send_shares(None, loud=True)
        await wait_for(pilot, lambda: store.get_share(share.id).deliveries["pipe"].status == "sent")
    assert "from the shell" in out.read_text()


async def test_shares_view_is_not_called_before_it_is_mounted(env):
    """Deliveries finishing while the Shares view is being mounted (the flaky
    NoMatches): nothing reaches a screen before its widgets exist."""
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        pilot.app.push_screen(SharesScreen(screen.session))
        pilot.app.shares_version += 1  # same tick: the view is not mounted yet
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SharesScreen))
        pilot.app.shares_version += 1  # mounted: it redraws
        await settle(pilot)
        assert pilot.app.is_running
        assert "Shares" in str(pilot.app.screen.query_one("#shares-status").content)
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        pilot.app.shares_version += 1  # gone: not called any more
        await settle(pilot)
        assert pilot.app.is_running


async def test_damaged_store_files_are_said_once_at_start(tmp_path: Path):
    paths = make_paths(tmp_path)
    build_store(paths.store).close()
    day = sorted((paths.store / "items").glob("*.json"))[-1]
    day.write_text("{ not json")
    store = Store(paths.store)
    try:
        assert store.problems
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            await started(pilot)
            await wait_for(
                pilot, lambda: any("Damaged store files" in t for t in toasts(pilot.app))
            )
    finally:
        store.close()


async def test_a_huge_one_line_body_never_blocks_the_keys(tmp_path: Path):
    """A 9.5 MB single-line body: the first screenful shows at once, ? answers."""
    from veille.tui.screens.help import HelpScreen

    paths = make_paths(tmp_path)
    store = Store(paths.store)
    feed, _ = store.add_feed("https://huge.example/feed", title="Huge")
    unit = "Some words <b>bold</b> and <a href='https://x.example/%d'>a link</a> more. "
    body = "<p>" + "".join(unit % i for i in range(130_000)) + "</p>"
    assert len(body) > 9_500_000 and "\n" not in body
    store.upsert_entries(
        feed.id, ParsedFeed(entries=[ParsedEntry(key="big", title="Huge item", content=body)])
    )
    try:
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            view = screen.item_view
            assert view.header_plain.startswith("Huge item")
            assert view.body_plain.startswith("Some words bold and a link[1] more.")
            assert not view.complete  # the rest is still being laid out, off the loop
            await pilot.press("question_mark")
            assert isinstance(pilot.app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.press("j")  # keys go on working
            await wait_for(pilot, lambda: view.complete, timeout=120, what="the whole body")
            assert len(view.links) == 130_000
    finally:
        store.close()
