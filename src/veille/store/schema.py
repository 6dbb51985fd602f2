"""The store's schema version, and the migrations that bring an older store up to it.

A store carries its version in ``meta.json``.  Opening an older store runs each
missing step once, in order, then records the new version; a store written by a
newer veille is refused rather than half-understood.  Every step is tested on a
store written by the release before it (tests/data/store-v1).

Versions:
1. The first release (no meta.json): items keyed by their feed, one feed each.
2. Item links are kept without tracking parameters, and an item knows its
   canonical link (``ck``, stored only where domain.links.quick_key would not
   give it), so one article reached through several feeds and posts is one
   item; feeds have a ``kind`` (feed, mastodon, bluesky); items may carry
   ``sightings``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from veille.domain.links import canonical_url, quick_key, strip_tracking
from veille.store.errors import StoreError

if TYPE_CHECKING:
    from veille.store.partition import Partition


class Migratable(Protocol):
    """What a migration needs of the store (not the Store class itself, which
    imports this module to run them)."""

    root: Path
    meta_p: Partition
    feeds_p: Partition

    def load_rest_now(self) -> None: ...

    def items_partitions(self) -> list[Partition]: ...

    def index_link(self, key: str, iid: str) -> None: ...


log = logging.getLogger(__name__)

SCHEMA_VERSION = 2


def stored_version(store: Migratable) -> int:
    meta = store.meta_p.get("schema")
    if meta and isinstance(meta.get("version"), int):
        return int(meta["version"])
    has_data = bool(store.feeds_p.docs()) or any((store.root / "items").glob("*.json"))
    return 1 if has_data else SCHEMA_VERSION


def check(store: Migratable) -> None:
    """Bring ``store`` to SCHEMA_VERSION (in memory; written by the next flush)."""
    version = stored_version(store)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"this store was written by a newer veille (schema {version}, this one knows "
            f"{SCHEMA_VERSION}): upgrade veille"
        )
    if version < 2:
        _to_2(store)
        log.info("store %s migrated from schema %d to %d", store.root, version, 2)
    if store.meta_p.get("schema") != {"version": SCHEMA_VERSION}:
        store.meta_p.put("schema", {"version": SCHEMA_VERSION})


def _to_2(store: Migratable) -> None:
    for fid, doc in store.feeds_p.docs().items():
        if "kind" not in doc:
            store.feeds_p.patch(fid, {"kind": "feed"})
    store.load_rest_now()
    for p in store.items_partitions():
        for iid, doc in list(p.docs().items()):
            link = doc.get("link") or ""
            if not link:
                continue
            clean = strip_tracking(link) or link
            key = canonical_url(clean)
            changes = {}
            if clean != link:
                changes["link"] = clean
            if key and key != quick_key(clean):
                changes["ck"] = key
            if changes:
                p.patch(iid, changes)
            store.index_link(key or quick_key(clean), iid)
