"""A refresh killed at any moment, or stopped by a signal, loses nothing and leaves
nothing running (issue 8: processes, signals, crash consistency).

Real processes: ``python -m veille refresh`` against realistic feeds on 127.0.0.1
(tests/servers/feeds.py: ~2 KB of HTML an item), killed with SIGKILL at moments spread
over the refresh, or stopped with SIGINT (ctrl+c reaches the whole group), SIGTERM to
veille alone or to its group (``timeout``, init systems).  Afterwards: no veille
process is left, every feed recorded as fetched has all its items on disk, and one more
refresh completes the store exactly, with no duplicates.

tests/test_crash.py runs the CI-sized variants under pytest with these helpers; the
table runs the same at CI size and the full 200 feeds x 50 items (10,000 items).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.faults import Row, scenario
from tests.faults.home import Home
from tests.faults.procs import start_veille, veille_pids, wait_until
from tests.servers.feeds import serve_feeds
from veille.store.store import Store

CI_FEEDS, CI_ITEMS = 40, 30
FULL_FEEDS, FULL_ITEMS = 200, 50
WORKERS_GONE_S = 5.0
SIGNAL_EXIT_S = 5.0


def items_written(home: Path) -> bool:
    """The refresh has begun storing items (the moment a kill can hurt)."""
    return any((home / "data" / "store" / "items").glob("*.json"))


def incomplete_feeds(home: Path, items: int) -> tuple[int, list[str]]:
    """(feeds that look fetched, those of them missing items: "URL: n/items").

    A feed looks fetched once it has a status, validators, a body hash or its
    first-fetch flag: a refresh would skip or 304 it, so its items must be there.
    """
    fetched, missing = 0, []
    with Store(home / "data" / "store", autoflush=False) as store:
        for f in store.feeds():
            if f.status == "ok" or f.etag or f.body_hash or f.fetched_once:
                fetched += 1
                n = store.item_count(f.id)
                if n != items:
                    missing.append(f"{f.url}: {n}/{items}")
    return fetched, missing


def stored_totals(home: Path) -> tuple[int, int]:
    """(items in the store, duplicated (feed, key) pairs)."""
    with Store(home / "data" / "store", autoflush=False) as store:
        keys = [(i.feed, i.key) for i in store.items()]
    return len(keys), len(keys) - len(set(keys))


#: Two answers at a time from the one test host (the default is 6): the timings
#: below (how long a refresh lasts, when a kill lands) count on it.
SLOW_FETCH = "[fetch]\nper_host = 2\n"


@contextmanager
def subscribed(n_feeds: int, n_items: int, *, delay: float = 0.0) -> Iterator[Home]:
    """A home subscribed (not yet fetched) to ``n_feeds`` served feeds."""
    with Home() as home, serve_feeds(n_feeds, n_items, delay=delay) as urls:
        home.write_config(SLOW_FETCH)
        ran = home.import_urls(urls)
        if ran.code != 0:
            raise RuntimeError(f"import failed: {ran.err.strip()}")
        yield home


def _consistency_row(case: str, home: Path, items: int) -> Row:
    fetched, missing = incomplete_feeds(home, items)
    return Row(
        case,
        f"{fetched} feeds look fetched; {len(missing)} of them miss items"
        + (f" (e.g. {missing[0]})" if missing else ""),
        not missing,
    )


def _completion_row(case: str, home: Home, n_feeds: int, n_items: int) -> Row:
    ran = home.veille("refresh", timeout=600)
    total, dupes = stored_totals(home.root)
    want = n_feeds * n_items
    return Row(
        case,
        f"exit {ran.code} in {ran.seconds:.1f} s; {total:,} items stored (want {want:,}), "
        f"{dupes} duplicates",
        ran.code == 0 and total == want and dupes == 0,
    )


def kill_9_rows(
    n_feeds: int, n_items: int, kills: int, window: tuple[float, float], delay: float = 0.0
) -> list[Row]:
    """Kill the refresh ``kills`` times, each at a random moment in ``window`` seconds
    after it began storing items; then refresh to the end.  ``delay``: the server's
    answer time (a slower refresh, so a kill lands inside it)."""
    rng = random.Random(20261202)
    rows: list[Row] = []
    size = f"{n_feeds}x{n_items}"
    with subscribed(n_feeds, n_items, delay=delay) as home:
        for k in range(1, kills + 1):
            p = start_veille(home.root, "refresh")
            if not wait_until(lambda: items_written(home.root) or p.poll() is not None, 60):  # noqa: B023
                p.kill()
                p.wait()
                return [*rows, Row(f"kill -9 #{k} ({size})", "no item stored in 60 s", False)]
            at = rng.uniform(*window)
            time.sleep(at)  # the fault itself: a kill at a moment inside the refresh
            finished = p.poll() is not None
            p.kill()
            p.wait()
            began = time.monotonic()
            gone = wait_until(lambda: not veille_pids(home.root), WORKERS_GONE_S)
            took = time.monotonic() - began
            said = f"killed {at:.2f} s after the first items"
            if finished:
                said += " (it had already finished)"
            said += (
                f"; all processes gone in {took:.1f} s"
                if gone
                else f"; left: {veille_pids(home.root)}"
            )
            rows.append(Row(f"kill -9 #{k} of `refresh` ({size}): workers exit", said, gone))
            rows.append(
                _consistency_row(
                    f"kill -9 #{k} ({size}): fetched feeds complete", home.root, n_items
                )
            )
        rows.append(
            _completion_row(f"refresh after {kills} kills ({size})", home, n_feeds, n_items)
        )
    return rows


def signal_rows(how: str, n_feeds: int = CI_FEEDS, n_items: int = CI_ITEMS) -> list[Row]:
    """``how``: "ctrl+c" (SIGINT to the group), "SIGTERM alone", "SIGTERM to the group"."""
    sig = signal.SIGINT if how == "ctrl+c" else signal.SIGTERM
    code, line = (
        (130, "veille: interrupted") if sig == signal.SIGINT else (143, "veille: terminated")
    )
    to_group = how != "SIGTERM alone"
    # A slow server (0.15 s an answer, 2 at a time per host): the refresh lasts a few
    # seconds, so the signal always lands in the middle of it.
    # Signalled once a quarter of the feeds were answered, by the server's count:
    # the refresh writes its items every few seconds, so waiting for them on disk
    # could land the signal after the refresh, while the store closes.
    with Home() as home, serve_feeds(n_feeds, n_items, delay=0.15) as urls:
        home.write_config(SLOW_FETCH)
        if home.import_urls(urls).code != 0:
            return [Row(f"{how} during `refresh`", "import failed", False)]
        p = start_veille(home.root, "refresh")
        if not wait_until(lambda: len(urls.served) >= n_feeds // 4 or p.poll() is not None, 60):
            p.kill()
            return [Row(f"{how} during `refresh`", "no feed answered in 60 s", False)]
        already = p.poll() is not None
        began = time.monotonic()
        if to_group:
            os.killpg(p.pid, sig)
        else:
            p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=SIGNAL_EXIT_S)
            took = time.monotonic() - began
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
            took = -1.0
        lines = err.strip().splitlines()
        gone = wait_until(lambda: not veille_pids(home.root), WORKERS_GONE_S)
        said = f"exit {p.returncode} in {took:.1f} s" if took >= 0 else "still running after 5 s"
        said += f"; stderr {lines!r}" + (" (refresh had already ended)" if already else "")
        rows = [
            Row(
                f"{how} during `refresh`: exit",
                said,
                took >= 0 and p.returncode == code and lines == [line] and "Traceback" not in err,
            ),
            Row(
                f"{how} during `refresh`: no process left",
                "none left" if gone else f"left: {veille_pids(home.root)}",
                gone,
            ),
            _consistency_row(f"{how} during `refresh`: fetched feeds complete", home.root, n_items),
            _completion_row(f"{how}: a plain refresh after", home, n_feeds, n_items),
        ]
    return rows


@scenario(ci=False)
def refresh_kill_9() -> list[Row]:
    """kill -9 of `veille refresh` (40x30) three times: no worker left, nothing half-stored.
    CI: tests/test_crash.py."""
    # A 40x30 refresh stores everything within half a second of its first item; at
    # 0.1 s an answer (2 at a time per host) it lasts about 2 s, and the kills land in it.
    return kill_9_rows(CI_FEEDS, CI_ITEMS, 3, (0.0, 1.5), delay=0.1)


@scenario(ci=False)
def refresh_signals() -> list[Row]:
    """ctrl+c and SIGTERM (alone, to the group) during `veille refresh`: 130/143 within
    5 s, one line. CI: tests/test_crash.py."""
    rows: list[Row] = []
    for how in ("ctrl+c", "SIGTERM alone", "SIGTERM to the group"):
        rows.extend(signal_rows(how))
    return rows


@scenario(ci=False)
def crash_consistency_full() -> list[Row]:
    """The first refresh of 200 feeds x 50 items killed at 5 random moments, then
    completed: exactly 10,000 items."""
    # The first run stores ~30 feeds a second: kills within 3 s land inside each run.
    return kill_9_rows(FULL_FEEDS, FULL_ITEMS, 5, (0.0, 3.0))
