"""Damaged store files (issue 8: disks): cut, garbage, the wrong shape, leftovers.

A day file cut in half (a full disk under another program, a bad sector), garbage in
the feeds file, valid JSON of the wrong shape, a lock left by a writer killed while
holding it, a dead writer's temp file.  What a user must get: the damaged file named,
its bytes kept aside, everything else served, and the next refresh bringing back what
the feeds still publish; never a silent carry-on as if there were no subscriptions
("No feeds yet", "0 feeds polled" with exit 0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.faults import Row, scenario
from tests.faults.home import Home, Ran
from tests.servers.feeds import serve_feeds

FEEDS, ITEMS = 3, 10


@contextmanager
def fetched_home() -> Iterator[tuple[Home, Path]]:
    """A home with FEEDS x ITEMS fetched (the server keeps running); yields (home, store)."""
    with Home() as home, serve_feeds(FEEDS, ITEMS) as urls:
        home.import_urls(urls)
        ran = home.veille("refresh")
        if ran.code != 0:
            raise RuntimeError(f"setup refresh failed: {ran.err.strip()}")
        yield home, home.root / "data" / "store"


def _said(ran: Ran) -> str:
    text = (ran.err.strip() + " | " + ran.out.strip()).strip(" |")
    return f"exit {ran.code}: {text[:170]!r}"


def _aside(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f"{name}.damaged-*"))


def _damaged_day(label: str, damage: bytes | None) -> list[Row]:
    """Damage the oldest day file (``damage`` replaces it; None: cut it in half)."""
    rows: list[Row] = []
    with fetched_home() as (home, store):
        day = sorted((store / "items").glob("*.json"))[0]
        lost = len(json.loads(day.read_bytes())["items"])  # items in that file
        bad = day.read_bytes()[: day.stat().st_size // 2] if damage is None else damage
        day.write_bytes(bad)
        ran = home.veille("items")
        aside = _aside(day.parent, day.name)
        named = day.name in ran.err and (not aside or aside[0].name in ran.err)
        rows.append(Row(f"{label}: `items` names it", _said(ran), named and ran.code == 0))
        kept = bool(aside) and aside[0].read_bytes() == bad
        rows.append(
            Row(
                f"{label}: its bytes kept aside",
                f"{aside[0].name if aside else 'no copy'}; same bytes: {kept}",
                kept,
            )
        )
        left = len(ran.lines)
        want = FEEDS * ITEMS - lost
        rows.append(
            Row(
                f"{label}: everything else served",
                f"{left} items listed ({want} outside the damaged file)",
                left == want,
            )
        )
        again = home.veille("refresh")
        back = len(home.veille("items").lines)
        rows.append(
            Row(
                f"{label}: next refresh brings it back",
                f"refresh {_said(again)}; {back} items (want {FEEDS * ITEMS})",
                again.code == 0 and back == FEEDS * ITEMS,
            )
        )
    return rows


@scenario(ci=True)
def damaged_day_file() -> list[Row]:
    """A day file cut in half, or of the wrong shape: named, kept aside, the rest served,
    brought back by the next refresh."""
    return [
        *_damaged_day("day file cut in half", None),
        *_damaged_day("day file of the wrong shape", b'{"items": {"abc": 5}}'),
    ]


@scenario(ci=True)
def damaged_feeds_file() -> list[Row]:
    """Garbage, or valid JSON of the wrong shape, in feeds.json: the previous version
    (feeds.json.prev) is read instead and said so; with no usable previous version,
    never a silent "No feeds yet" or "0 feeds polled" with exit 0."""
    return [
        *_recovered_feeds("garbage in feeds.json", b"\x00\xff garbage {{{"),
        *_recovered_feeds("feeds.json of the wrong shape", b'{"feeds": [1, 2, 3]}'),
        *_damaged_feeds("garbage in feeds.json and .prev", b"\x00\xff garbage {{{"),
        *_damaged_feeds("wrong shape in feeds.json and .prev", b'{"feeds": [1, 2, 3]}'),
    ]


def _recovered_feeds(label: str, damage: bytes) -> list[Row]:
    """Damage feeds.json only: the store reads its previous version and says so."""
    rows: list[Row] = []
    with fetched_home() as (home, store):
        before = len(home.veille("feeds", "--json").lines)
        (store / "feeds.json").write_bytes(damage)
        ran = home.veille("feeds", "--json")
        said = "feeds.json.prev" in ran.err and "restored" in ran.err
        rows.append(
            Row(
                f"{label}: `feeds` says it and lists them",
                f"{_said(ran)}; {len(ran.lines)} feeds (had {before})",
                said and ran.code == 0 and len(ran.lines) == before,
            )
        )
        again = home.veille("refresh")
        rows.append(
            Row(
                f"{label}: then `refresh`",
                _said(again),
                again.code == 0 and "Traceback" not in again.err,
            )
        )
        aside = _aside(store, "feeds.json")
        kept = bool(aside) and aside[0].read_bytes() == damage
        rows.append(
            Row(
                f"{label}: its bytes kept aside",
                f"{aside[0].name if aside else 'no copy'}; same bytes: {kept}",
                kept,
            )
        )
    return rows


def _damaged_feeds(label: str, damage: bytes) -> list[Row]:
    """Replace feeds.json and its previous version with ``damage``, then run what a user
    would, twice over."""
    rows: list[Row] = []
    with fetched_home() as (home, store):
        (store / "feeds.json").write_bytes(damage)
        (store / "feeds.json.prev").write_bytes(damage)
        silent = ("No feeds yet", "0 feeds polled")
        for n, args in enumerate(
            [("feeds",), ("refresh",), ("items", "--limit", "3"), ("feeds",), ("refresh",)]
        ):
            ran = home.veille(*args)
            mentions = "feeds.json" in ran.err
            quiet_success = ran.code == 0 and any(s in ran.out for s in silent)
            ok = mentions and not quiet_success and "Traceback" not in ran.err
            ok = ok and (args[0] != "items" or len(ran.lines) == 3)  # items still served
            which = "then " if n else ""
            rows.append(Row(f"{label}: {which}`{' '.join(args)}`", _said(ran), ok))
        aside = _aside(store, "feeds.json")
        kept = bool(aside) and aside[0].read_bytes() == damage
        rows.append(
            Row(
                f"{label}: its bytes kept aside",
                f"{aside[0].name if aside else 'no copy'}; same bytes: {kept}",
                kept,
            )
        )
    return rows


def _hold_lock_and_die(lock: Path) -> str:
    """A process takes the store's lock, then is killed with it held; "" or a problem."""
    code = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, str(os.getpid()).encode())\n"
        "print('locked', flush=True)\n"
        "time.sleep(600)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    if p.stdout.readline().strip() != "locked":
        p.kill()
        return "the holder never took the lock"
    p.kill()
    p.wait()
    return ""


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@scenario(ci=True)
def stale_lock_and_temp_files() -> list[Row]:
    """A lock left by a writer killed holding it, and a dead writer's temp files: the
    next commands work as if nothing happened."""
    rows: list[Row] = []
    with fetched_home() as (home, store):
        trouble = _hold_lock_and_die(store / ".lock")
        first = home.veille("items", "--json")
        iid = json.loads(first.lines[0])["id"] if first.lines else ""
        ran = home.veille("mark", iid, "--star", timeout=30)
        ok = not trouble and ran.code == 0 and ran.seconds < 10
        rows.append(
            Row(
                "stale lock (holder killed with it held)",
                trouble or f"mark {_said(ran)} in {ran.seconds:.1f} s",
                ok,
            )
        )
        pid = _dead_pid()
        day = sorted((store / "items").glob("*.json"))[0]
        temps = [
            day.with_name(f".{day.name}.{pid}.x1y2z3.tmp"),
            store / f".feeds.json.{pid}.a1b2c3.tmp",
        ]
        for t in temps:
            t.write_bytes(b'{"_w":{"t":"0000000000000000"},"items":{"half-writ')
        before = len(first.lines)
        ran = home.veille("items")
        left = [t.name for t in temps if t.exists()]
        ok = ran.code == 0 and not ran.err.strip() and len(ran.lines) == before and not left
        rows.append(
            Row(
                "a dead writer's temp files",
                f"{_said(ran)[:60]}; {len(ran.lines)} items (of {before}); left behind: {left}",
                ok,
            )
        )
        # A live writer's temp file is not garbage: it must survive another command.
        live = day.with_name(f".{day.name}.{os.getpid()}.live.tmp")
        live.write_bytes(b"in progress")
        home.veille("items")
        rows.append(
            Row(
                "a live writer's temp file",
                "kept" if live.exists() else "removed under a live writer",
                live.exists(),
            )
        )
        live.unlink(missing_ok=True)
    return rows
