"""The views service: first rows of a view, and the store's fast path for selective
views, which must list exactly what the plain filter lists, in the same order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui_helpers import build_store, make_paths
from veille.domain.filter import ItemFilter
from veille.tui.services import views
from veille.tui.services.views import ViewSpec


@pytest.fixture
def store(tmp_path: Path):
    s = build_store(make_paths(tmp_path).store, feeds=4, per_feed=30)
    ids = s.ordered_ids()
    s.set_state(ids[3:60:7], starred=True)
    s.set_state(ids[5:90:11], shared=True)
    s.set_state(ids[1:40:3], read=True)
    yield s
    s.close()


@pytest.mark.parametrize(
    "flt",
    [
        ItemFilter(starred=True),
        ItemFilter(shared=True),
        ItemFilter(starred=True, shared=True),
        ItemFilter(starred=True, unread=True),
        ItemFilter(starred=False),
        ItemFilter(unread=True),
        ItemFilter(search="story 1"),
        ItemFilter(starred=True, search="feed 2"),
    ],
)
def test_view_ids_lists_what_ids_lists(store, flt):
    assert list(store.view_ids(flt)) == list(store.ids(flt))


def test_view_ids_of_one_feed_and_sticky_ids(store):
    feed = store.feeds()[1].id
    flt = ItemFilter(feed_ids=frozenset({feed}))
    assert list(store.view_ids(flt)) == list(store.ids(flt))
    other = next(i for i in store.ordered_ids() if store.get_item(i).feed != feed)
    sticky = {other}
    assert list(store.view_ids(flt, keep=sticky)) == list(store.ids(flt, keep=sticky))
    assert other in list(store.view_ids(flt, keep=sticky))


def test_first_rows_keeps_the_cursors_item_and_leaves_the_rest(store):
    spec = ViewSpec("unread")
    everything = list(store.ids(spec.to_filter()))
    first = views.first_rows(store, spec, limit=5, keep_id=everything[9])
    assert first.ids == everything[: len(first.ids)] and first.found
    assert len(first.ids) >= 10
    rest = list(first.rest) if first.rest is not None else []
    assert first.ids + rest == everything


def test_empty_text_says_the_scope_and_the_way_out(store):
    spec = ViewSpec("unread", search="nothing like this")
    text = views.empty_text(spec, store, "^f")
    assert text == "No match for “nothing like this” in Unread — ^f searches all items."
    assert "any item" in views.empty_text(spec.everywhere(), store)
