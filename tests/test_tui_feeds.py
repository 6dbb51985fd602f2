"""The feeds pane (F) and every edit it offers, driven through Pilot.

Assertions read what the user sees (the pane's rows, its detail line, the
toasts, the stream after enter) or what `veille feeds` would read from the
store; waits are for conditions.  Feeds that need the network are served by
pytest-httpserver on 127.0.0.1.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.tui_helpers import (
    NOW,
    build_store,
    main_shown,
    make_app,
    make_config,
    make_paths,
    screen_lines,
    settle,
    started,
    toasts,
    wait_for,
)
from veille.store.store import Store
from veille.tui.screens.feeds import FeedsScreen
from veille.tui.screens.pickers import AskScreen
from veille.tui.screens.rules import RulesScreen
from veille.util.dates import iso

SIZE = (140, 40)

FEED_XML = """<?xml version="1.0"?><rss version="2.0"><channel><title>Served feed</title>
<link>{site}</link>
<item><title>Fresh story</title><guid>s1</guid><link>{site}story/1</link>
<description>A fresh story.</description></item></channel></rss>"""


@pytest.fixture
def env(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    yield store, paths
    store.close()


def by_title(store: Store, title: str):
    return next(f for f in store.feeds() if f.title == title)


async def open_feeds(pilot) -> FeedsScreen:
    await started(pilot)
    await pilot.press("F")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FeedsScreen), what="feeds pane")
    await pilot.pause()
    return pilot.app.screen


def rows(pane: FeedsScreen) -> list[str]:
    return [pane.list.row_text(i) for i in range(len(pane.list.rows))]


async def go_to(pilot, pane: FeedsScreen, title: str) -> None:
    """Put the cursor on the feed called ``title`` with the filter, like a user."""
    await pilot.press("slash", *title, "enter")
    await wait_for(pilot, lambda: pane.query_text == title)
    index = next(i for i, r in enumerate(rows(pane)) if title in r and not r.startswith("#"))
    pane.list.move_to(index)
    await pilot.pause()
    assert pane.list.current[0] == "feed"


async def answer(pilot, text: str) -> None:
    """Type into the AskScreen that opened, replacing what it proposed."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, AskScreen), what="a question")
    pilot.app.screen.query_one("#ask-input").value = ""
    await pilot.press(*text, "enter") if text else await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, AskScreen))


async def toast(pilot, needle: str) -> None:
    await wait_for(pilot, lambda: any(needle in t for t in toasts(pilot.app)), what=needle)


# ------------------------------------------------------------------ showing
async def test_tags_first_then_feeds_with_counts_and_every_status(env):
    store, paths = env
    s0, s1, s2 = (by_title(store, f"Site {i}") for i in range(3))
    store.update_feed(s0.id, tags=("news", "tech"), status="ok", last_fetch=iso(NOW),
                      next_poll=iso(NOW + timedelta(minutes=25)))  # fmt: skip
    store.update_feed(s1.id, tags=("news",), status="error", message="HTTP 500 Server Error",
                      last_fetch=iso(NOW))  # fmt: skip
    store.update_feed(s2.id, disabled="HTTP 410 Gone (the feed was removed)")
    evil = by_title(store, "[b]Evil[/b] feed")
    hold = iso(NOW + timedelta(hours=3))
    store.update_feed(evil.id, status="ok", last_fetch=iso(NOW), retry_until=hold,
                      warning="2 of 30 accounts unreadable")  # fmt: skip
    social, _ = store.add_feed("mastodon:home", kind="mastodon", title="Home", account="me")
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        pane = await open_feeds(pilot)
        lines = rows(pane)
        assert lines[0].startswith("# news") and "2 feeds" in lines[0]
        assert lines[1].startswith("# tech") and "1 feed" in lines[1]
        unread0 = store.counts()[s0.id][1]
        row0 = next(r for r in lines if "Site 0" in r)
        assert row0.startswith("✓") and f"{unread0:,}" in row0 and "next poll in 25 min" in row0
        row1 = next(r for r in lines if "Site 1" in r)
        assert row1.startswith("✗") and "error: HTTP 500 Server Error" in row1
        row2 = next(r for r in lines if "Site 2" in r)
        assert row2.startswith("⊘") and "disabled: HTTP 410 Gone" in row2
        row_evil = next(r for r in lines if "[b]Evil[/b] feed" in r)  # literal, not markup
        assert "held back, retry in 3 h" in row_evil and "⚠ 2 of 30 accounts" in row_evil
        row_social = next(r for r in lines if r[2:].startswith("Home"))
        assert "mastodon · me" in row_social and "not fetched yet" in row_social
        assert "5 feeds · 2 tags" in pane.status_text and "2 failing" in pane.status_text
        # the detail line follows the cursor
        pane.list.move_to(lines.index(row1))
        await pilot.pause()
        assert "https://site1.example/feed.xml" in pane.detail_text
        assert "error: HTTP 500 Server Error" in pane.detail_text
        pane.list.move_to(lines.index(row_social))
        await pilot.pause()
        assert "(mastodon through me)" in pane.detail_text
        # F again closes it
        await pilot.press("F")
        await wait_for(pilot, lambda: main_shown(pilot.app))
        assert social.id  # still subscribed: closing changes nothing


