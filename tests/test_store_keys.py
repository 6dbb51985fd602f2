"""A refresh reads only the item files that may hold what it brings (store/keys.py),
and never trusts a keys file that does not describe the item file beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.domain.filter import ItemFilter
from veille.store.store import Store


def entries(prefix: str, month: str, n: int = 5, site: str | None = None) -> ParsedFeed:
    """``n`` entries published in ``month`` (a first fetch files them there)."""
    return ParsedFeed(
        entries=[
            ParsedEntry(
                key=f"{prefix}{i}",
                title=f"{prefix} {i}",
                link=f"https://{site or prefix}.example/{i}",
                published=f"{month}-{10 + i:02d}T00:00:00Z",
                content=f"<p>{prefix} body {i}</p>",
            )
            for i in range(n)
        ]
    )


def build(root: Path) -> dict[str, str]:
    """Three feeds, each in its own month file."""
    ids = {}
    with Store(root) as s:
        for name, month in (("a", "2025-01"), ("b", "2025-03"), ("c", "2025-05")):
            f, _ = s.add_feed(f"https://{name}.example/feed")
            ids[name] = f.id
            assert s.upsert_entries(f.id, entries(name, month)).new == 5
    return ids


def feed_count(s: Store, fid: str) -> int:
    return s.count(ItemFilter(feed_ids=frozenset({fid})))


def test_a_refresh_of_one_feed_leaves_the_other_files_unread(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ids = build(root)
    assert sorted(p.name for p in (root / "items").glob("*.keys")) == [
        "2025-01.keys",
        "2025-03.keys",
        "2025-05.keys",
    ]
    with Store(root, lazy=0) as s:
        again = entries("a", "2025-01", n=7)  # the five known, two new
        res = s.upsert_entries(ids["a"], again)
        assert (res.new, res.updated) == (2, 0)
        assert not s.loaded.is_set()  # b's and c's files were not needed
        s.load_rest()
        assert feed_count(s, ids["a"]) == 7
        assert len(s) == 17


def test_a_link_known_only_in_an_unread_file_still_merges(tmp_path: Path) -> None:
    root = tmp_path / "store"
    build(root)
    with Store(root, lazy=0) as s:
        d, _ = s.add_feed("https://d.example/feed")
        # d links to b's third article: one item, seen through two feeds
        res = s.upsert_entries(d.id, entries("d", "2025-07", n=1, site="b"))
        assert (res.new, res.merged) == (0, 1)
        assert not s.loaded.is_set()  # c's file holds neither d nor that link
        s.load_rest()
        assert len(s) == 15
        (item,) = [i for i in s.items() if i.link == "https://b.example/0"]
        assert {x.source for x in item.sightings} >= {d.id}


def test_keys_of_another_version_are_not_trusted(tmp_path: Path) -> None:
    """A crash between the item file's rename and its keys file's leaves keys that
    name the old version: the file is then read whole, or e's entries, filed in
    b's month since, would come back as new."""
    root = tmp_path / "store"
    build(root)
    old_keys = (root / "items" / "2025-03.keys").read_bytes()
    with Store(root) as s:
        e, _ = s.add_feed("https://e.example/feed")
        assert s.upsert_entries(e.id, entries("e", "2025-03")).new == 5
    (root / "items" / "2025-03.keys").write_bytes(old_keys)  # says: only b in there
    with Store(root, lazy=0) as s:
        res = s.upsert_entries(e.id, entries("e", "2025-03"))
        assert res.new == 0
        s.load_rest()
        assert len(s) == 20


def test_missing_or_damaged_keys_files_are_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ids = build(root)
    keys = root / "items" / "2025-01.keys"
    for damage in (lambda: keys.unlink(), lambda: keys.write_bytes(b'{"t":"garbage')):
        damage()
        with Store(root, lazy=0) as s:
            res = s.upsert_entries(ids["a"], entries("a", "2025-01"))
            assert res.new == 0  # a's file was read whole
        assert keys.exists()  # and its keys written again (it was not even dirty)
        with Store(root) as s:
            assert len(s) == 15


def test_a_store_written_before_keys_files_refreshes_without_duplicates(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ids = build(root)
    for keys in (root / "items").glob("*.keys"):
        keys.unlink()
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    with Store(copy, lazy=0) as s:
        for name in "abc":
            month = {"a": "2025-01", "b": "2025-03", "c": "2025-05"}[name]
            assert s.upsert_entries(ids[name], entries(name, month)).new == 0
        assert s.loaded.is_set()
    assert len(list((copy / "items").glob("*.keys"))) == 3


def test_retention_of_one_feed_sees_all_its_items(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ids = build(root)
    with Store(root) as s:
        s.set_state(s.ids(ItemFilter(feed_ids=frozenset({ids["a"]}))), read=True)
    with Store(root, lazy=0) as s:
        dropped = s.apply_retention(keep_days=10_000, max_per_feed=2, feed_ids=[ids["a"]])
        assert dropped == 3
        assert not s.loaded.is_set()
    with Store(root) as s:
        assert feed_count(s, ids["a"]) == 2
        assert len(s) == 12


def test_a_keys_file_that_cannot_be_written_never_fails_the_flush(tmp_path: Path) -> None:
    """Keys are a hint: the item file and the feed's state are saved anyway."""
    root = tmp_path / "store"
    ids = build(root)
    keys = root / "items" / "2025-01.keys"
    keys.unlink()
    keys.mkdir()  # a folder in the way: that keys file cannot be replaced
    with Store(root) as s:
        s.set_state(s.ids(ItemFilter(feed_ids=frozenset({ids["a"]}))), read=True)
        s.flush()  # raises if the keys' failure reached it
    with Store(root, lazy=0) as s:
        assert s.upsert_entries(ids["a"], entries("a", "2025-01")).new == 0
        s.load_rest()
        assert s.count(ItemFilter(unread=True)) == 10  # a's five marks were saved
