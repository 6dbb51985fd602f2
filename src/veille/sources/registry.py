"""Which Source polls a feed, by its kind.  Adding a kind of source: one module in
sources/ and one line here."""

from __future__ import annotations

from veille.domain.records import Feed
from veille.sources.base import Source
from veille.sources.feed.source import FeedSource

_SOURCES: dict[str, Source] = {"feed": FeedSource()}


def source_for(feed: Feed) -> Source:
    try:
        return _SOURCES[feed.kind]
    except KeyError:
        raise ValueError(f"no source for kind {feed.kind!r}") from None
