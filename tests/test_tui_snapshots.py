"""Snapshots of the app's screens (pytest-textual-snapshot): welcome, the three
panes at 160×50, the narrow layout at 80×24, help, and every shipped theme.

Clock, cursor blink and background work are frozen by ``make_app``.
Regenerate with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui_helpers import build_store, make_app, make_paths
from veille.store.store import Store
from veille.tui.screens.main import MainScreen
from veille.tui.themes import load_themes

THEMES = sorted(load_themes()[0])


@pytest.fixture
def env(tmp_path: Path):
    paths = make_paths(tmp_path)
    store = build_store(paths.store)
    yield store, paths
    store.close()


async def _ready(pilot) -> None:
    for _ in range(50):
        await pilot.pause()
        if isinstance(pilot.app.screen, MainScreen):
            break
    await pilot.pause(0.1)


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


def test_snapshot_help(env, snap_compare):
    store, paths = env

    async def open_help(pilot) -> None:
        await _ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)

    assert snap_compare(make_app(store, paths), terminal_size=(160, 50), run_before=open_help)


@pytest.mark.parametrize("theme", THEMES)
def test_snapshot_themes(env, snap_compare, theme):
    store, paths = env
    app = make_app(store, paths)
    app.ui.theme = theme
    assert snap_compare(app, terminal_size=(110, 30), run_before=_ready)
