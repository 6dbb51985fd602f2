"""Stable identifiers: an item id is a hash of (source id, entry key)."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from veille.domain.entries import ParsedEntry


def item_id(source_id: str, entry_key: str) -> str:
    return hashlib.blake2b(f"{source_id}\0{entry_key}".encode(), digest_size=8).hexdigest()


def new_feed_id() -> str:
    return secrets.token_hex(4)


def content_hash(*parts: str | None) -> str:
    """Hash of an entry's text fields, to tell a real update from a re-poll."""
    joined = "\0".join(p or "" for p in parts)
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def entry_hash(e: ParsedEntry) -> str:
    return content_hash(e.title, e.link, e.author, e.published, e.summary, e.content)
