"""A store written by the first release opens with today's code: migrated once, nothing lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from veille.domain.filter import ItemFilter
from veille.store import schema
from veille.store.jsonfile import load
from veille.store.store import Store, StoreError

V1 = Path(__file__).parent / "data" / "store-v1"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(V1, root)
    return root


def by_key(store: Store) -> dict[str, str]:
    return {store.get_item(i).key: i for i in store.ordered_ids()}


def test_first_release_store_is_migrated_and_keeps_everything(old_store: Path) -> None:
    assert not (old_store / "meta.json").exists()
    with Store(old_store) as s:
        assert schema.stored_version(s) == schema.SCHEMA_VERSION
        feeds = {f.url: f for f in s.feeds()}
        blog = feeds["https://blog.example/feed.xml"]
        assert blog.kind == "feed" and blog.title == "Example blog" and blog.tags == ("news",)
        assert blog.etag == '"v1"' and blog.status == "ok"  # validators survive
        keys = by_key(s)
        a1 = s.get_item(keys["a1"])
        # The link has lost its tracking parameters, and kept the rest as the feed gave it.
        assert a1.link == "https://www.example.com/post/1?id=7#comments"
        assert (a1.read, a1.starred, a1.tags) == (True, True, ("keep",))
        assert s.get_item(keys["b1"]).hidden  # dismissed stays dismissed
        assert s.get_content(keys["a1"]).html.startswith("<p>one")
        assert s.get_item(keys["a2"]).categories == ("python", "ai")
        assert s.get_item(keys["a3"]).display_title.startswith("no title here")
        (share,) = s.shares()
        assert share.comment == "Worth a read" and share.deliveries["atom"].status == "sent"
        assert s.get_item(keys["a2"]).shared
        draft = s.get_draft(keys["a3"])
        assert draft is not None and draft.text == "half a thought" and draft.to == ("atom",)
        assert s.count(ItemFilter(unread=True)) == 2
    meta = load(old_store / "meta.json", table="meta")
    assert isinstance(meta, dict) and meta["meta"]["schema"] == {"version": schema.SCHEMA_VERSION}


def test_migration_runs_once(old_store: Path) -> None:
    with Store(old_store) as s:
        s.set_state([by_key(s)["a2"]], read=True)
    written = {p: p.read_bytes() for p in (old_store / "items").glob("*.json")}
    with Store(old_store) as s:
        assert s.get_item(by_key(s)["a2"]).read
        assert not s.dirty  # nothing to migrate the second time
    assert {p: p.read_bytes() for p in (old_store / "items").glob("*.json")} == written


def test_a_store_from_a_newer_veille_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    (root / "meta.json").write_text(json.dumps({"meta": {"schema": {"version": 99}}}))
    with pytest.raises(StoreError, match="newer veille"):
        Store(root, autoflush=False)


def test_cli_reads_a_first_release_store(old_store: Path, cli, home: Path) -> None:
    shutil.copytree(old_store, home / "data" / "store")
    r = cli("items", "--json")
    assert r.code == 0
    rows = [json.loads(line) for line in r.lines]
    assert {row["title"] for row in rows} >= {"Tracking link", "Plain link", "Other post"}
    assert all("sightings" in row and row["sightings"][0]["handle"] is None for row in rows)
