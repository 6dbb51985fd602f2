"""Snapshots of the app's screens (pytest-textual-snapshot): welcome, the three
panes at 160×50, the narrow layout at 80×24, help, and every shipped theme.

Clock, cursor blink and background work are frozen by ``make_app``.
Regenerate with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui_helpers import build_store, main_shown, make_app, make_paths, settle, wait_for
from veille.store.store import Store
from veille.tui.screens.help import HelpScreen
from veille.tui.state import UIState, save_state
from veille.tui.themes import load_themes

THEMES = sorted(load_themes()[0])


@pytest.fixture
def env(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    yield store, paths
    store.close()


async def _ready(pilot) -> None:
    """The main screen with its panes showing the item under the cursor."""
    await wait_for(pilot, lambda: main_shown(pilot.app))
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.composer.item_id == screen.stream.current_id)
    await settle(pilot)


def test_snapshot_welcome(tmp_path: Path, snap_compare):
    paths = make_paths(tmp_path)
    store = Store(paths.store)
    try:
        assert snap_compare(make_app(store, paths), terminal_size=(100, 30))
    finally:
        store.close()


def test_snapshot_main_wide(env, snap_compare):
    store, paths = env
    assert snap_compare(make_app(store, paths), terminal_size=(160, 50), run_before=_ready)


def test_snapshot_main_narrow(env, snap_compare):
    store, paths = env
    assert snap_compare(make_app(store, paths), terminal_size=(80, 24), run_before=_ready)


@pytest.mark.parametrize("width", [80, 60])
def test_snapshot_item_pane_narrow(env, snap_compare, width):
    """The item pane of a starred, shared, unread item at 80 and 60 columns: the
    marks keep a line of their own, the footer ends cleanly (no stray letter)."""
    store, paths = env
    iid = store.ordered_ids()[0]
    store.set_state([iid], starred=True, shared=True)

    async def open_item(pilot) -> None:
        await _ready(pilot)
        await pilot.press("tab")
        await pilot.pause()

    app = make_app(store, paths)
    assert snap_compare(app, terminal_size=(width, 24), run_before=open_item)


def test_snapshot_stream_at_60(env, snap_compare):
    store, paths = env
    assert snap_compare(make_app(store, paths), terminal_size=(60, 24), run_before=_ready)


def test_snapshot_help(env, snap_compare):
    store, paths = env

    async def open_help(pilot) -> None:
        await _ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await settle(pilot)

    assert snap_compare(make_app(store, paths), terminal_size=(160, 50), run_before=open_help)


@pytest.mark.parametrize("theme", THEMES)
def test_snapshot_themes(env, snap_compare, theme):
    store, paths = env
    save_state(paths.state / "ui.json", UIState(theme=theme))  # as remembered from a run
    app = make_app(store, paths)
    assert app.theme == theme
    assert snap_compare(app, terminal_size=(110, 30), run_before=_ready)
