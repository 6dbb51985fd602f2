"""Records read from stored documents: ItemReader gives what Item.from_doc gives,
and `veille items --json` (which reads through it) prints what it always printed."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from veille.cli.output import json_lines, out
from veille.domain.entries import ParsedEntry
from veille.domain.records import Item, ItemReader
from veille.paths import get_paths
from veille.store.store import Store

EVERY_NAME = {f.name: f.name for f in fields(Item)} | {"sightings": "sightings",
                                                       "sharers": "sharers"}  # fmt: skip

ODD_DOCS: list[dict[str, Any]] = [
    {"id": "a", "feed": "f"},  # nothing but what every item has
    # Stored nulls are defaults, as from_doc reads them; a damaged file may hold any.
    {"id": "b", "feed": "f", "title": None, "read": None, "kind": None, "cats": None,
     "tags": None, "chash": None, "cw": None, "sightings": None, "key": None,
     "first_seen": None, "author": None, "published": None},
    # Empty renamed values are defaults too (from_doc's "if cats:").
    {"id": "c", "feed": "f", "cats": [], "tags": [], "chash": "", "cw": "", "sightings": []},
    {"id": "d", "feed": "f", "key": "k", "first_seen": "2026-01-01T00:00:00Z", "author": "Ann",
     "published": "2025-12-31T00:00:00Z", "read": True, "hidden": True, "tags": ["x"],
     "cats": ["a", "b"], "chash": "h", "cw": "spoilers", "sort": "s", "comment": "mine"},
    # The first feed's own entry stored among the sightings: not rebuilt in front.
    {"id": "e", "feed": "f", "sightings": [
        {"source": "g", "key": "p1", "seen": "t", "kind": "post", "handle": "@a@x"},
        {"source": "f", "key": "k", "seen": "t"},
        {"source": "g", "key": "p2", "seen": "t", "kind": "repost", "handle": "@b@x",
         "reposter": "@a@x"},
    ]},
]  # fmt: skip


def expected(doc: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    item = Item.from_doc(doc)
    return {out_name: getattr(item, name) for out_name, name in names.items()}


def store_docs(tmp_path: Path) -> list[dict[str, Any]]:
    """The documents of a store with entries, merged entries and social posts."""
    with Store(tmp_path / "store", autoflush=False) as store:
        a, _ = store.add_feed("https://a.example/feed")
        b, _ = store.add_feed("https://b.example/feed")
        home, _ = store.add_feed("mastodon:home", kind="mastodon", account="main")
        store.upsert_entries(a.id, [ParsedEntry(key="1", link="https://x.example/1",
                                                categories=["c"], published="2026-01-01T00:00:00Z"),
                                    ParsedEntry(key="2", title="two", author="Bo")])  # fmt: skip
        store.upsert_entries(b.id, [ParsedEntry(key="b1", link="https://x.example/1")])
        store.upsert_entries(home.id, [
            ParsedEntry(key="p1", link="https://x.example/1", kind="post", handle="@ann@a.example",
                        post_text="read this", post_url="https://a.example/p1"),
            ParsedEntry(key="p2", link="https://y.example/", kind="post", handle="@bob@b.example"),
        ])  # fmt: skip
        store.set_state(store.ordered_ids()[:2], read=True, tags=["t"])
        docs = [dict(d) for p in store.items_partitions() for d in p.docs().values()]
    assert any(d.get("sightings") for d in docs)
    return docs


def test_item_reader_reads_what_from_doc_builds(tmp_path: Path) -> None:
    reader = ItemReader(EVERY_NAME)
    for doc in [*ODD_DOCS, *store_docs(tmp_path)]:
        got = reader(doc)
        assert got == expected(doc, EVERY_NAME)
        assert list(got) == list(EVERY_NAME)


def test_item_reader_names_its_results_in_the_order_given() -> None:
    names = {"sightings": "sightings", "dismissed": "hidden", "when": "published",
             "again": "hidden", "n": "sharers", "cats": "categories"}  # fmt: skip
    reader = ItemReader(names)
    for doc in ODD_DOCS:
        got = reader(doc)
        assert got == expected(doc, names) and list(got) == list(names)
    assert reader(ODD_DOCS[4])["n"] == 1  # @a@x posted and reposted: one sharer
    with pytest.raises(ValueError, match="display_title"):
        ItemReader({"t": "display_title"})


def test_items_json_prints_a_merged_item_as_it_always_did(cli, home: Path) -> None:
    paths = get_paths(home).ensure()
    with Store(paths.store, autoflush=False) as store:
        a, _ = store.add_feed("https://a.example/feed", title="A")
        b, _ = store.add_feed("https://b.example/feed")
        home_feed, _ = store.add_feed("mastodon:home", kind="mastodon", account="main")
        store.upsert_entries(a.id, [ParsedEntry(key="1", title="One", link="https://x.example/1",
                                                author="Al", categories=["c"],
                                                published="2026-01-01T00:00:00Z")])  # fmt: skip
        store.upsert_entries(b.id, [ParsedEntry(key="b1", link="https://x.example/1")])
        store.upsert_entries(home_feed.id, [
            ParsedEntry(key="p1", link="https://x.example/1", kind="post", author="Ann",
                        handle="@ann@a.example", post_text="read this",
                        post_url="https://a.example/p1"),
        ])  # fmt: skip
        [iid] = store.ordered_ids()
        store.set_state([iid], starred=True, tags=["t"])
        seen = store.get_item(iid).first_seen  # type: ignore[union-attr]
    r = cli("items", "--json")
    [line] = r.lines
    entry = {"kind": "entry", "handle": None, "text": "", "post_url": None, "seen": seen}
    assert json.loads(line) == {
        "id": iid, "feed": "https://a.example/feed", "feed_title": "A", "kind": "article",
        "title": "One", "link": "https://x.example/1", "author": "Al",
        "published": "2026-01-01T00:00:00Z", "updated": None, "first_seen": seen,
        "summary": "", "read": False, "starred": True, "dismissed": False, "shared": False,
        "tags": ["t"], "categories": ["c"], "sharers": 1,
        "sightings": [
            {"source": "https://a.example/feed", "author": "Al", **entry},
            {"source": "https://b.example/feed", "author": "", **entry},
            {"source": "mastodon:home", "kind": "post", "author": "Ann",
             "handle": "@ann@a.example", "text": "read this",
             "post_url": "https://a.example/p1", "seen": seen},
        ],
    }  # fmt: skip
    # Compact, in this key order, UTF-8: the bytes scripts have been reading.
    assert line.startswith(f'{{"id":"{iid}","feed":"https://a.example/feed","feed_title":"A",')


def test_json_lines_come_in_order_after_text_across_chunks(
    capfd: pytest.CaptureFixture[str],
) -> None:
    out("first, as text")
    json_lines(({"n": i, "é": "✓"} for i in range(10)), chunk=3)
    out("last, as text")
    json_lines(())
    lines = capfd.readouterr().out.splitlines()
    assert lines[0] == "first, as text" and lines[-1] == "last, as text"
    assert [json.loads(x)["n"] for x in lines[1:-1]] == list(range(10))
    assert lines[1] == '{"n":0,"é":"✓"}'
