"""`veille feed edit` (issue 12) and undoable unsubscribing (issue 7), as the user
sees them: command output, `veille feeds --json` and `veille items`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.test_refresh import rss


def serve(httpserver: HTTPServer, path: str = "/feed.xml", n: int = 3, **kw) -> str:
    httpserver.expect_request(path).respond_with_data(
        rss(n, **kw), content_type="application/rss+xml"
    )
    return httpserver.url_for(path)


def feeds(cli) -> list[dict]:
    return [json.loads(x) for x in cli("feeds", "--json").lines]


def items(cli, *args: str) -> list[dict]:
    return [json.loads(x) for x in cli("items", "--json", *args).lines]


def test_edit_title_tags_interval_full_text(cli, httpserver: HTTPServer) -> None:
    url = serve(httpserver)
    assert cli("add", url, "--tag", "old").code == 0
    r = cli(
        "feed", "edit", url, "--title", "Zebra Digest", "--tag", "news", "--untag", "old",
        "--interval", "90", "--full-text",
    )  # fmt: skip
    assert r.code == 0
    assert "title" in r.out and "tagged news" in r.out and "untagged old" in r.out
    [f] = feeds(cli)
    assert f["title"] == "Zebra Digest" and f["tags"] == ["news"]
    assert f["interval"] == 90 and f["full_text"] is True and f["muted"] is False
    # Search and tag views follow the new title and tags.
    assert len(items(cli, "--search", "zebra")) == 3
    assert len(items(cli, "--tag", "news")) == 3
    assert items(cli, "--tag", "old") == []
    # The feed's own title comes back at the next poll after --title "".
    assert cli("feed", "edit", f["id"], "--title", "", "--interval", "default").code == 0
    assert cli("refresh").code == 0
    [f] = feeds(cli)
    assert f["title"] == "Feed" and f["interval"] is None
    assert cli("feed", "edit", f["id"], "--no-full-text").code == 0
    assert feeds(cli)[0]["full_text"] is False


def test_mute_hides_items_from_views_and_counts_until_unmuted(cli, httpserver: HTTPServer) -> None:
    noisy = serve(httpserver, "/noisy.xml", 3, prefix="n")
    calm = serve(httpserver, "/calm.xml", 2, prefix="c")
    cli("add", noisy)
    cli("add", calm)
    r = cli("feed", "edit", noisy, "--mute")
    assert r.code == 0 and "muted" in r.out
    by_url = {f["url"]: f for f in feeds(cli)}
    assert by_url[noisy]["muted"] is True
    assert (by_url[noisy]["items"], by_url[noisy]["unread"]) == (0, 0)
    assert len(items(cli)) == 2 and len(items(cli, "--unread")) == 2
    assert len(items(cli, "--muted")) == 3
    # Still polled.
    assert "2 feeds polled" in cli("refresh").out
    assert "muted" in cli("feeds").out
    assert cli("feed", "edit", noisy, "--unmute").code == 0
    assert len(items(cli)) == 5


def test_edit_errors_are_one_line(cli, httpserver: HTTPServer) -> None:
    url = serve(httpserver)
    cli("add", url, "--no-fetch")
    for args, needle in [
        (("--interval", "0"), "--interval: the interval must be 1 to 43200 minutes, not 0"),
        (("--interval", "soon"), "--interval: the interval is minutes"),
        ((), "say what to change"),
    ]:
        r = cli("feed", "edit", url, *args)
        assert r.code == 1 and needle in r.err, (args, r.err)
        assert len(r.err.strip().splitlines()) == 1
    r = cli("feed", "edit", "https://nowhere.example/", "--mute")
    assert r.code == 1 and "no such feed" in r.err
    with pytest.raises(SystemExit) as e:
        cli("feed", "edit", url, "--mute", "--unmute")
    assert e.value.code == 2


def test_remove_takes_an_id_prefix_and_refuses_short_or_ambiguous_ones(cli, home: Path) -> None:
    from veille.paths import get_paths
    from veille.store.store import Store

    with Store(get_paths().store) as s:
        s.add_feeds((f"https://f{i}.example/feed", "", [], "") for i in range(2000))
    ids = [f["id"] for f in feeds(cli)]
    seen: dict[str, str] = {}
    shared = next(p for i in ids if (p := i[:4]) in seen or seen.setdefault(p, i) is None)
    r = cli("remove", shared)
    assert r.code == 1 and "ambiguous" in r.err
    unique = next(i for i in ids if sum(j.startswith(i[:5]) for j in ids) == 1)
    r = cli("remove", unique[:5])
    assert r.code == 0 and "removed" in r.out
    assert unique not in {f["id"] for f in feeds(cli)}
    r = cli("remove", ids[0][:3])
    assert r.code == 1 and "no such feed" in r.err
    assert len(feeds(cli)) == 1999


def test_unsubscribing_is_undoable(cli, httpserver: HTTPServer) -> None:
    url = serve(httpserver, n=4)
    cli("add", url, "--tag", "keep", "--title", "Mine")
    fid = feeds(cli)[0]["id"]
    cli("feed", "edit", fid, "--interval", "120")
    ids = [x["id"] for x in items(cli)]
    cli("mark", ids[0], "--read")
    cli("mark", ids[1], "--star")
    r = cli("remove", fid[:4])
    assert r.code == 0 and f"veille feed restore {fid}" in r.out
    assert feeds(cli) == [] and [x["id"] for x in items(cli)] == [ids[1]]
    listed = cli("feed", "restore", "--list")
    assert fid in listed.out and "Mine" in listed.out
    r = cli("feed", "restore")
    assert r.code == 0 and "restored" in r.out
    [f] = feeds(cli)
    assert (f["id"], f["title"], f["tags"], f["interval"]) == (fid, "Mine", ["keep"], 120)
    back = {x["id"]: x for x in items(cli)}
    assert set(back) == set(ids)
    assert back[ids[0]]["read"] and back[ids[1]]["starred"]
    # The next poll matches the restored items: no duplicates, state kept, bodies back.
    assert cli("refresh", fid).code == 0
    again = {x["id"]: x for x in items(cli)}
    assert set(again) == set(ids) and again[ids[0]]["read"]
    from veille.paths import get_paths
    from veille.store.store import Store

    with Store(get_paths().store) as s:
        assert "Body" in s.get_content(ids[2]).html
    r = cli("feed", "restore")
    assert r.code == 1 and "no removed feed" in r.err


def test_restore_refuses_a_feed_subscribed_again(cli, httpserver: HTTPServer) -> None:
    url = serve(httpserver)
    cli("add", url, "--no-fetch")
    fid = feeds(cli)[0]["id"]
    cli("remove", fid)
    cli("add", url, "--no-fetch")
    r = cli("feed", "restore", fid)
    assert r.code == 1 and "subscribed again" in r.err
    assert len(feeds(cli)) == 1


def test_feeds_listing_prints_feed_text_as_one_clean_line(cli, home: Path) -> None:
    from veille.paths import get_paths
    from veille.store.store import Store

    with Store(get_paths().store) as s:
        s.add_feed(
            "https://ex.com/feed", title="Evil\x1b]0;pwned\x07 title\nsecond", tags=["t\x1b[31m"]
        )
    r = cli("feeds")
    assert r.code == 0
    assert "\x1b" not in r.out and "\x07" not in r.out
    assert "second" in r.lines[0]  # the title stayed on its line
