"""Mute rules and keyword alerts: matching, ingest, display, undo, the CLI, and
runaway patterns.  Everything is checked through the store's public API and
what `veille rules` / `veille items` print."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.domain.filter import ItemFilter
from veille.domain.rules import (
    MATCH_TIMEOUT,
    Rule,
    RuleError,
    RuleSet,
    RuleTooSlow,
    Subject,
    compile_pattern,
)
from veille.store.store import Store

PATHOLOGICAL = r"(a|aa)+$"  # exponential backtracking on "aaaa...b"


def entries(*titles: str, author: str = "", prefix: str = "k") -> ParsedFeed:
    return ParsedFeed(
        title="F",
        entries=[
            ParsedEntry(
                key=f"{prefix}{i}", title=t, link=f"https://ex.com/{prefix}{i}", author=author
            )
            for i, t in enumerate(titles)
        ],
    )


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "store")
    yield s
    s.close()


def titles(store: Store, flt: ItemFilter | None = None) -> list[str]:
    return sorted(i.title for i in store.items(flt or ItemFilter()))


# ----------------------------------------------------------------- domain
def test_bad_regex_is_one_line_naming_the_problem() -> None:
    with pytest.raises(RuleError) as e:
        compile_pattern("llm(")
    msg = str(e.value)
    assert "llm(" in msg and "position" in msg and "\n" not in msg


def test_pathological_pattern_times_out_instead_of_hanging() -> None:
    rule = Rule(id=1, kind="mute", field="title", value=PATHOLOGICAL)
    rules = RuleSet([rule])
    subject = Subject(title="a" * 60 + "b")
    started = time.monotonic()
    with pytest.raises(RuleTooSlow):
        rules.matches(rule, subject)
    # Bounded: without the timeout this search takes longer than the universe's age.
    assert time.monotonic() - started < 100 * MATCH_TIMEOUT
    assert rules.matching(subject, [rule]) == [] and 1 in rules.too_slow


def test_mute_needs_every_source_alert_any() -> None:
    both = Subject(sources=frozenset({"a", "b"}), source_tags=(frozenset({"x"}), frozenset()))
    mute_feed = Rule(id=1, kind="mute", field="feed", value="a")
    alert_feed = Rule(id=2, kind="alert", field="feed", value="a", star=True)
    mute_tag = Rule(id=3, kind="mute", field="tag", value="x")
    rs = RuleSet([mute_feed, alert_feed, mute_tag])
    assert not rs.matches(mute_feed, both) and rs.matches(alert_feed, both)
    assert not rs.matches(mute_tag, both)
    assert rs.matches(mute_tag, Subject(tags=frozenset({"x"})))


# ------------------------------------------------------------------ store
def test_title_mute_hides_existing_and_new_items_and_removal_brings_them_back(
    store: Store,
) -> None:
    feed, _ = store.add_feed("https://ex.com/feed")
    store.upsert_entries(feed.id, entries("Crypto news", "Python 4", "CRYPTO again"))
    rule, n = store.add_rule("mute", "title", "crypto")
    assert n == 2
    assert titles(store) == ["Python 4"]
    assert store.totals() == (1, 1)
    assert store.counts()[feed.id] == (1, 1)
    # New items arrive hidden, and are recorded so they can be shown again.
    store.upsert_entries(feed.id, entries("Crypto news", "Python 4", "CRYPTO again", "crypto 3"))
    assert titles(store) == ["Python 4"]
    assert titles(store, ItemFilter(muted=True)) == ["CRYPTO again", "Crypto news", "crypto 3"]
    assert store.rule_counts() == {rule.id: 3}
    store.remove_rule(rule.id)
    assert titles(store) == ["CRYPTO again", "Crypto news", "Python 4", "crypto 3"]
    assert store.totals() == (4, 4)


def test_rules_survive_reopening_and_apply_in_another_process(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with Store(root) as a:
        feed, _ = a.add_feed("https://ex.com/feed")
        a.add_rule("mute", "title", "^ads?:")
    with Store(root) as b:
        b.upsert_entries(feed.id, entries("Ad: buy", "Real post"))
    with Store(root) as c:
        assert titles(c) == ["Real post"]
        assert [r.value for r in c.rules()] == ["^ads?:"]


def test_a_rule_added_elsewhere_reaches_an_open_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    app = Store(root)
    try:
        feed, _ = app.add_feed("https://ex.com/feed")
        app.flush()
        with Store(root) as cli:
            cli.add_rule("mute", "title", "sponsored")
        app.upsert_entries(feed.id, entries("Sponsored: x", "Real"))
        assert titles(app) == ["Real"]
    finally:
        app.close()


def test_muting_a_feed_hides_its_items_until_unmuted(store: Store) -> None:
    noisy, _ = store.add_feed("https://noisy.example/feed")
    calm, _ = store.add_feed("https://calm.example/feed")
    store.upsert_entries(noisy.id, entries("n1", "n2", prefix="n"))
    store.upsert_entries(calm.id, entries("c1", prefix="c"))
    store.update_feed(noisy.id, muted=True)
    assert titles(store) == ["c1"]
    assert store.count(ItemFilter(unread=True)) == 1 and store.totals() == (1, 1)
    assert store.counts()[noisy.id] == (0, 0)
    # Still polled: new items arrive, hidden.
    store.upsert_entries(noisy.id, entries("n1", "n2", "n3", prefix="n"))
    assert titles(store) == ["c1"]
    store.update_feed(noisy.id, muted=False)
    assert titles(store) == ["c1", "n1", "n2", "n3"]


def test_an_article_of_a_muted_feed_seen_elsewhere_stays(store: Store) -> None:
    muted, _ = store.add_feed("https://m.example/feed")
    other, _ = store.add_feed("https://o.example/feed")
    store.update_feed(muted.id, muted=True)
    store.upsert_entries(muted.id, entries("Shared article", prefix="s"))
    assert titles(store) == []
    store.upsert_entries(other.id, entries("Shared article", prefix="s"))  # same link
    assert titles(store) == ["Shared article"]


def test_tag_mute_follows_feed_tags(store: Store) -> None:
    feed, _ = store.add_feed("https://ex.com/feed")
    store.upsert_entries(feed.id, entries("a", "b"))
    store.add_rule("mute", "tag", "sports")
    assert titles(store) == ["a", "b"]
    store.update_feed(feed.id, tags=("sports",))
    assert titles(store) == []
    store.update_feed(feed.id, tags=())
    assert titles(store) == ["a", "b"]


def test_author_mute_and_alert_star_and_tag(store: Store) -> None:
    feed, _ = store.add_feed("https://ex.com/feed")
    store.upsert_entries(feed.id, entries("old llm post", "other"))
    store.set_state([i.id for i in store.items() if i.title == "other"], read=True)
    alert, n = store.add_rule("alert", "text", r"\bllm\b", star=True, tag="ai")
    assert n == 1  # the unread items already here
    store.upsert_entries(feed.id, entries("old llm post", "other", "New LLM paper", "noise"))
    starred = titles(store, ItemFilter(starred=True))
    assert starred == ["New LLM paper", "old llm post"]
    assert titles(store, ItemFilter(tag="ai")) == starred
    assert store.alert_counts() == {alert.id: 2}
    store.set_state([i.id for i in store.items() if i.title == "New LLM paper"], read=True)
    assert store.alert_counts() == {alert.id: 1}
    # Removing the alert takes back exactly what it did.
    store.remove_rule(alert.id)
    assert titles(store, ItemFilter(starred=True)) == []
    assert store.all_tags() == []
    assert store.alert_counts() == {}
    store.add_rule("mute", "author", "@Spammer")
    store.upsert_entries(feed.id, entries("spam", author="spammer", prefix="sp"))
    assert "spam" not in titles(store)


def test_alert_keeps_a_star_the_user_gave(store: Store) -> None:
    feed, _ = store.add_feed("https://ex.com/feed")
    store.upsert_entries(feed.id, entries("llm one"))
    iid = store.items()[0].id
    store.set_state([iid], starred=True)
    alert, _ = store.add_rule("alert", "title", "llm", star=True)
    store.remove_rule(alert.id)
    item = store.get_item(iid)
    assert item is not None and item.starred


def test_undo_takes_back_add_and_remove(store: Store) -> None:
    feed, _ = store.add_feed("https://ex.com/feed")
    store.upsert_entries(feed.id, entries("crypto", "python"))
    rule, _ = store.add_rule("mute", "title", "crypto")
    assert titles(store) == ["python"]
    store.remove_rule(rule.id)
    assert titles(store) == ["crypto", "python"]
    assert "undid removing rule" in (store.undo_rules() or "")
    assert titles(store) == ["python"] and [r.id for r in store.rules()] == [rule.id]
    assert "undid adding rule" in (store.undo_rules() or "")
    assert titles(store) == ["crypto", "python"] and store.rules() == []
    assert store.undo_rules() is None


def test_undo_of_an_alert_removal_restores_its_stars(store: Store) -> None:
    feed, _ = store.add_feed("https://ex.com/feed")
    store.upsert_entries(feed.id, entries("llm", "x"))
    alert, _ = store.add_rule("alert", "title", "llm", star=True)
    store.remove_rule(alert.id)
    assert titles(store, ItemFilter(starred=True)) == []
    store.undo_rules()
    assert titles(store, ItemFilter(starred=True)) == ["llm"]
    assert store.alert_counts() == {alert.id: 1}


def test_pathological_pattern_is_refused_when_items_would_hang_it(store: Store) -> None:
    feed, _ = store.add_feed("https://ex.com/feed")
    store.upsert_entries(feed.id, entries("a" * 60 + "b"))
    started = time.monotonic()
    with pytest.raises(RuleError) as e:
        store.add_rule("mute", "title", PATHOLOGICAL)
    assert "took too long" in str(e.value) and "\n" not in str(e.value)
    assert time.monotonic() - started < 5
    assert store.rules() == []


def test_a_rule_that_runs_away_at_ingest_is_stopped_not_repeated(store: Store) -> None:
    feed, _ = store.add_feed("https://ex.com/feed")
    rule, _ = store.add_rule("mute", "title", PATHOLOGICAL)  # nothing stored to try it on
    many = [f"{'a' * 60}b{i}" for i in range(40)]
    started = time.monotonic()
    store.upsert_entries(feed.id, entries(*many, "fine"))
    # One timeout, then the rule is skipped: not 41 of them.
    assert time.monotonic() - started < 20 * MATCH_TIMEOUT + 2
    stopped = store.get_rule(rule.id)
    assert stopped is not None and "too long" in stopped.stopped
    assert len(titles(store)) == 41


# -------------------------------------------------------------------- CLI
def serve(httpserver: HTTPServer, titles_: list[str], path: str = "/feed.xml") -> str:
    items = "".join(
        f"<item><guid>g{i}</guid><title>{t}</title><link>https://ex.com/{i}</link>"
        f"<author>{'bob@ex.com (Bob)' if 'bob' in t else 'al@ex.com (Al)'}</author></item>"
        for i, t in enumerate(titles_)
    )
    httpserver.expect_request(path).respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>',
        content_type="application/rss+xml",
    )
    return httpserver.url_for(path)


def shown_titles(cli, *args: str) -> list[str]:
    return sorted(json.loads(x)["title"] for x in cli("items", "--json", *args).lines)


def test_cli_rules_add_list_remove_undo(cli, httpserver: HTTPServer) -> None:
    url = serve(httpserver, ["Crypto moon", "Python 4", "LLM paper", "bob writes"])
    assert cli("add", url).code == 0
    r = cli("rules", "add", "mute", "--title", "crypto")
    assert r.code == 0 and "added rule 1" in r.out and "1 item hidden" in r.out
    r = cli("rules", "add", "alert", "--text", "llm", "--star", "--tag", "ai")
    assert r.code == 0 and "added rule 2" in r.out and "1 unread item matched" in r.out
    assert shown_titles(cli) == ["LLM paper", "Python 4", "bob writes"]
    assert shown_titles(cli, "--starred") == ["LLM paper"]
    assert shown_titles(cli, "--muted") == ["Crypto moon"]
    listing = cli("rules")
    assert listing.code == 0
    assert "1  mute title ~ /crypto/  (1 item hidden)" in listing.out
    assert "2  alert text ~ /llm/ → star, tag ai  (1 unread · 1 matched)" in listing.out
    rows = [json.loads(x) for x in cli("rules", "--json").lines]
    assert [(x["id"], x["kind"], x["matches"]) for x in rows] == [(1, "mute", 1), (2, "alert", 1)]
    r = cli("rules", "remove", "1")
    assert r.code == 0 and "1 item back in view" in r.out
    assert "Crypto moon" in shown_titles(cli)
    r = cli("rules", "undo")
    assert r.code == 0 and "undid removing rule 1" in r.out
    assert "Crypto moon" not in shown_titles(cli)
    r = cli("rules", "add", "mute", "--feed", url)
    assert r.code == 0 and "4 items hidden" in r.out  # the one muted by rule 1 too
    assert shown_titles(cli) == []


def test_cli_rules_errors_are_one_line(cli, httpserver: HTTPServer) -> None:
    r = cli("rules", "add", "mute", "--title", "a(b")
    assert r.code == 1 and r.err.startswith("veille: bad regular expression 'a(b'")
    assert len(r.err.strip().splitlines()) == 1
    r = cli("rules", "remove", "7")
    assert r.code == 1 and "no rule 7" in r.err
    r = cli("rules", "undo")
    assert r.code == 1 and "no rule change to undo" in r.err
    r = cli("rules", "add", "mute", "--feed", "https://nowhere.example/feed")
    assert r.code == 1 and "no such feed" in r.err
    with pytest.raises(SystemExit) as e:
        cli("rules", "add", "mute", "--title", "x", "--author", "y")
    assert e.value.code == 2


def test_cli_pathological_pattern_does_not_hang(cli_proc, home: Path) -> None:
    from veille.paths import get_paths

    with Store(get_paths().store) as s:
        feed, _ = s.add_feed("https://ex.com/feed")
        s.upsert_entries(feed.id, entries("a" * 60 + "b", "ok"))
    r = cli_proc("rules", "add", "mute", "--text", PATHOLOGICAL, timeout=30)
    assert r.code == 1 and "took too long" in r.err and "Traceback" not in r.err
