"""A full disk and a read-only store: a change that could not reach the disk is
reported (non-zero exit, one short line), never claimed; no command hangs; a
read-only store can still be read; afterwards every earlier item and mark is intact.

The store lives on a small tmpfs mounted for the test (needs root, as CI has;
skipped elsewhere).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import disk as faults_disk
from tests.servers.feeds import serve_feeds
from veille.store.store import Store

FEEDS, ITEMS = 3, 10


@pytest.fixture
def small_disk() -> Iterator[Path]:
    with faults_disk.small_disk() as (mnt, why):
        if mnt is None:
            pytest.skip(why)
        yield mnt


def veille(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VEILLE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "veille", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode != 0, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert all(w.lower() in lines[0].lower() for w in words), lines[0]


@pytest.fixture
def home_with_items(small_disk: Path) -> Iterator[tuple[Path, list[str]]]:
    home = small_disk / "home"
    with serve_feeds(FEEDS, ITEMS) as urls:
        for u in urls[:2]:
            assert veille(home, "add", u).returncode == 0
        yield home, urls


def stored_items(home: Path) -> list[dict]:
    r = veille(home, "items", "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_full_disk_mark_and_refresh_say_so_and_lose_nothing(
    small_disk: Path, home_with_items: tuple[Path, list[str]]
) -> None:
    home, _urls = home_with_items
    before = stored_items(home)
    assert len(before) == 2 * ITEMS
    iid = before[0]["id"]
    filler = faults_disk.fill(small_disk)

    r = veille(home, "mark", iid, "--star")
    one_line_error(r, "could not save", "no space left")
    assert "marked" not in r.stdout

    r = veille(home, "refresh")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "no space left" in r.stderr.lower()

    filler.unlink()
    after = stored_items(home)
    assert {i["id"] for i in after} >= {i["id"] for i in before}  # nothing earlier lost
    assert not next(i for i in after if i["id"] == iid)["starred"]  # never claimed
    # With room again, the same commands work and a refresh brings everything.
    assert veille(home, "mark", iid, "--star").returncode == 0
    assert veille(home, "refresh").returncode == 0
    with Store(home / "data" / "store", autoflush=False) as store:
        assert store.get_item(iid).starred
        assert len(store) >= 2 * ITEMS


def test_read_only_store_can_be_read_and_refuses_writes_without_hanging(
    small_disk: Path, home_with_items: tuple[Path, list[str]]
) -> None:
    home, _urls = home_with_items
    before = stored_items(home)
    iid = before[0]["id"]
    trouble = faults_disk.remount(small_disk, read_only=True)
    assert not trouble, trouble
    try:
        assert len(stored_items(home)) == len(before)  # reading works
        assert veille(home, "feeds").returncode == 0
        r = veille(home, "mark", iid, "--star", timeout=20)
        one_line_error(r, "could not save", "read-only")
        r = veille(home, "refresh", timeout=60)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert "read-only" in r.stderr.lower()
    finally:
        faults_disk.remount(small_disk, read_only=False)
    after = stored_items(home)
    assert [i["id"] for i in after] == [i["id"] for i in before]
    assert not after[0]["starred"]
