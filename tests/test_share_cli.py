"""`veille share / shares / send / digest`: the sharing contract for scripts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer


def rss_with_tags(n: int = 3) -> str:
    items = "".join(
        f"<item><guid>s{i}</guid><title>Story {i}</title>"
        f"<link>https://example.com/story{i}</link>"
        f"<pubDate>Mon, 0{1 + i} Jun 2026 10:00:00 GMT</pubDate>"
        f"<category>machine learning</category><category>Python</category>"
        f"<description>&lt;p&gt;Summary {i}&lt;/p&gt;</description></item>"
        for i in range(n)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Example Blog</title>'
        f"<link>https://example.com/</link>{items}</channel></rss>"
    )


def add_feed(cli, httpserver: HTTPServer) -> list[dict]:
    """Serve a feed, `veille add` it; returns its items (newest first)."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss_with_tags(), content_type="application/rss+xml"
    )
    r = cli("add", httpserver.url_for("/feed.xml"))
    assert r.code == 0, r.err
    return [json.loads(line) for line in cli("items", "--json").lines]


@pytest.fixture
def items(cli, httpserver: HTTPServer) -> list[dict]:
    return add_feed(cli, httpserver)


def test_dry_run_prints_texts_with_counters_and_saves_nothing(cli, items, home: Path) -> None:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[accounts."mastodon.social"]\ntype = "mastodon"\ninstance = "https://mastodon.social"\n'
    )
    item = items[0]
    r = cli(
        "share",
        item["id"],
        "--comment",
        "Read this",
        "--to",
        "mastodon.social",
        "--to",
        "atom",
        "--dry-run",
    )
    assert r.code == 0, r.err
    headers = [line for line in r.lines if line.startswith("── ")]
    assert headers[0].startswith("── mastodon.social  ") and headers[0].endswith("/500")
    assert headers[1].startswith("── atom  ")
    # Mastodon counts the URL as 23: "Read this" + title + link + via + hashtags.
    count = int(headers[0].split()[-1].split("/")[0])
    text = r.out.split(headers[0], 1)[1].split("── atom")[0].strip()
    assert text.startswith("Read this\n\n" + item["title"] + "\n" + item["link"])
    assert "via Example Blog" in text and "#MachineLearning #Python" in text
    assert count == len(text.replace(item["link"], "x" * 23))
    assert cli("shares", "--json").out == ""
    assert not (home / "data" / "shares.atom").exists()


def test_dry_run_over_the_limit_says_so(cli, items, home: Path) -> None:
    config = home / "config" / "config.toml"
    config.write_text('[accounts.sky]\ntype = "bluesky"\nhandle = "me.example"\n')
    r = cli(
        "share", items[0]["id"], "--comment", "é" * 400, "--to", "sky", "--to", "atom", "--dry-run"
    )
    assert r.code == 1  # the Bluesky text would be refused
    headers = [line for line in r.lines if line.startswith("── ")]
    assert "too long" in headers[0] and "over Bluesky's limit" in headers[0]
    assert "too long" not in headers[1]
    assert cli("shares", "--json").out == ""


def test_share_to_atom_out_of_the_box(cli, items, home: Path) -> None:
    first, second = items[1], items[0]
    r = cli("share", first["id"], "--comment", "Older share, about zeppelins")
    assert r.code == 0, r.err
    assert "atom" in r.out and "sent file://" in r.out
    r = cli("share", second["id"], "--comment", "Newer share", "--tag", "Reading")
    assert r.code == 0, r.err
    atom = home / "data" / "shares.atom"
    parsed = feedparser.parse(atom.read_bytes())
    assert parsed.bozo == 0
    assert [e.title for e in parsed.entries] == [second["title"], first["title"]]
    assert "Older share, about zeppelins" in parsed.entries[1].content[0].value
    assert parsed.entries[0].source.title == "Example Blog"
    assert parsed.entries[0].link == second["link"]
    assert [t.term for t in parsed.entries[0].tags] == ["Reading"]


