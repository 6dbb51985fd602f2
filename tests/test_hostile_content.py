"""Hostile feed content (issue 8): 51 items in RSS, Atom and JSON Feed whose every field
carries escape sequences (raw bytes and character references), C1 controls, bidi
overrides and javascript:/file:/data: links, served on 127.0.0.1 and read by the real
`veille`.  Nothing a terminal would obey reaches `items`, `feeds`, the app's terminal
stream or $BROWSER (tests/faults/hostile.py builds the feeds and the checks; the fault
table runs the same as `hostile_content`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.faults import hostile as h
from tests.faults.home import Home
from tests.faults.tmux import have_tmux


@pytest.fixture(scope="module")
def hostile_home() -> Iterator[Home]:
    with Home() as home, h.serve_hostile() as urls:
        row = h.subscribe(home, urls)
        assert row.passed, row.happened
        yield home


def test_the_feeds_really_are_hostile() -> None:
    """The checks below would see the payloads if any got through."""
    docs = h.hostile_feeds()
    raw = b"".join(d.body for d in docs)
    assert h.stream_problems(raw)  # markers, bidi and C1 in the bytes served
    assert h.stream_problems(b"a title\x07\x08")  # a stray BEL between Textual's sequences
    assert not h.stream_problems(b"\x1b[?1049h\x1b[31mtext\x1b[0m\r\n\x1b]22;default\x1b\\")
    text = raw.decode("utf-8", "replace")
    assert h.text_problems("served", text)
    assert "\x1b]0;" in text and "\u202e" in text and "\x9b" in text
    assert "&#x1b;" in text and "javascript:" in text and "file:///" in text
    assert h.browser_problems(["javascript:alert(1)", "file:///etc/passwd"])
    assert not h.browser_problems(["https://ok.example/a b"])  # one argv element: fine
    assert len(h.item_numbers()) > 47


def test_every_format_is_read_in_full(hostile_home: Home) -> None:
    feeds = hostile_home.feeds()
    assert sorted(f["items"] for f in feeds.values()) == [h.ITEMS_PER_FORMAT] * 3
    assert all(f["status"] == "ok" for f in feeds.values())


@pytest.mark.parametrize(
    "args",
    [("items",), ("items", "--json"), ("feeds",), ("feeds", "--json")],
    ids=["items", "items-json", "feeds", "feeds-json"],
)
def test_command_output_is_clean(hostile_home: Home, args: tuple[str, ...]) -> None:
    ran = hostile_home.veille(*args)
    assert ran.code == 0, ran.err
    channel = " ".join(args)
    if "--json" in args:
        problems = h.json_problems(channel, ran.lines)
    else:
        problems = h.text_problems(channel, ran.out)
    assert not problems
    assert not h.text_problems("stderr", ran.err)
    want = 3 * h.ITEMS_PER_FORMAT if args[0] == "items" else 3
    assert sum("SEEN-" in line for line in ran.lines) >= want  # each item/feed shown


def test_only_web_links_are_kept(hostile_home: Home) -> None:
    items = [json.loads(line) for line in hostile_home.veille("items", "--json").lines]
    links = [i["link"] for i in items]
    assert [u for u in links if u and not h.is_web_url(u)] == []
    # the safe links survive, cleaned of the escape sequence some of them carry
    assert sum(u.startswith(h.SAFE_PREFIX + "item/") for u in links) >= 10
    assert not any(h.MARK in u for u in links)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not have_tmux(), reason="tmux is absent")
def test_the_app_terminal_and_browser_see_nothing_hostile(hostile_home: Home) -> None:
    """Every item shown in the real app in tmux; every link opened through a $BROWSER
    that records what it gets; every byte the app wrote to the terminal checked."""
    failed = [f"{r.case}: {r.happened}" for r in h.app_rows(hostile_home) if not r.passed]
    assert not failed, "\n".join(failed)