async def test_type_to_filter_and_enter_shows_that_feeds_items(env):
    store, paths = env
    s1 = by_title(store, "Site 1")
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        pane = await open_feeds(pilot)
        await pilot.press("slash", *"site 1")
        await wait_for(pilot, lambda: len(pane.list.rows) == 1)
        assert "Site 1" in rows(pane)[0]
        assert "filter “site 1”: 1 rows" in pane.status_text
        await pilot.press("enter", "enter")  # out of the filter, then open the feed
        await wait_for(pilot, lambda: main_shown(pilot.app))
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.view.kind == "feed" and not screen.stream.loading)
        assert screen.view.value == s1.id
        assert {store.get_item(i).feed for i in screen.stream.ids} == {s1.id}
        assert "Feed: Site 1" in screen.status_text


async def test_enter_on_a_tag_shows_its_feeds_items_and_esc_clears_the_filter(env):
    store, paths = env
    s0, s2 = by_title(store, "Site 0"), by_title(store, "Site 2")
    store.update_feed(s0.id, tags=("blogs",))
    store.update_feed(s2.id, tags=("blogs",))
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        pane = await open_feeds(pilot)
        await pilot.press("slash", *"zzz-nothing")
        await wait_for(pilot, lambda: not pane.list.rows)
        assert "Nothing matches the filter." in pane.detail_text
        await pilot.press("escape")  # clears the filter, stays in the pane
        await wait_for(pilot, lambda: len(pane.list.rows) == 5)  # a tag, four feeds
        assert isinstance(pilot.app.screen, FeedsScreen)
        await pilot.press("home", "enter")  # the tag row comes first
        await wait_for(pilot, lambda: main_shown(pilot.app))
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.view.kind == "tag" and not screen.stream.loading)
        assert {store.get_item(i).feed for i in screen.stream.ids} == {s0.id, s2.id}


# -------------------------------------------------------------------- edits
async def test_rename_and_back_to_the_feeds_own_title(env):
    store, paths = env
    s0 = by_title(store, "Site 0")
    store.update_feed(s0.id, etag='"v1"')
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        pane = await open_feeds(pilot)
        await go_to(pilot, pane, "Site 0")
        await pilot.press("e")
        await answer(pilot, "My [red]own")
        await toast(pilot, "Renamed to “My [red]own”.")
        assert store.get_feed(s0.id).title == "My [red]own"
        assert store.get_feed(s0.id).user_title is True
        await pilot.press("slash", *"own", "enter")  # the filter finds it by its new name
        await wait_for(pilot, lambda: any("My [red]own" in r for r in rows(pane)))
        await pilot.press("e")
        await answer(pilot, "")
        feed = store.get_feed(s0.id)
        assert feed.user_title is False and feed.etag is None  # the next poll brings its own
        await toast(pilot, "the feed's own title from the next poll")


