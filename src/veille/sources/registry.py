"""Which Source polls which Feed: one line per kind of source.

``source_for`` never raises: a feed of a kind veille does not know (a store
written by a newer version, a typo in an import) gets a source whose polls fail
with one line saying so, so that one odd feed cannot stop a refresh.

The RSS/Atom/JSON source (``sources.feed.source.FeedSource``, kind "feed") is
imported lazily: it pulls in the parser pool, which the social sources do not
need, and this registry works before that module exists.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import ClassVar

from veille.domain.records import Feed
from veille.sources.base import PollContext, PollResult, Source

__all__ = ["SOURCES", "register", "source_for"]

log = logging.getLogger(__name__)

#: kind -> "module:Class" of its Source; instantiated without arguments.
SOURCES: dict[str, str] = {
    "feed": "veille.sources.feed.source:FeedSource",
    "mastodon": "veille.sources.mastodon:MastodonSource",
    "bluesky": "veille.sources.bluesky:BlueskySource",
}

_made: dict[str, Source] = {}
_factories: dict[str, Callable[[], Source]] = {}


def register(kind: str, factory: Callable[[], Source]) -> None:
    """Use ``factory()`` for feeds of ``kind`` (tests, plug-ins)."""
    _factories[kind] = factory
    _made.pop(kind, None)


class _Unavailable:
    """Stands in for a source that cannot be loaded; every poll says why."""

    kind: ClassVar[str] = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def poll(self, feed: Feed, ctx: PollContext) -> PollResult:
        return PollResult(status="error", error=self.reason, error_kind="other")


def _load(kind: str) -> Source:
    factory = _factories.get(kind)
    if factory is not None:
        return factory()
    target = SOURCES.get(kind)
    if target is None:
        known = ", ".join(sorted(SOURCES))
        return _Unavailable(f"unknown kind of source {kind!r} (veille knows: {known})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
        source: Source = cls()
    except Exception:
        log.exception("could not load the %s source (%s)", kind, target)
        return _Unavailable(f"the {kind} source could not be loaded (details in the log)")
    return source


def source_for(feed: Feed) -> Source:
    """The Source that polls ``feed`` (by ``feed.kind``); one instance per kind."""
    kind = feed.kind or "feed"
    source = _made.get(kind)
    if source is None:
        source = _made[kind] = _load(kind)
    return source
