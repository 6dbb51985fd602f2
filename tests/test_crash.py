"""A refresh killed at any moment, or stopped by a signal, loses nothing and leaves nothing running.

Real processes: `python -m veille refresh` against realistic feeds on
127.0.0.1, killed with SIGKILL (at moments spread over the refresh), SIGTERM
(alone or to the whole group, as `timeout` and init systems send it) or
SIGINT.  Afterwards: no veille process is left, every feed recorded as fetched
has all its items on disk, and one more refresh completes the store exactly.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.crash import incomplete_feeds, stored_totals
from tests.faults.procs import start_veille, veille_pids, wait_until
from tests.servers.feeds import FeedURLs, serve_feeds

FEEDS, ITEMS = 40, 30


@pytest.fixture
def feeds(request: pytest.FixtureRequest) -> Iterator[FeedURLs]:
    # The refresh must still be running when the signal or the kill comes: a slow
    # server (2 answers at a time per host) makes it last ~3 s, and ~7 s for the
    # kill test, so that the CLI's flush (every 5 s) lands inside it.
    name = request.node.name
    delay = 0.35 if "kill_9" in name else 0.15 if "sig" in name or "ctrl_c" in name else 0.0
    with serve_feeds(FEEDS, ITEMS, delay=delay) as urls:
        yield urls


@pytest.fixture
def subscribed(home: Path, feeds: FeedURLs, cli) -> Path:
    opml = home.parent / "feeds.opml"
    outlines = "".join(f'<outline type="rss" xmlUrl="{u}"/>' for u in feeds)
    opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
    assert cli("import", str(opml)).code == 0
    # Two answers at a time from the one test host (the default is 6), so the
    # refresh lasts as long as the timings above say.
    (home / "config" / "config.toml").write_text("[fetch]\nper_host = 2\n")
    return home


def start_refresh(home: Path) -> subprocess.Popen[str]:
    return start_veille(home, "refresh")  # its own group, as a shell job would be


def refresh_to_the_end(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VEILLE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "veille", "refresh"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_consistent(home: Path) -> int:
    """Every feed that looks fetched has all its items; returns how many look fetched."""
    fetched, missing = incomplete_feeds(home, ITEMS)
    assert not missing, missing
    return fetched


def assert_complete(home: Path) -> None:
    r = refresh_to_the_end(home)
    assert r.returncode == 0, r.stderr
    assert stored_totals(home) == (FEEDS * ITEMS, 0)  # (items, duplicates)


def test_kill_9_at_random_moments_loses_nothing_and_leaves_no_worker(
    subscribed: Path, feeds: FeedURLs
) -> None:
    home = subscribed
    rng = random.Random(20261202)
    for _ in range(3):
        asked = len(feeds.served)
        p = start_refresh(home)
        # A moment somewhere inside the refresh, before or after a flush.
        at = asked + rng.randint(4, FEEDS - 2)
        assert wait_until(lambda p=p, at=at: len(feeds.served) >= at or p.poll() is not None, 60)
        p.kill()
        p.wait()
        # The parser workers notice their parent is gone and exit by themselves.
        assert wait_until(lambda: not veille_pids(home), 5), veille_pids(home)
        assert_consistent(home)
    assert_complete(home)


@pytest.mark.parametrize("group", [False, True], ids=["veille-alone", "whole-group"])
def test_sigterm_exits_143_cleanly_and_consistently(
    subscribed: Path, feeds: FeedURLs, group: bool
) -> None:
    home = subscribed
    asked = len(feeds.served)
    p = start_refresh(home)
    # Mid-refresh: some feeds fetched, most not yet (the server is slow).
    assert wait_until(lambda: len(feeds.served) >= asked + 6 or p.poll() is not None, 30)
    if group:
        os.killpg(p.pid, signal.SIGTERM)
    else:
        p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("veille did not exit within 5 s of SIGTERM")
    assert p.returncode == 143
    assert err.strip().splitlines() == ["veille: terminated"]
    assert wait_until(lambda: not veille_pids(home), 5), veille_pids(home)
    assert_consistent(home)
    assert_complete(home)


def test_ctrl_c_exits_130_with_one_line(subscribed: Path, feeds: FeedURLs) -> None:
    home = subscribed
    asked = len(feeds.served)
    p = start_refresh(home)
    assert wait_until(lambda: len(feeds.served) >= asked + 6 or p.poll() is not None, 30)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=5)
    assert p.returncode == 130
    assert err.strip().splitlines() == ["veille: interrupted"]
    assert "Traceback" not in err
    assert wait_until(lambda: not veille_pids(home), 5), veille_pids(home)
    assert_consistent(home)
    assert_complete(home)


@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
)
def test_a_signal_while_the_store_closes_waits_for_it(
    cli, home: Path, monkeypatch: pytest.MonkeyPatch, sig: int, code: int, said: str
) -> None:
    """A ctrl+c or SIGTERM that lands while the run saves its work (the store's
    last flush) lets the flush finish, then exits as the signal says: found by the
    fault table, where one came in the last milliseconds of a refresh and gave
    exit 1 ("veille: terminated" raised mid-close) or death by SIGINT."""
    from veille.store.store import Store

    real_close = Store.close

    def close_with_a_signal(self: Store) -> None:
        os.kill(os.getpid(), sig)  # the handler runs now, in the middle of closing
        real_close(self)

    monkeypatch.setattr(Store, "close", close_with_a_signal)
    r = cli("feeds")
    assert (r.code, r.err) == (code, f"veille: {said}\n")
    monkeypatch.setattr(Store, "close", real_close)
    assert cli("feeds").code == 0  # the store closed cleanly: it opens again
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
