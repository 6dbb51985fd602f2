"""Stable identifiers: an item id is a hash of (source id, entry key)."""

from __future__ import annotations

import hashlib
import secrets


def item_id(source_id: str, entry_key: str) -> str:
    return hashlib.blake2b(f"{source_id}\0{entry_key}".encode(), digest_size=8).hexdigest()


def new_feed_id() -> str:
    return secrets.token_hex(4)


def content_hash(*parts: object) -> str:
    h = hashlib.blake2b(digest_size=12)
    for p in parts:
        h.update(repr(p).encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()
