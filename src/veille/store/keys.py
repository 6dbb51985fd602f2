"""What each item file holds that a refresh looks up: its sources and its links.

A refresh must know, for every entry, whether it is already an item (by its
source) or the same article as an item of another source (by its canonical
link).  Reading all 100,000 items to answer that made a refresh of a big store
slower than of a small one.  Beside each item file ``items/D.json`` the store
keeps ``items/D.keys``: the feeds and social sources its items were seen
through, and their link keys.  A refresh then reads only the item files whose
keys meet its entries (plus today's, where new items go).

A keys file is a hint, never the truth: it names the write token of the item
file version it describes (``Partition.sig``), and when that token is not the
file's current one (a crash between the two renames, another process or an
older veille wrote the item file, the keys file is damaged or missing) the item
file is read whole, as before.  So it needs no fsync of its own and can never
make a known entry look new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from veille.store.index import doc_sources, link_of

SUFFIX = ".keys"
KEY_FIELDS = frozenset({"feed", "link", "ck", "sightings"})  # what a summary reads


@dataclass(frozen=True, slots=True)
class FileKeys:
    sources: frozenset[str]
    links: frozenset[str]


def summarize(docs: Iterable[dict[str, Any]]) -> FileKeys:
    sources: set[str] = set()
    links: set[str] = set()
    for d in docs:
        sources.update(doc_sources(d))
        key = link_of(d)
        if key:
            links.add(key)
    return FileKeys(frozenset(sources), frozenset(links))


def keys_path(items_path: Path) -> Path:
    return items_path.with_suffix(SUFFIX)


def body(keys: FileKeys) -> bytes:
    """What follows the token in a keys file (kept between writes: ~70 KB a file)."""
    return orjson.dumps({"sources": sorted(keys.sources), "links": sorted(keys.links)})[1:]


def _head(token: str) -> bytes:
    """How every keys file starts: its token first, so :func:`current` reads it alone."""
    return b'{"t":"' + token.encode() + b'"'


def dump(token: str, body_: bytes) -> bytes:
    """A keys file: ``{"t": token, ...}``."""
    return _head(token) + b"," + body_


def read(items_path: Path, token: object) -> FileKeys | None:
    """The keys of the item file version ``token``, or None when the keys file is
    missing, unreadable or describes another version."""
    if not isinstance(token, str):
        return None  # a file written before write tokens: nothing to match
    try:
        raw = orjson.loads(keys_path(items_path).read_bytes())
        if raw["t"] != token:
            return None
        return FileKeys(frozenset(raw["sources"]), frozenset(raw["links"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def current(items_path: Path, token: str) -> bool:
    """Whether the keys file describes the item file version ``token`` (its first
    bytes only: checked for every item file read)."""
    head = _head(token)
    try:
        with open(keys_path(items_path), "rb") as fh:
            return fh.read(len(head)) == head
    except OSError:
        return False


class Unread:
    """The item files not read yet, and what their keys files say they hold.

    Read once per opening (59 keys files of a 100,000-item store: ~25 ms); then
    each refreshed source costs a set intersection and a pass over the files."""

    def __init__(self, paths: Iterable[Path], token_of: Callable[[Path], object]) -> None:
        self.unknown: list[Path] = []  # no current keys: to be read whole at once
        self.stems: list[str] = []  # of every file not read at the start
        self._known: list[tuple[Path, FileKeys]] = []
        for path in paths:
            self.stems.append(path.stem)
            k = read(path, token_of(path))
            if k is None:
                self.unknown.append(path)
            else:
                self._known.append((path, k))
        self._links = frozenset().union(*(k.links for _, k in self._known))

    def take(self, sources: Iterable[str], links: Iterable[str]) -> list[Path]:
        """The files that may hold items of ``sources`` or with ``links``, and the
        ones whose keys are unknown, newest first (as the store reads them); the
        caller reads them, so they are not offered again."""
        found = self.unknown
        self.unknown = []
        hits = self._links.intersection(links)  # mostly none: new articles
        rest = []
        for path, k in self._known:
            if not k.sources.isdisjoint(sources) or (hits and not k.links.isdisjoint(hits)):
                found.append(path)
            else:
                rest.append((path, k))
        self._known = rest
        return sorted(found, reverse=True)