async def test_retag_interval_full_text_and_mute(env):
    store, paths = env
    s1 = by_title(store, "Site 1")
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        pane = await open_feeds(pilot)
        await go_to(pilot, pane, "Site 1")
        await pilot.press("t")
        await answer(pilot, "news, ai,  news")
        assert store.get_feed(s1.id).tags == ("ai", "news")
        await wait_for(pilot, lambda: "tags: ai, news" in pane.detail_text)
        await pilot.press("slash")
        await pilot.press("escape")  # no filter: the tags are rows of their own now
        await wait_for(pilot, lambda: rows(pane)[:2] == [r for r in rows(pane) if r[0] == "#"])
        assert rows(pane)[0].startswith("# ai") and rows(pane)[1].startswith("# news")
        await go_to(pilot, pane, "Site 1")
        await pilot.press("i")
        await answer(pilot, "soon")
        await toast(pilot, "the interval is minutes (1 to 43200) or 'default', not soon")
        assert store.get_feed(s1.id).interval is None
        await pilot.press("i")
        await answer(pilot, "90")
        assert store.get_feed(s1.id).interval == 90
        await toast(pilot, "Site 1: polled every 90 minutes.")
        await wait_for(pilot, lambda: "every 90 min" in pane.detail_text)
        await pilot.press("w")
        assert store.get_feed(s1.id).full_text is True
        await wait_for(pilot, lambda: "full text" in pane.detail_text)
        unread_before = store.totals()[0]
        await pilot.press("m")
        assert store.get_feed(s1.id).muted is True
        await toast(pilot, "Site 1: muted")
        assert store.totals()[0] < unread_before  # its items are out of the counts
        await wait_for(pilot, lambda: any("muted ·" in r for r in rows(pane)))
        await pilot.press("m")
        assert store.get_feed(s1.id).muted is False
        assert store.totals()[0] == unread_before


async def test_unsubscribe_keeps_starred_and_u_restores_after_a_restart(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    s2 = by_title(store, "Site 2")
    items = [i for i in store.ordered_ids() if store.get_item(i).feed == s2.id]
    store.set_state(items[:1], starred=True)
    store.set_state(items[1:2], read=True)
    try:
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            pane = await open_feeds(pilot)
            await go_to(pilot, pane, "Site 2")
            await pilot.press("d")
            await toast(pilot, "Unsubscribed from Site 2")
            assert store.get_feed(s2.id) is None
            assert store.get_item(items[0]) is not None  # starred: kept
            assert store.get_item(items[2]) is None
            await wait_for(pilot, lambda: not any("Site 2" in r for r in rows(pane)))
            await pilot.app.action_quit()
    finally:
        store.close()
    store = Store(paths.store)  # a new run of the app
    try:
        async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
            pane = await open_feeds(pilot)
            await pilot.press("u")
            await toast(pilot, "Subscribed again to Site 2")
            assert store.get_feed(s2.id) is not None
            assert store.get_item(items[1]).read is True  # with its read state
            await wait_for(pilot, lambda: pane.list.current == ("feed", s2.id))
            await pilot.press("u")
            await toast(pilot, "No unsubscribed feed to bring back")
    finally:
        store.close()


async def test_copy_url_open_site_and_refresh_now(env, httpserver, monkeypatch):
    store, paths = env
    site = httpserver.url_for("/")
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED_XML.format(site=site), content_type="application/rss+xml"
    )
    feed, _ = store.add_feed(httpserver.url_for("/feed.xml"), title="Served", site_url=site)
    opened: list[str] = []
    monkeypatch.setattr("veille.tui.app.webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.delenv("BROWSER", raising=False)
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        pane = await open_feeds(pilot)
        await go_to(pilot, pane, "Served")
        assert "not fetched yet" in rows(pane)[0]
        await pilot.press("y")
        assert pilot.app.clipboard == feed.url
        await pilot.press("o")
        await wait_for(pilot, lambda: opened == [site])
        await pilot.press("r")
        await wait_for(pilot, lambda: store.get_feed(feed.id).status == "ok", what="refreshed")
        await wait_for(pilot, lambda: "✓" in rows(pane)[0] and "1" in rows(pane)[0])
        assert store.counts()[feed.id] == (1, 1)


async def test_add_a_feed_from_the_pane_with_discovery(env, httpserver):
    store, paths = env
    site = httpserver.url_for("/")
    page = f'<html><head><link rel="alternate" type="application/rss+xml" href="{site}feed.xml"></head><body>hi</body></html>'  # noqa: E501
    httpserver.expect_request("/blog").respond_with_data(page, content_type="text/html")
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED_XML.format(site=site), content_type="application/rss+xml"
    )
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        pane = await open_feeds(pilot)
        await pilot.press("a")
        await answer(pilot, httpserver.url_for("/blog"))
        await wait_for(pilot, lambda: store.find_feed(site + "feed.xml") is not None, what="added")
        assert isinstance(pilot.app.screen, FeedsScreen)
        await wait_for(pilot, lambda: any("Served feed" in r for r in rows(pane)), what="shown")


