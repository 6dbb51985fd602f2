"""The network views below the app: items seen via N accounts you follow, the most
shared first; the same items whichever way the store finds them; a ranked view
of your own in config.toml; counts that match `veille items --view`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from veille.config import ConfigError, parse_config
from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.domain.views import BUILTIN_VIEWS, SavedView
from veille.paths import get_paths
from veille.store.store import Store
from veille.triage.views import find_view, rank_ids, saved_views, view_counts, view_filter, view_ids
from veille.util.dates import now


def post(key: str, handle: str, link: str, **kw: str) -> ParsedEntry:
    user, host = handle.strip("@").split("@")
    return ParsedEntry(
        key=f"https://{host}/s/{key}",
        link=link,
        kind=kw.pop("kind", "post"),
        handle=handle,
        post_url=f"https://{host}/@{user}/{key}",
        post_text=kw.pop("text", f"{user}: read this"),
        **kw,
    )


@pytest.fixture
def network(home: Path) -> dict[str, str]:
    """link -> id: three shared by several accounts today, one last week, one once."""
    with Store(get_paths().store) as s:
        site, _ = s.add_feed("https://site.example/feed", title="Site")
        s.upsert_entries(
            site.id,
            [
                ParsedEntry(key=k, title=f"Article {k}", link=f"https://site.example/{k}")
                for k in ("a", "b", "z")
            ],
            when=now() - timedelta(hours=1),
        )
        home_feed, _ = s.add_feed("mastodon:home", kind="mastodon", account="main")
        s.upsert_entries(
            home_feed.id,
            [post(f"w{n}", f"@w{n}@x.example", "https://week.example/1") for n in range(4)],
            when=now() - timedelta(days=3),
        )
        s.upsert_entries(
            home_feed.id,
            [
                post("1", "@ann@a.example", "https://site.example/a"),
                post("2", "@bob@b.example", "https://site.example/a"),
                post("3", "@cat@c.example", "https://site.example/b"),
                post("4", "@dan@d.example", "https://site.example/b"),
                post("5", "@eve@e.example", "https://site.example/b"),
                post("6", "@ann@a.example", "https://site.example/b"),  # ann again
                post("7", "@fay@f.example", "https://news.example/c", text="about feeds"),
                post(
                    "8",
                    "@gil@g.example",
                    "https://news.example/c",
                    kind="repost",
                    reposter="@hal@h.example",
                ),
                post("9", "@ivy@i.example", "https://news.example/once"),
            ],
        )
        s.flush()
        return {i.link: i.id for i in s.items()}


def test_network_views_rank_by_sharers_then_newest(network: dict[str, str]) -> None:
    views = saved_views(parse_config(""))
    assert [v.name for v in BUILTIN_VIEWS][-2:] == ["network", "network-week"]
    with Store(get_paths().store) as s:
        day = view_ids(s, views["network"])
        week = view_ids(s, views["network-week"])
        # b: cat, dan, eve, ann (4); a: ann, bob (2); c: fay, hal (2), the newer.
        assert day == [
            network["https://site.example/b"],
            network["https://news.example/c"],
            network["https://site.example/a"],
        ]
        # The week's (four sharers, three days ago) ties with b: the newer first.
        assert week == [day[0], network["https://week.example/1"], *day[1:]]
        assert view_counts(s, [views["network"], views["network-week"]]) == {
            "network": 3,
            "network-week": 4,
        }
        # Filterable like any view: narrowed by a search, still ranked.
        flt = view_filter(views["network-week"], s).but(search="feeds")
        assert rank_ids(s, s.ids(flt), "sharers") == [network["https://news.example/c"]]
        assert rank_ids(s, day, "newest") == day  # another order leaves them be


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_items_with_sightings_are_found_as_by_a_walk_of_every_item(
    network: dict[str, str], n: int
) -> None:
    """Store.view_ids starts from the items with sightings: the same ids, in the
    same order, as a walk of every item, with a kept item and with a search."""
    with Store(get_paths().store) as s:
        plain = network["https://site.example/z"]
        for flt in (
            find_view(parse_config(""), "network-week").to_filter().but(min_sharers=n),
            find_view(parse_config(""), "all").to_filter().but(min_sharers=n, search="read"),
        ):
            assert list(s.view_ids(flt)) == list(s.ids(flt))
            kept = list(s.view_ids(flt, keep={plain}))
            assert kept == list(s.ids(flt, keep={plain}))
            # An item read a moment ago stays in the view (a search shows matches only).
            assert (plain in kept) is not bool(flt.search)
            assert s.count(flt) == len(list(s.ids(flt)))


def test_a_ranked_view_of_your_own(cli, home: Path, network: dict[str, str]) -> None:
    cfg = parse_config('[views.hot]\nmin_sharers = 3\nrank = "sharers"\n')
    hot = find_view(cfg, "hot")
    assert hot.rank == "sharers" and hot.to_table() == {"min_sharers": 3, "rank": "sharers"}
    with Store(get_paths().store) as s:
        # Four sharers each: the newer first.
        assert view_ids(s, hot) == [
            network["https://site.example/b"],
            network["https://week.example/1"],
        ]
    assert SavedView("plain").to_table() == {}
    with pytest.raises(ConfigError, match="rank: use one of newest, sharers"):
        parse_config('[views.x]\nrank = "loudest"\n')
    # The CLI lists the network view's items (the same set as the app's count).
    r = cli("items", "--json", "--view", "network")
    assert r.code == 0, r.err
    assert {json.loads(x)["id"] for x in r.lines} == {
        network["https://site.example/a"],
        network["https://site.example/b"],
        network["https://news.example/c"],
    }


def test_an_unresolved_saved_view_shows_nothing_rather_than_everything(tmp_path: Path) -> None:
    """A spec naming a saved view without its resolved filter must not widen to
    every item (A would then mark the whole store read)."""
    from veille.tui.services.views import ViewSpec

    store = Store(tmp_path / "store")
    feed, _ = store.add_feed("https://f.example/feed.xml", title="F")
    store.upsert_entries(
        feed.id,
        ParsedFeed(title="F", entries=[ParsedEntry(key="k", title="t", link="https://a.example/")]),
    )
    assert len(store) == 1
    assert list(store.ids(ViewSpec("view", "network").to_filter())) == []
    store.close()
