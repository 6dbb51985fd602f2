"""A full disk and a read-only store during `mark` and `refresh` (issue 8: disks).

The store lives on a small tmpfs mounted for the scenario (needs root, as CI has; the
rows say "skipped" elsewhere).  A change that could not reach the disk is reported
(non-zero exit, one short line naming the cause), never claimed; no command hangs; a
read-only store can still be read; afterwards every earlier item and mark is intact
and, with room again, one refresh brings what could not be stored.

tests/test_disk_faults.py runs the same mechanics under pytest.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.faults import Row, scenario
from tests.faults.home import Home, Ran
from tests.servers.feeds import serve_feeds

FEEDS, ITEMS = 3, 10


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60)


@contextmanager
def small_disk(size: str = "4m") -> Iterator[tuple[Path | None, str]]:
    """A fresh tmpfs of ``size``: yields (mount point, "") or (None, why not)."""
    with tempfile.TemporaryDirectory(prefix="veille-disk-") as d:
        mnt = Path(d) / "disk"
        mnt.mkdir()
        r = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt))
        if r.returncode != 0:
            yield None, f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}"
            return
        try:
            yield mnt, ""
        finally:
            _run("umount", "-l", str(mnt))


def remount(disk: Path, *, read_only: bool) -> str:
    """Remount ``disk`` read-only or read-write; "" or why it failed."""
    r = _run("mount", "-o", f"remount,{'ro' if read_only else 'rw'}", str(disk))
    return "" if r.returncode == 0 else r.stderr.strip()


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to make room)."""
    filler = disk / "filler"
    # Unbuffered: a buffered writer would still hold bytes at close, and raise there.
    with open(filler, "wb", buffering=0) as fh:
        chunk = b"\0" * 65536
        try:
            while True:
                fh.write(chunk)
        except OSError:
            pass
        try:  # the last few bytes, so that not even a small file fits
            while True:
                fh.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def one_line_error(ran: Ran, *words: str) -> tuple[bool, str]:
    """(refused in one clean line holding ``words``, what it said)."""
    lines = ran.err.strip().splitlines()
    ok = (
        ran.code not in (0, 70)
        and len(lines) == 1
        and "Traceback" not in ran.err
        and all(w.lower() in lines[0].lower() for w in words)
    )
    return ok, f"exit {ran.code}: {ran.err.strip()[:160]!r}"


def stored(home: Home) -> list[dict[str, object]]:
    return [json.loads(line) for line in home.veille("items", "--json").lines]


@contextmanager
def home_on_small_disk() -> Iterator[tuple[Home | None, Path | None, list[str], str]]:
    """A home on a tmpfs with two feeds fetched and a third subscribed, not fetched."""
    with small_disk() as (disk, why), serve_feeds(FEEDS, ITEMS) as urls:
        if disk is None:
            yield None, None, urls, why
            return
        home = Home(disk / "home")
        for u in urls[:2]:
            home.veille("add", u)
        home.veille("add", urls[2], "--no-fetch")
        yield home, disk, urls, ""


def _skipped(cases: list[str], why: str) -> list[Row]:
    return [Row(c, f"skipped: {why}", True, skipped=True) for c in cases]


@scenario(ci=False)
def disk_full() -> list[Row]:
    """A full disk under `mark` and `refresh`: refused in one line, nothing claimed, nothing
    lost. CI: tests/test_disk_faults.py."""
    cases = [
        "full disk: mark --star",
        "full disk: refresh with new items to store",
        "full disk: earlier items and marks after",
        "full disk: with room again, mark and refresh",
    ]
    with home_on_small_disk() as (home, disk, _urls, why):
        if home is None or disk is None:
            return _skipped(cases, why)
        before = stored(home)
        iid = str(before[0]["id"])
        filler = fill(disk)
        rows = []
        ran = home.veille("mark", iid, "--star")
        ok, said = one_line_error(ran, "no space")
        rows.append(Row(cases[0], said, ok and "marked" not in ran.out))
        ran = home.veille("refresh", timeout=120)
        ok = ran.code not in (0, 70) and "Traceback" not in ran.err
        ok = ok and "no space left" in ran.err.lower()
        rows.append(Row(cases[1], f"exit {ran.code}: {ran.err.strip()[-160:]!r}", ok))
        filler.unlink()
        after = stored(home)
        kept = {i["id"] for i in after} >= {i["id"] for i in before}
        starred = next((i["starred"] for i in after if i["id"] == iid), None)
        rows.append(
            Row(
                cases[2],
                f"{len(before)} items before, {len(after)} after; "
                f"the refused star {'was' if starred else 'was not'} stored",
                kept and starred is False,
            )
        )
        mark = home.veille("mark", iid, "--star")
        refresh = home.veille("refresh", timeout=120)
        final = stored(home)
        ok = mark.code == 0 and refresh.code == 0 and len(final) == FEEDS * ITEMS
        ok = ok and any(i["id"] == iid and i["starred"] for i in final)
        rows.append(
            Row(
                cases[3],
                f"mark exit {mark.code}, refresh exit {refresh.code}; {len(final)} items "
                f"(want {FEEDS * ITEMS})",
                ok,
            )
        )
        return rows


@scenario(ci=False)
def disk_read_only() -> list[Row]:
    """A read-only store: read as usual; `mark` and `refresh` refused in one line, no hang.
    CI: tests/test_disk_faults.py."""
    cases = [
        "read-only store: items and feeds",
        "read-only store: mark --star",
        "read-only store: refresh",
        "read-only store: nothing changed after",
    ]
    with home_on_small_disk() as (home, disk, _urls, why):
        if home is None or disk is None:
            return _skipped(cases, why)
        before = stored(home)
        iid = str(before[0]["id"])
        trouble = remount(disk, read_only=True)
        if trouble:
            return _skipped(cases, trouble)
        rows = []
        try:
            now = stored(home)
            feeds = home.veille("feeds")
            rows.append(
                Row(
                    cases[0],
                    f"{len(now)} items listed (of {len(before)}); feeds exit {feeds.code}",
                    len(now) == len(before) and feeds.code == 0,
                )
            )
            ran = home.veille("mark", iid, "--star", timeout=30)
            ok, said = one_line_error(ran, "could not save", "read-only")
            rows.append(Row(cases[1], f"{said} in {ran.seconds:.1f} s", ok))
            ran = home.veille("refresh", timeout=60)
            ok = ran.code not in (0, 70) and "Traceback" not in ran.err
            ok = ok and "read-only" in ran.err.lower()
            said = f"exit {ran.code} in {ran.seconds:.1f} s: {ran.err.strip()[-160:]!r}"
            rows.append(Row(cases[2], said, ok))
        finally:
            remount(disk, read_only=False)
        after = stored(home)
        same = [i["id"] for i in after] == [i["id"] for i in before]
        starred = next((i["starred"] for i in after if i["id"] == iid), None)
        said = f"{len(after)} items, same ids: {same}; the refused star stored: {starred}"
        rows.append(Row(cases[3], said, same and starred is False))
        return rows
