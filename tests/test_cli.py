"""The command-line contract (names, --json lines, exit codes, one-line errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.test_refresh import rss

COMMANDS = [
    "add", "remove", "feeds", "import", "export", "refresh", "items", "mark",
    "share", "shares", "send", "digest", "account", "feed", "rules",
]  # fmt: skip


def serve_feed(httpserver: HTTPServer, path: str = "/feed.xml", n: int = 3, **kw) -> str:
    httpserver.expect_request(path).respond_with_data(
        rss(n, **kw), content_type="application/rss+xml"
    )
    return httpserver.url_for(path)


def test_version_and_help(cli) -> None:
    with pytest.raises(SystemExit) as e:
        cli("--version")
    assert e.value.code == 0
    for cmd in COMMANDS:
        with pytest.raises(SystemExit) as e:
            cli(cmd, "--help")
        assert e.value.code == 0


def test_add_feed_then_items_json(cli, httpserver: HTTPServer) -> None:
    url = serve_feed(httpserver)
    r = cli("add", url, "--tag", "news", "--tag", "ai")
    assert r.code == 0 and "subscribed" in r.out
    again = cli("add", url)
    assert again.code == 0 and "already subscribed" in again.out
    rows = [json.loads(line) for line in cli("items", "--json").lines]
    assert len(rows) == 3
    for key in (
        "id",
        "feed",
        "title",
        "link",
        "author",
        "published",
        "summary",
        "read",
        "starred",
        "tags",
    ):
        assert key in rows[0]
    assert rows[0]["feed"] == url
    assert rows[0]["published"].endswith("Z")
    feeds = [json.loads(line) for line in cli("feeds", "--json").lines]
    assert feeds[0]["tags"] == ["ai", "news"]
    assert feeds[0]["items"] == 3 and feeds[0]["unread"] == 3
    assert feeds[0]["last_fetch"] and feeds[0]["next_poll"]


def test_add_discovers_feeds_from_a_page(cli, httpserver: HTTPServer) -> None:
    a = serve_feed(httpserver, "/a.xml", title="A")
    b = serve_feed(httpserver, "/b.xml", title="B", prefix="b")
    page = (
        "<html><head>"
        f'<link rel="alternate" type="application/rss+xml" href="{a}" title="Posts">'
        f'<link rel="alternate" type="application/rss+xml" href="{b}" title="Comments">'
        "</head><body>hi</body></html>"
    )
    httpserver.expect_request("/blog").respond_with_data(page, content_type="text/html")
    r = cli("add", httpserver.url_for("/blog"))
    assert r.code == 1
    assert "--pick" in r.out and a in r.out and b in r.out
    r = cli("add", httpserver.url_for("/blog"), "--pick", "2")
    assert r.code == 0
    assert [json.loads(x)["url"] for x in cli("feeds", "--json").lines] == [b]


def test_every_option_of_every_command_says_what_it_does() -> None:
    """`--help` must describe each option and argument (issue 7: items, import)."""
    import argparse

    from veille.cli.main import build_parser

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, [*path, name])
            elif not action.help and not isinstance(
                action, argparse._HelpAction | argparse._VersionAction
            ):
                missing.append(" ".join([*path, *(action.option_strings or [action.dest])]))

    walk(build_parser(), ["veille"])
    assert missing == []


def test_add_pick_of_a_dead_feed_refuses_like_add_of_that_feed(cli, httpserver: HTTPServer) -> None:
    live = serve_feed(httpserver, "/live.xml")
    dead = httpserver.url_for("/gone.xml")
    httpserver.expect_request("/gone.xml").respond_with_data("not here", status=404)
    page = (
        "<html><head>"
        f'<link rel="alternate" type="application/rss+xml" href="{live}" title="Posts">'
        f'<link rel="alternate" type="application/rss+xml" href="{dead}" title="Old">'
        "</head><body>hi</body></html>"
    )
    httpserver.expect_request("/blog").respond_with_data(page, content_type="text/html")
    direct = cli("add", dead)
    picked = cli("add", httpserver.url_for("/blog"), "--pick", "2")
    assert direct.code == picked.code == 1
    assert direct.err == picked.err == f"veille: HTTP 404 from {dead}\n"
    assert cli("feeds", "--json").out == ""
    assert cli("add", httpserver.url_for("/blog"), "--pick", "1").code == 0


def test_add_of_a_known_feed_updates_its_title_and_tags(cli, httpserver: HTTPServer) -> None:
    url = serve_feed(httpserver)
    cli("add", url, "--tag", "news")
    r = cli("add", url, "--tag", "ai", "--title", "My title")
    assert r.code == 0
    assert "already subscribed" in r.out and "title set to" in r.out and "tagged ai" in r.out
    [f] = [json.loads(x) for x in cli("feeds", "--json").lines]
    assert f["title"] == "My title" and f["tags"] == ["ai", "news"]
    assert len(cli("items", "--json").lines) == 3  # nothing fetched twice, nothing lost
    r = cli("add", url, "--tag", "ai")
    assert r.code == 0 and r.out.strip() == f"already subscribed: {url}"


def test_add_finds_feed_at_common_path(cli, httpserver: HTTPServer) -> None:
    url = serve_feed(httpserver, "/feed")
    httpserver.expect_request("/").respond_with_data(
        "<html><body>x</body></html>", content_type="text/html"
    )
    r = cli("add", httpserver.url_for("/"))
    assert r.code == 0, r.out + r.err
    assert json.loads(cli("feeds", "--json").lines[0])["url"] == url


def test_add_unreachable_says_why(cli) -> None:
    r = cli("add", "http://127.0.0.1:9/feed")
    assert r.code == 1
    assert r.err.startswith("veille: ") and "refused" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_remove_by_url_and_id(cli, httpserver: HTTPServer) -> None:
    url = serve_feed(httpserver)
    cli("add", url, "--no-fetch")
    fid = json.loads(cli("feeds", "--json").lines[0])["id"]
    assert cli("remove", fid).code == 0
    assert cli("feeds", "--json").out == ""
    r = cli("remove", url)
    assert r.code == 1 and "no such feed" in r.err


def test_import_export_round_trip(cli, tmp_path: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="1.0"><head><title>x</title></head><body>'
        '<outline text="Tech"><outline text="AI">'
        '<outline text="One" xmlUrl="https://one.example/feed" htmlUrl="https://one.example/"/>'
        "</outline></outline>"
        '<outline text="Two &amp; more" xmlUrl="https://two.example/rss"/>'
        "</body></opml>"
    )
    r = cli("import", str(opml))
    assert r.code == 0 and "imported 2 feeds" in r.out
    out = tmp_path / "out.opml"
    assert cli("export", str(out)).code == 0
    stdout = cli("export").out
    assert stdout.strip() == out.read_text().strip()
    # A fresh home imports the export and gets the same feeds and tags.
    before = sorted(
        (f["url"], tuple(f["tags"]), f["title"])
        for f in map(json.loads, cli("feeds", "--json").lines)
    )
    for f in map(json.loads, cli("feeds", "--json").lines):
        cli("remove", f["id"])
    assert cli("import", str(out)).code == 0
    after = sorted(
        (f["url"], tuple(f["tags"]), f["title"])
        for f in map(json.loads, cli("feeds", "--json").lines)
    )
    assert after == before
    assert ("https://one.example/feed", ("AI", "Tech"), "One") in after


def test_invalid_opml_names_the_line_and_imports_nothing(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.opml"
    bad.write_text(
        '<?xml version="1.0"?>\n<opml version="2.0">\n<body>\n'
        '<outline text="ok" xmlUrl="https://ok.example/feed"/>\n'
        '<outline text="broken" xmlUrl="https://b.example/feed">\n'
        "</body>\n</opml>\n"
    )
    r = cli("import", str(bad))
    assert r.code == 1
    assert "line" in r.err and len(r.err.strip().splitlines()) == 1
    assert cli("feeds", "--json").out == ""
    r = cli("import", str(tmp_path / "missing.opml"))
    assert r.code == 1 and "cannot read" in r.err


def test_refresh_exit_status_and_summary(cli, httpserver: HTTPServer) -> None:
    url = serve_feed(httpserver)
    cli("add", url, "--no-fetch")
    cli("add", "http://127.0.0.1:9/x", "--no-fetch")  # refused: add wants it reachable
    r = cli("refresh")
    assert r.code == 0
    assert len(r.lines) == 1 and "3 new items" in r.lines[0]
    r = cli("refresh", "--due")
    assert r.code == 0 and "0 feeds polled" in r.out


def test_refresh_fails_when_nothing_could_be_fetched(cli, home: Path) -> None:
    from veille.paths import get_paths
    from veille.store.store import Store

    with Store(get_paths().store) as s:
        s.add_feed("http://127.0.0.1:9/a")
        s.add_feed("http://127.0.0.1:9/b")
    r = cli("refresh")
    assert r.code == 1
    assert "2 errors" in r.out


def test_mark_and_filters(cli, httpserver: HTTPServer) -> None:
    cli("add", serve_feed(httpserver))
    ids = [json.loads(x)["id"] for x in cli("items", "--json").lines]
    assert cli("mark", ids[0], ids[1][:6], "--read").code == 0
    assert cli("mark", ids[2], "--star").code == 0
    unread = [json.loads(x)["id"] for x in cli("items", "--unread", "--json").lines]
    assert unread == [ids[2]]
    starred = [json.loads(x)["id"] for x in cli("items", "--starred", "--json").lines]
    assert starred == [ids[2]]
    assert len(cli("items", "--limit", "2").lines) == 2
    found = [json.loads(x)["title"] for x in cli("items", "--search", "item 1", "--json").lines]
    assert found == ["Item 1"]


def test_mark_unknown_id_changes_nothing(cli, httpserver: HTTPServer) -> None:
    cli("add", serve_feed(httpserver))
    ids = [json.loads(x)["id"] for x in cli("items", "--json").lines]
    r = cli("mark", ids[0], "deadbeefcafe", "--read")
    assert r.code == 1
    assert "unknown item id 'deadbeefcafe'" in r.err
    assert len(cli("items", "--unread", "--json").lines) == 3


def test_invalid_config_is_one_line_naming_key_and_line(cli, home: Path) -> None:
    cfg = home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('keep_days = 30\n\n[fetch]\nconcurrency = "lots"\n')
    r = cli("feeds")
    assert r.code == 2
    assert "fetch.concurrency" in r.err and "line 4" in r.err
    assert len(r.err.strip().splitlines()) == 1
    cfg.write_text("refresh_minutes = = 3\n")
    r = cli("feeds")
    assert r.code == 2 and "line 1" in r.err
    cfg.write_text("refesh_minutes = 3\n")
    r = cli("feeds")
    assert r.code == 2 and "unknown key 'refesh_minutes'" in r.err


def test_no_traceback_reaches_the_user(cli_proc) -> None:
    r = cli_proc("mark", "abcdef", "--read")
    assert r.code == 1
    assert "Traceback" not in r.err and r.err.startswith("veille:")
    r = cli_proc("items", "--limit", "x")
    assert r.code == 2 and "Traceback" not in r.err


def test_a_file_where_the_folders_go_is_one_line(cli_proc, tmp_path: Path) -> None:
    """VEILLE_HOME (or a folder in it) is a file: a line naming it, for the app too."""
    home = tmp_path / "not-a-folder"
    home.write_text("oops")
    for args in (("feeds",), ()):
        r = cli_proc(*args, env={"VEILLE_HOME": str(home)})
        assert r.code == 1, r.err
        assert r.err == f"veille: cannot create {home}/config: Not a directory\n"


def test_refresh_shows_a_progress_bar_on_a_terminal(home: Path, httpserver: HTTPServer) -> None:
    """On a TTY: a bar with feeds done/total, new items and errors, then one summary."""
    import os
    import pty
    import subprocess
    import sys

    from veille.paths import get_paths
    from veille.store.store import Store

    with Store(get_paths().store) as s:
        for i in range(5):
            s.add_feed(serve_feed(httpserver, f"/f{i}.xml", prefix=f"p{i}"))
    main_fd, tty_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "veille", "refresh"],
        stdout=subprocess.PIPE,
        stderr=tty_fd,
        env={**os.environ, "VEILLE_HOME": str(home)},
    )
    out, _ = proc.communicate(timeout=60)
    os.close(tty_fd)
    seen = b""
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(main_fd)
    assert proc.returncode == 0
    assert b"5/5 feeds" in seen and b"15 new" in seen and b"0 errors" in seen
    assert out.decode().strip() == "5 feeds polled, 15 new items"
