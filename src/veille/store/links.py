"""How the store keeps an entry's link: without tracking parameters, with its key.

One function, called in the parser processes for feed entries (off the main
thread) and by the store for entries that did not go through them (social
posts), so both paths store the same thing.
"""

from __future__ import annotations

from veille.domain.entries import ParsedEntry
from veille.domain.links import canonical_url, strip_tracking


def prepare_link(e: ParsedEntry) -> None:
    """Clean ``e.link`` and fill ``e.link_key``, once."""
    if e.link_key or not e.link:
        return
    e.link = strip_tracking(e.link) or e.link
    e.link_key = canonical_url(e.link)
