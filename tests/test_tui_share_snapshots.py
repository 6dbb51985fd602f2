"""Snapshots of sharing: the composer with its live preview at 160×50, and the
Shares view.  Clock, cursor blink and background work are frozen by ``make_app``;
shares are stored with fixed times.  Regenerate with
``pytest tests/test_tui_share_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_tui_share import add_cats_feed, put_share, started
from tests.tui_helpers import build_store, make_app, make_config, make_paths, settle


@pytest.fixture
def env(tmp_path: Path, home: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    cats = add_cats_feed(store)
    yield store, paths, cats
    store.close()


def test_snapshot_composer_with_preview(env, snap_compare):
    store, paths, _ = env
    # An account whose server is never asked (limits stay 500/23): a stable counter.
    config = make_config(
        '[share]\ndefault_to = ["atom", "masto"]\n\n'
        '[accounts.masto]\ntype = "mastodon"\ninstance = "http://127.0.0.1:9"\n'
    )

    async def write(pilot) -> None:
        screen = await started(pilot)
        screen.session.compose.asked.add("masto")  # no network in a snapshot
        await pilot.press("c")
        screen.composer.area.insert("The clearest explanation of this I have read.")
        await pilot.press("escape", "greater_than_sign")  # > quotes from the stream
        await pilot.press("c")
        pilot.app.clear_notifications()  # a toast's life is time: not in a snapshot
        await settle(pilot)

    app = make_app(store, paths, config)
    assert snap_compare(app, terminal_size=(160, 50), run_before=write)


def test_snapshot_shares_view(env, snap_compare):
    store, paths, cats = env
    ids = store.ordered_ids()
    put_share(
        store,
        cats,
        "s-new",
        "2026-03-01T11:00:00Z",
        atom={"status": "sent", "url": "file:///home/me/shares.atom"},
        masto={"status": "failed", "error": "Validation failed: Text character limit of 500"},
    )
    put_share(store, ids[2], "s-mid", "2026-02-28T09:30:00Z", atom={"status": "queued"})
    put_share(
        store,
        ids[3],
        "s-old",
        "2026-02-20T18:05:00Z",
        masto={"status": "sent", "url": "https://mastodon.example/@me/1"},
    )

    async def open_shares(pilot) -> None:
        await started(pilot)
        await pilot.press("S")
        await settle(pilot)

    assert snap_compare(make_app(store, paths), terminal_size=(160, 50), run_before=open_shares)
