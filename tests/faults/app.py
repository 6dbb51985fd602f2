"""The app under faults (issue 8): killed after marks, its terminal closed, a huge body.

The real ``veille`` app in a tmux pane (tests/faults/tmux.py), driven by keys as a
user would, against feeds served on 127.0.0.1:

* marks, then ``kill -9`` of the app one second later: every mark is on disk;
* marks, then the terminal closed at once (SIGHUP): every mark on disk, no process left;
* an item whose body is one 9.5 MB line: the app answers keys within 5 s.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate

from tests.faults import Row, scenario
from tests.faults.home import Home
from tests.faults.procs import wait_until
from tests.faults.servers import RawServer, request_path, response, running
from tests.faults.tmux import TmuxApp, have_tmux
from tests.servers.feeds import serve_feeds

STARS = 4
KEY_ANSWER_S = 5.0  # the bound a user may wait for an answer to a key
KEY_WAIT_S = 60.0  # how long we wait to report the actual time
BIG_LINE_BYTES = 9_500_000


def _skipped(cases: list[str]) -> list[Row]:
    return [Row(c, "skipped: tmux is absent", True, skipped=True) for c in cases]


@contextmanager
def _app_with_items(n_feeds: int = 3, n_items: int = 10) -> Iterator[tuple[Home, TmuxApp]]:
    """A fetched home and the app open on it (the feeds stay served: the app polls)."""
    with Home() as home, serve_feeds(n_feeds, n_items) as urls:
        home.import_urls(urls)
        home.veille("refresh")
        with TmuxApp(home.root) as app:
            yield home, app


def _star_some(app: TmuxApp) -> bool:
    """Star STARS items one below the other; True once the stream shows them all."""
    if not app.wait_for(lambda s: "unread /" in s and "Feed " in s, 30):
        return False
    for k in range(STARS):
        if k:
            app.keys("j")
        app.keys("s")
    return app.wait_for(lambda s: s.count("★") >= STARS, 10)


def _unread_shown(screen: str) -> int | None:
    """The status bar's unread count ("12 unread / 30")."""
    m = re.search(r"(\d+) unread /", screen)
    return int(m.group(1)) if m else None


def _marks_rows(
    label: str, home: Home, shown: bool, unread_shown: int | None, left: list[int]
) -> list[Row]:
    """Every mark the user saw is on disk: the stars, and at least the reads the status
    bar counted (the item under the cursor may be marked read a moment later)."""
    items = home.items()
    starred = sum(bool(i["starred"]) for i in items)
    unread = sum(not i["read"] for i in items)
    ok = shown and starred == STARS and unread_shown is not None and unread <= unread_shown
    return [
        Row(
            f"{label}: every mark on disk",
            (f"screen: {STARS} stars, {unread_shown} unread" if shown else "stars never shown")
            + f"; disk: {starred} starred, {unread} unread",
            ok,
        ),
        Row(
            f"{label}: no process left",
            "none left" if not left else f"left: {left}",
            not left,
        ),
    ]


@scenario(ci=True)
def app_killed_after_marks() -> list[Row]:
    """The app killed (kill -9) one second after the user starred items."""
    label = "app kill -9 1 s after marks"
    if not have_tmux():
        return _skipped([f"{label}: every mark on disk", f"{label}: no process left"])
    with _app_with_items() as (home, app):
        shown = _star_some(app)
        time.sleep(1.0)  # the fault: one second after the marks
        unread = _unread_shown(app.screen())
        pid = app.app_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not app.pids(), 5)
        left = app.pids()
        app.stop()
        return _marks_rows(label, home, shown, unread, left)


@scenario(ci=True)
def app_terminal_closed() -> list[Row]:
    """The app's terminal closed (SIGHUP) right after the user starred items."""
    label = "app terminal closed after marks"
    cases = [f"{label}: app exits", f"{label}: every mark on disk", f"{label}: no process left"]
    if not have_tmux():
        return _skipped(cases)
    with _app_with_items() as (home, app):
        shown = _star_some(app)
        unread = _unread_shown(app.screen())
        began = time.monotonic()
        app.close_terminal()
        gone = wait_until(lambda: not app.pids(), 10)
        took = time.monotonic() - began
        left = app.pids()
        rows = [
            Row(
                cases[0],
                f"gone {took:.1f} s after the hang-up" if gone else f"still running: {left}",
                gone and took <= 5,
            )
        ]
        app.stop()
        return rows + _marks_rows(label, home, shown, unread, left)


