"""The shares' Atom feed: valid, newest first, with atom:source; written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import feedparser
import pytest

from veille.domain.share import Share
from veille.share.atomfeed import entry_id, write_atom
from veille.util import atomicfile

FEED = {"title": "Shared with veille", "author": "Ana Curator", "feed_id": "tag:veille,2026:shares"}


def share(n: int, created: str, **kw: object) -> Share:
    base: dict[str, object] = {
        "id": f"share-{n}",
        "item_id": f"item-{n}",
        "comment": f"Comment {n}",
        "created": created,
        "title": f"Item {n}",
        "link": f"https://blog.example/{n}",
        "source": "Example Blog",
        "source_url": "https://blog.example/feed.xml",
        "author": "Bo Writer",
        "published": "2026-11-20T08:00:00Z",
        "via": "via Example Blog",
    }
    base.update(kw)
    return Share(**base)  # type: ignore[arg-type]


SHARES = [
    share(1, "2026-11-25T10:00:00Z"),
    share(3, "2026-11-27T09:30:00Z", hashtags=["IndieWeb", "rss"], language="fr"),
    share(2, "2026-11-26T18:00:00+02:00"),
]


def parse(path: Path) -> feedparser.FeedParserDict:
    d = feedparser.parse(path.read_bytes())
    assert d.bozo == 0, d.get("bozo_exception")
    assert d.version == "atom10"
    return d


def test_valid_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "shares.atom"
    write_atom(path, SHARES, self_url="https://me.example/shares.atom", **FEED)
    d = parse(path)
    assert d.feed.title == "Shared with veille"
    assert d.feed.id == "tag:veille,2026:shares"
    assert [e.title for e in d.entries] == ["Item 3", "Item 2", "Item 1"]
    assert d.feed.updated == "2026-11-27T09:30:00Z"
    assert any(link.rel == "self" for link in d.feed.links)


def test_entry_fields_and_source(tmp_path: Path) -> None:
    path = tmp_path / "shares.atom"
    write_atom(path, SHARES, **FEED)
    e = parse(path).entries[0]
    assert e.id == entry_id("share-3") and e.id.startswith("urn:uuid:")
    assert e.link == "https://blog.example/3"
    assert e.published == e.updated == "2026-11-27T09:30:00Z"
    assert e.author == "Ana Curator"
    assert [t.term for t in e.tags] == ["IndieWeb", "rss"]
    assert e.content[0].type == "text/html"
    assert "<p>Comment 3</p>" in e.content[0].value
    assert "via Example Blog" in e.content[0].value
    assert e.source.title == "Example Blog"
    assert e.source.id == "https://blog.example/feed.xml"
    assert e.source.links[0].href == "https://blog.example/feed.xml"
    assert e.source.updated == "2026-11-20T08:00:00Z"
    assert e.source.author == "Bo Writer"
    assert e.get("language") == "fr" or e.content[0].get("language") == "fr"


def test_ids_are_stable(tmp_path: Path) -> None:
    a, b = tmp_path / "a.atom", tmp_path / "b.atom"
    write_atom(a, SHARES, **FEED)
    write_atom(b, list(reversed(SHARES)), **FEED)
    ids_a = [e.id for e in parse(a).entries]
    assert ids_a == [e.id for e in parse(b).entries]
    assert len(set(ids_a)) == 3


def test_special_and_illegal_characters(tmp_path: Path) -> None:
    comment = "Tom & Jerry <script>alert(1)</script> > ça «marche» 日本 😀\n\n> quoted & <b>"
    s = share(
        9,
        "2026-11-27T12:00:00Z",
        comment=comment + "\x00\x0b\ud800",
        title="A <b>bold</b> & \x1f title",
        source="Feed \x08 & Co",
    )
    path = tmp_path / "shares.atom"
    write_atom(path, [s], **FEED)
    assert b"\x00" not in path.read_bytes() and b"\x0b" not in path.read_bytes()
    e = parse(path).entries[0]
    assert e.title == "A <b>bold</b> & title"
    html = e.content[0].value
    assert "Tom &amp; Jerry &lt;script&gt;alert(1)&lt;/script&gt; &gt; ça «marche» 日本 😀" in html
    assert "<script>" not in html
    assert "<blockquote><p>quoted &amp; &lt;b&gt;</p></blockquote>" in html
    assert e.source.title == "Feed  & Co"


def test_unsafe_links_are_dropped(tmp_path: Path) -> None:
    s = share(5, "2026-11-27T12:00:00Z", link="javascript:alert(1)", source_url="data:x")
    path = tmp_path / "shares.atom"
    write_atom(path, [s], **FEED)
    assert b"javascript:" not in path.read_bytes() and b"data:x" not in path.read_bytes()
    e = parse(path).entries[0]
    assert e.source.title == "Example Blog"


def test_empty_feed_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "shares.atom"
    write_atom(path, [], **FEED)
    d = parse(path)
    assert d.entries == [] and d.feed.title == "Shared with veille"


def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "shares.atom"
    write_atom(path, SHARES[:1], **FEED)
    path.chmod(0o640)
    before = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomicfile.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match=r"(?i)no space"):
        write_atom(path, SHARES, **FEED)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shares.atom"]  # no temp left

    monkeypatch.undo()
    write_atom(path, SHARES, **FEED)
    assert len(parse(path).entries) == 3
    assert path.stat().st_mode & 0o777 == 0o640  # the old file's mode is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shares.atom"]


def test_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atom(tmp_path / "nope" / "shares.atom", SHARES, **FEED)
    assert not (tmp_path / "nope").exists()


def test_new_file_is_world_readable_under_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "fresh.atom"
        write_atom(path, SHARES, **FEED)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # it is a public feed
