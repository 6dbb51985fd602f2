"""Saved views (issue 12): [views] in config.toml, built-ins, `veille items --view`,
counts for the picker, and saving a view made in the app."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from veille.config import ConfigError, load_config, parse_config
from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.domain.records import Draft
from veille.domain.views import BUILTIN_VIEWS, SavedView
from veille.paths import get_paths
from veille.store.store import Store
from veille.triage.views import (
    ViewError,
    append_view,
    default_view,
    find_view,
    saved_views,
    view_counts,
    view_filter,
)
from veille.util.dates import now


def entry(key: str, title: str, summary: str = "") -> ParsedEntry:
    return ParsedEntry(key=key, title=title, link=f"https://ex.com/{key}", summary=summary)


@pytest.fixture
def filled(home: Path) -> dict[str, str]:
    """A store with two feeds: "ai" tagged, items old and new; returns title -> id."""
    with Store(get_paths().store) as s:
        ai, _ = s.add_feed("https://ai.example/feed", tags=["ai"])
        other, _ = s.add_feed("https://other.example/feed")
        s.upsert_entries(
            ai.id,
            ParsedFeed(entries=[entry("old", "Old LLM news")]),
            when=now() - timedelta(days=3),
        )
        s.upsert_entries(ai.id, [entry("old", "Old LLM news"), entry("new", "New LLM model")])
        s.upsert_entries(other.id, [entry("cook", "Cooking with llm-free butter")])
        ids = {i.title: i.id for i in s.items()}
        s.set_state([ids["Cooking with llm-free butter"]], starred=True, read=True)
        s.save_draft(Draft(item_id=ids["Old LLM news"], text="worth a look"))
        return ids


def write_config(home: Path, text: str) -> Path:
    cfg = home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(text, encoding="utf-8")
    return cfg


def titles(cli, *args: str) -> list[str]:
    r = cli("items", "--json", *args)
    assert r.code == 0, r.err
    return sorted(json.loads(x)["title"] for x in r.lines)


def test_items_view_uses_the_saved_definition(cli, home: Path, filled) -> None:
    write_config(
        home,
        '# my views\n[views.ai]\nsearch = "llm"\nunread = true\ntag = "ai"\nsince = "24h"\n',
    )
    assert titles(cli, "--view", "ai") == ["New LLM model"]
    assert titles(cli, "--view", "unread") == ["New LLM model", "Old LLM news"]
    assert titles(cli, "--view", "starred") == ["Cooking with llm-free butter"]
    assert titles(cli, "--view", "drafts") == ["Old LLM news"]
    assert titles(cli, "--view", "today") == ["Cooking with llm-free butter", "New LLM model"]
    assert titles(cli, "--view", "AI", "--search", "new") == ["New LLM model"]  # any case, narrowed
    r = cli("items", "--view", "nope")
    assert r.code == 1 and r.err.startswith("veille: no view named 'nope' (views: unread,")
    assert len(r.err.strip().splitlines()) == 1


def test_a_view_with_a_bad_key_stops_with_one_line(cli, home: Path) -> None:
    write_config(home, '[views.ai]\nsearch = "llm"\n\n[views.bad]\nsince = "yesterday"\n')
    r = cli("feeds")
    assert r.code == 2
    assert "views.bad (line 4)" in r.err and "yesterday" in r.err
    write_config(home, 'default_view = "missing"\n')
    r = cli("feeds")
    assert r.code == 2 and "default_view (line 1): no view named 'missing'" in r.err


def test_views_and_default_view_from_config() -> None:
    cfg = parse_config('default_view = "ai"\n[views.ai]\ntitle = "AI"\nfeed = "https://x/f"\n')
    views = saved_views(cfg)
    assert list(views)[: len(BUILTIN_VIEWS)] == [v.name for v in BUILTIN_VIEWS]
    ai = default_view(cfg)
    assert ai is not None and ai.label == "AI" and ai.feeds == ("https://x/f",)
    assert default_view(parse_config("")) is None
    assert find_view(cfg, "Unread").unread is True
    for text in (
        "[views.x]\nunread = 1\n",
        '[views.x]\nkind = "video"\n',
        "[views.x]\nfeed = [3]\n",
    ):
        with pytest.raises(ConfigError):
            parse_config(text)


def test_view_naming_an_unknown_feed_is_an_error_not_everything(home: Path) -> None:
    with Store(get_paths().store) as s:
        view = SavedView("gone", feeds=("https://gone.example/feed",))
        with pytest.raises(ViewError, match="no such feed"):
            view_filter(view, s)
        assert view_counts(s, [view]) == {"gone": None}


def test_counts_for_the_picker_match_what_the_views_show(cli, home: Path, filled) -> None:
    write_config(home, '[views.ai]\ntag = "ai"\n')
    cfg = load_config(home / "config" / "config.toml")
    with Store(get_paths().store) as s:
        counts = view_counts(s, saved_views(cfg).values())
    for name, n in counts.items():
        assert n == len(titles(cli, "--view", name)), name
    assert counts["unread"] == 2 and counts["ai"] == 2 and counts["muted"] == 0


def test_append_view_keeps_the_file_and_the_view_works(cli, home: Path, filled) -> None:
    cfg = write_config(home, "# keep me\nrefresh_minutes = 20  # and me\n")
    append_view(cfg, SavedView("llm", search="llm", unread=True, starred=False, since="7d"))
    text = cfg.read_text()
    assert text.startswith("# keep me\nrefresh_minutes = 20  # and me\n")
    assert "[views.llm]" in text and "starred = false" in text
    assert titles(cli, "--view", "llm") == ["New LLM model", "Old LLM news"]
    with pytest.raises(ViewError, match="exists already"):
        append_view(cfg, SavedView("llm", search="x"))
    with pytest.raises(ViewError, match="exists already"):
        append_view(cfg, SavedView("unread", search="x"))
    with pytest.raises(ViewError, match="yesterday"):
        append_view(cfg, SavedView("bad", since="yesterday"))
    assert "[views.bad]" not in cfg.read_text()


def test_set_counts_agree_with_the_walk(home: Path, filled) -> None:
    """store.count answers Unread, Drafts... by set algebra: it must say what the
    view lists, also for a draft whose item is gone."""
    from veille.domain.filter import ItemFilter

    with Store(get_paths().store) as s:
        ai = s.find_feed("https://ai.example/feed")
        assert ai is not None
        s.add_rule("mute", "title", "^new")
        filters = [
            ItemFilter(),
            ItemFilter(unread=True),
            ItemFilter(drafts=True),
            ItemFilter(drafts=False),
            ItemFilter(starred=True, unread=False),
            ItemFilter(muted=True),
            ItemFilter(muted=None),
        ]
        for flt in filters:
            assert s.count(flt) == len(list(s.ids(flt))), flt
        s.remove_feed(ai.id)  # the drafted item goes with it
        for flt in filters:
            assert s.count(flt) == len(list(s.ids(flt))), flt
        assert s.count(ItemFilter(drafts=True)) == 0