# --- a 9.5 MB line ----------------------------------------------------------------------


def big_line_feed(size: int = BIG_LINE_BYTES) -> bytes:
    """An RSS feed: the newest item's body is one line of ``size`` bytes (words, no
    newline), then three ordinary items."""
    words = "veille lorem ipsum dolor sit amet consectetur adipiscing elit "
    line = "BIGSTART " + words * (size // len(words)) + " BIGEND"
    items = [
        "<item><title>BIG ITEM one line</title><link>https://big.example/1</link>"
        f"<guid>big</guid><pubDate>{formatdate(time.time() - 60, usegmt=True)}</pubDate>"
        f"<description><![CDATA[<p>{line}</p>]]></description></item>"
    ]
    for n in range(1, 4):
        items.append(
            f"<item><title>SMALL ITEM {n}</title><link>https://big.example/s{n}</link>"
            f"<guid>small-{n}</guid>"
            f"<pubDate>{formatdate(time.time() - 3600 * n, usegmt=True)}</pubDate>"
            f"<description>SMALL-{n} body text</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Big line</title><link>https://big.example/</link><description>x</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


@contextmanager
def serve_bytes(body: bytes, content_type: str = "application/rss+xml") -> Iterator[str]:
    """One document at /feed on 127.0.0.1; yields its URL."""

    def behaviour(conn: object, request: bytes, srv: RawServer) -> None:
        if request_path(request) == "/feed":
            conn.sendall(response("200 OK", {"Content-Type": content_type}, body))  # type: ignore[attr-defined]
        else:
            conn.sendall(response("404 Not Found"))  # type: ignore[attr-defined]

    with running(RawServer(behaviour)) as (srv,):
        yield srv.url("/feed")


@dataclass
class KeyTiming:
    what: str
    seconds: float | None  # None: no answer within the bound


def big_line_rows() -> list[Row]:
    cases = [
        "9.5 MB line: refresh stores it",
        "9.5 MB line: app opens on it",
        "9.5 MB line: keys answered",
        "9.5 MB line: app quits",
    ]
    if not have_tmux():
        return _skipped(cases)
    with Home() as home, serve_bytes(big_line_feed()) as url:
        ran = home.veille("add", url)
        items = home.items()
        big = [i for i in items if i["title"] == "BIG ITEM one line"]
        rows = [
            Row(
                cases[0],
                f"add exit {ran.code} in {ran.seconds:.1f} s; {len(items)} items",
                ran.code == 0 and len(big) == 1 and len(items) == 4,
            )
        ]
        with TmuxApp(home.root) as app:
            began = time.monotonic()
            opened = app.wait_for("BIGSTART", 60)
            rows.append(
                Row(
                    cases[1],
                    f"body on screen {time.monotonic() - began:.1f} s after start"
                    if opened
                    else "the body never showed in 60 s",
                    opened,
                )
            )
            timings: list[KeyTiming] = []
            if opened:
                for key, test in (
                    ("j", lambda s: "SMALL-1 body" in s),
                    ("k", lambda s: "BIGSTART" in s),
                    ("space", None),
                    ("G", lambda s: "SMALL-3 body" in s),
                ):
                    if test is None:
                        before = app.screen()
                        test = lambda s, b=before: s != b  # noqa: E731 - the screen moved
                    timings.append(KeyTiming(key, app.time_key(key, test, KEY_WAIT_S)))
            said = ", ".join(
                f"{t.what} {t.seconds:.2f} s" if t.seconds is not None else f"{t.what} no answer"
                for t in timings
            )
            ok = bool(timings) and all(
                t.seconds is not None and t.seconds <= KEY_ANSWER_S for t in timings
            )
            rows.append(Row(cases[2], f"{said or 'not tried'} (bound {KEY_ANSWER_S:g} s)", ok))
            began = time.monotonic()
            app.keys("q")
            quit_ok = wait_until(lambda: app.exit_code() is not None, KEY_ANSWER_S * 2)
            rows.append(
                Row(
                    cases[3],
                    f"exit {app.exit_code()} in {time.monotonic() - began:.1f} s"
                    if quit_ok
                    else "still running",
                    quit_ok and app.exit_code() == 0,
                )
            )
    return rows


@scenario(ci=False)
def app_big_line() -> list[Row]:
    """An item whose body is one 9.5 MB line: the app answers keys within 5 s.
    CI: tests/test_big_input.py."""
    return big_line_rows()
