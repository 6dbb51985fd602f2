"""Big but legal input (issue 8): a 50,000-outline OPML file, a 100,000-item feed, an
item whose body is one 9.5 MB line.  These tests assert results and that each command
finishes; how long each takes, and memory, are in the fault table
(`python benchmarks/faults.py big_opml_import big_feed app_big_line`)."""

from __future__ import annotations

import json

import pytest

from tests.faults import big
from tests.faults.app import big_line_feed, serve_bytes
from tests.faults.home import Home
from tests.faults.tmux import TmuxApp, have_tmux

FINISH_S = 120.0  # "it finished": generous, for a loaded CI machine, not a timing


def _titles(home: Home, *args: str) -> list[str]:
    return [json.loads(line)["title"] for line in home.veille("items", "--json", *args).lines]


def test_undated_items_past_one_file_keep_the_feed_order() -> None:
    # 4,500 undated entries fill three files of one day; the listing used to start
    # with the 4,001st (the last file's first) instead of the feed's first.
    with Home() as home, serve_bytes(big.huge_feed(4_500)) as url:
        ran = home.veille("add", url)
        assert ran.code == 0, ran.err
        assert _titles(home, "--limit", "5") == big.FIRST_FIVE
        assert len(home.veille("items").lines) == 4_500


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_import_of_50000_outlines() -> None:
    with Home() as home:
        got = big.import_big_opml(home)
        assert got.ran.code == 0, got.ran.err
        assert got.ran.out.startswith(f"imported {big.OPML_OUTLINES} feeds")
        assert got.feeds == big.OPML_OUTLINES
        feeds = home.feeds()
        sample = feeds["https://site49999.example/feeds/49999.xml"]
        assert sample["title"] == "Site 49999 & co" and sample["tags"] == ["Folder 499"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_refresh_of_a_100000_item_feed() -> None:
    with Home() as home, big.serving_huge_feed() as url:
        got = big.refresh_huge_feed(home, url)
    assert got.ran.code == 0, got.ran.err
    assert got.ran.out.strip() == f"1 feed polled, {big.FEED_ITEMS} new items"
    assert got.stored == big.FEED_ITEMS
    assert got.limit.code == 0
    assert [line.split()[-1] for line in got.limit.lines] == big.FIRST_FIVE


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(not have_tmux(), reason="tmux is absent")
def test_the_app_shows_a_9_5_mb_line_and_moves_on() -> None:
    with Home() as home, serve_bytes(big_line_feed()) as url:
        assert home.veille("add", url).code == 0
        with TmuxApp(home.root) as app:
            assert app.wait_for("BIGSTART", FINISH_S), app.screen()
            assert app.time_key("j", lambda s: "SMALL-1 body" in s, FINISH_S) is not None
            assert app.time_key("k", lambda s: "BIGSTART" in s, FINISH_S) is not None
            app.keys("q")
            assert app.wait_for(lambda s: app.exit_code() is not None, FINISH_S)
            assert app.exit_code() == 0