async def test_a_dead_discovered_feed_is_refused_in_one_line(env, httpserver):
    store, paths = env
    site = httpserver.url_for("/")
    page = f'<html><head><link rel="alternate" type="application/rss+xml" href="{site}gone.xml"></head></html>'  # noqa: E501
    httpserver.expect_request("/blog").respond_with_data(page, content_type="text/html")
    httpserver.expect_request("/gone.xml").respond_with_data("gone", status=410)
    n = len(store.feeds())
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        await open_feeds(pilot)
        await pilot.press("a")
        await answer(pilot, httpserver.url_for("/blog"))
        await wait_for(pilot, lambda: any("410" in t for t in toasts(pilot.app)), what="refusal")
        assert len(store.feeds()) == n
        assert all("\n" not in t for t in toasts(pilot.app))


async def test_tags_have_no_settings_and_say_so(env):
    store, paths = env
    store.update_feed(by_title(store, "Site 0").id, tags=("x",))
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        await open_feeds(pilot)
        await pilot.press("home", "e")
        await toast(pilot, "Select a feed first")
        assert isinstance(pilot.app.screen, FeedsScreen)


@pytest.mark.parametrize("width", [60, 80])
async def test_the_pane_fits_narrow_terminals(env, width):
    store, paths = env
    store.update_feed(by_title(store, "Site 1").id, status="error", message="x" * 300,
                      last_fetch=iso(NOW))  # fmt: skip
    async with make_app(store, paths).run_test(size=(width, 24), notifications=True) as pilot:
        pane = await open_feeds(pilot)
        await settle(pilot)
        lines = screen_lines(pilot.app)
        assert lines[0].lstrip().startswith("Feeds")
        assert any("Site 1" in line and "error: xxx" in line for line in lines)
        assert all(len(line) <= width for line in lines)
        assert len(pane.list.rows) == 4


async def test_M_opens_the_rules_from_the_pane_with_the_feed_at_hand(env):
    store, paths = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        pane = await open_feeds(pilot)
        await go_to(pilot, pane, "Site 0")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RulesScreen))
        assert pilot.app.screen.context.feed_url == "https://site0.example/feed.xml"


# ---------------------------------------------------------------- snapshots
def _statuses(store: Store) -> None:
    s0, s1, s2 = (by_title(store, f"Site {i}") for i in range(3))
    store.update_feed(s0.id, tags=("news", "tech"), status="ok", last_fetch=iso(NOW),
                      next_poll=iso(NOW + timedelta(minutes=25)), interval=60.0)  # fmt: skip
    store.update_feed(s1.id, tags=("news",), status="error", message="HTTP 500 Server Error",
                      last_fetch=iso(NOW))  # fmt: skip
    store.update_feed(s2.id, disabled="HTTP 410 Gone (the feed was removed)", muted=True)
    store.add_feed("mastodon:home", kind="mastodon", title="Home timeline", account="me")


@pytest.mark.parametrize("size", [(120, 30), (60, 24)])
def test_snapshot_feeds_pane(env, snap_compare, size):
    store, paths = env
    _statuses(store)

    async def open_pane(pilot) -> None:
        pane = await open_feeds(pilot)
        index = next(i for i, r in enumerate(rows(pane)) if "Site 1" in r)
        pane.list.move_to(index)
        await settle(pilot)

    assert snap_compare(make_app(store, paths), terminal_size=size, run_before=open_pane)


async def test_the_panes_keys_are_rebindable(env):
    store, paths = env
    config = make_config('[keys]\nfeeds = "ctrl+e"\nfeeds_remove = "x"\n')
    async with make_app(store, paths, config).run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FeedsScreen))
        pane = pilot.app.screen
        await go_to(pilot, pane, "Site 0")
        fid = pane.list.current[1]
        await pilot.press("x")
        await toast(pilot, "Unsubscribed from Site 0")
        assert store.get_feed(fid) is None