def test_shares_json_fields_and_search_by_comment(cli, items) -> None:
    item = items[2]
    r = cli("share", item["id"][:6], "--comment", "Marvellous zeppelins, finally explained")
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in cli("shares", "--json").lines]
    assert len(rows) == 1
    row = rows[0]
    for key in ("id", "item_id", "created", "title", "link", "comment", "deliveries"):
        assert key in row
    assert row["item_id"] == item["id"] and row["title"] == item["title"]
    assert row["comment"] == "Marvellous zeppelins, finally explained"
    (d,) = row["deliveries"]
    assert d["destination"] == "atom" and d["status"] == "sent"
    assert d["url"].startswith("file://") and d["error"] is None
    found = [json.loads(line) for line in cli("items", "--search", "zeppelins", "--json").lines]
    assert [f["id"] for f in found] == [item["id"]]
    assert found[0]["shared"] is True
    text = cli("shares")
    assert row["id"] in text.out and "atom: sent file://" in text.out


def test_comment_from_stdin(cli, items, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("Line one\nline two\n"))
    r = cli("share", items[0]["id"], "--comment", "-", "--no-send")
    assert r.code == 0, r.err
    (row,) = [json.loads(line) for line in cli("shares", "--json").lines]
    assert row["comment"] == "Line one\nline two"
    assert row["deliveries"][0]["status"] == "queued"
    r = cli("send")
    assert r.code == 0 and "atom  sent" in r.out
    assert cli("send").out.strip() == "nothing to send"


def test_digest_markdown_content_and_order(cli, items, tmp_path: Path) -> None:
    cli("share", items[2]["id"], "--comment", "First I read this")
    cli("share", items[0]["id"], "--comment", "Then this")
    r = cli("digest", "--since", "7d", "--format", "md")
    assert r.code == 0, r.err
    assert r.out.index(items[0]["title"]) < r.out.index(items[2]["title"])  # newest first
    assert "First I read this" in r.out and "Then this" in r.out
    assert f"]({items[0]['link']})" in r.out and "Example Blog" in r.out
    out = tmp_path / "reading.html"
    r = cli("digest", "--format", "html", "--out", str(out))
    assert r.code == 0 and r.out == ""
    assert "<html" in out.read_text() and "Then this" in out.read_text()
    bad = cli("digest", "--since", "last tuesday")
    assert bad.code == 1 and bad.err.count("\n") == 1 and "7d" in bad.err


def test_errors_are_one_line(cli, items) -> None:
    r = cli("share", "ffffffffff", "--comment", "x")
    assert r.code == 1 and r.err.startswith("veille: ") and r.err.count("\n") == 1
    assert "unknown item id" in r.err
    r = cli("share", items[0]["id"], "--comment", "x", "--to", "nowhere")
    assert r.code == 1 and "unknown destination 'nowhere'" in r.err and r.err.count("\n") == 1
    r = cli("share", items[0]["id"])
    assert r.code == 1 and "--comment" in r.err
    assert cli("shares", "--json").out == ""


def test_bad_account_table_is_one_line(cli, items, home: Path) -> None:
    config = home / "config" / "config.toml"
    config.write_text('[accounts.friendica]\ntype = "friendica"\n')
    r = cli("share", items[0]["id"], "--comment", "x")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "accounts.friendica" in r.err and "unknown type" in r.err


def test_command_destination(cli, items, home: Path, tmp_path: Path) -> None:
    script = tmp_path / "hook.py"
    got = tmp_path / "got.json"
    script.write_text(
        "import json, sys\n"
        f"data = json.load(sys.stdin)\nopen({str(got)!r}, 'w').write(json.dumps(data))\n"
        "print('posted'); print('https://hooks.example/p/1')\n"
    )
    failing = tmp_path / "fail.py"
    failing.write_text("import sys\nsys.stderr.write('first\\nquota exceeded\\n'); sys.exit(3)\n")
    r = cli("account", "add", "command", "hook", "--command", f"{sys.executable} {script}")
    assert r.code == 0, r.err
    r = cli("account", "add", "command", "bad", "--command", f"{sys.executable} {failing}")
    assert r.code == 0, r.err
    r = cli("share", items[0]["id"], "--comment", "Über-cool", "--to", "hook", "--to", "bad")
    assert r.code == 1
    assert "hook  sent https://hooks.example/p/1" in r.out
    assert "bad   failed: the command exited with status 3: quota exceeded" in r.out
    data = json.loads(got.read_text())
    assert data["comment"] == "Über-cool" and data["link"] == items[0]["link"]
    assert data["text"].startswith("Über-cool") and data["destination"] == "hook"


def test_subprocess_errors_are_one_line(cli_proc) -> None:
    r = cli_proc("share", "abcdef", "--comment", "x")
    assert r.code == 1 and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert "unknown item id" in r.err
