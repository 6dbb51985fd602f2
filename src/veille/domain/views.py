"""Saved views: a named search plus filter ("AI, unread, last 24 hours").

Built-in views (Unread, Today, Starred, ...) and the user's ``[views.NAME]``
tables of config.toml are the same record, so the app's filter picker, its
start-up view and ``veille items --view NAME`` all read one definition.

The record keeps what the user wrote (feed URLs, ``since = "24h"``); turning it
into an ItemFilter needs the store (URL -> feed id) and the clock, which
``veille.triage.views`` supplies.  No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from veille.domain.filter import ItemFilter

#: Keys of a ``[views.NAME]`` table and the types they take.
VIEW_KEYS: dict[str, tuple[type, ...]] = {
    "title": (str,),
    "search": (str,),
    "unread": (bool,),
    "starred": (bool,),
    "shared": (bool,),
    "drafts": (bool,),
    "alerted": (bool,),
    "muted": (bool,),
    "tag": (str,),
    "feed": (str, list),
    "since": (str,),
    "kind": (str,),
    "min_sharers": (int,),
    "rank": (str,),
}
ITEM_KINDS = ("article", "post", "reply")
#: How a view orders its items: "newest" first (every view's default), or by
#: "sharers" (distinct accounts that shared an item, then newest): the network view.
RANKS = ("newest", "sharers")


@dataclass(frozen=True, slots=True)
class SavedView:
    """A view by name.  None means "either way", as in ItemFilter."""

    name: str
    title: str = ""  # what the picker shows; default: the name, capitalised
    search: str = ""
    unread: bool | None = None
    starred: bool | None = None
    shared: bool | None = None
    drafts: bool | None = None  # items with a saved draft comment
    alerted: bool | None = None  # items an alert matched
    muted: bool | None = None  # True: only muted items (to show them again)
    tag: str | None = None
    feeds: tuple[str, ...] = ()  # feed URLs or ids
    since: str = ""  # "today", an age ("24h", "7d") or a date ("2026-11-01")
    kind: str | None = None  # article | post | reply
    min_sharers: int = 0
    rank: str = "newest"  # one of RANKS
    builtin: bool = False

    @property
    def label(self) -> str:
        return self.title or self.name[:1].upper() + self.name[1:]

    def to_filter(
        self, *, since: str | None = None, feed_ids: frozenset[str] | None = None
    ) -> ItemFilter:
        """The filter, given ``since`` as an ISO time and the feeds resolved to ids."""
        return ItemFilter(
            unread=self.unread,
            starred=self.starred,
            shared=self.shared,
            drafts=self.drafts,
            alerted=self.alerted,
            muted=self.muted if self.muted is not None else False,
            feed_ids=feed_ids,
            tag=self.tag,
            search=self.search,
            since=since,
            min_sharers=self.min_sharers,
            kind=self.kind,
        )

    def to_table(self) -> dict[str, Any]:
        """The ``[views.NAME]`` table that defines it (only what is set)."""
        out: dict[str, Any] = {}
        for key in VIEW_KEYS:
            attr = "feeds" if key == "feed" else key
            value = getattr(self, attr)
            if value is None or value == "" or value == () or (key == "min_sharers" and not value):
                continue
            if key == "rank" and value == "newest":
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any]) -> SavedView:
        """Build from a ``[views.NAME]`` table; ValueError names a bad key or value."""
        kw: dict[str, Any] = {}
        for key, value in table.items():
            types = VIEW_KEYS.get(key)
            if types is None:
                raise ValueError(f"unknown key '{key}' (use {', '.join(VIEW_KEYS)})")
            if not _type_ok(value, types):
                want = " or ".join("list of strings" if t is list else t.__name__ for t in types)
                raise ValueError(f"{key}: expected {want}, got {value!r}")
            if key == "feed":
                feeds = [value] if isinstance(value, str) else value
                if not all(isinstance(f, str) and f for f in feeds):
                    raise ValueError("feed: expected a feed URL or a list of them")
                kw["feeds"] = tuple(feeds)
            elif key == "kind" and value not in ITEM_KINDS:
                raise ValueError(f"kind: use one of {', '.join(ITEM_KINDS)}, not {value!r}")
            elif key == "min_sharers" and not 0 <= value <= 10_000:
                raise ValueError(f"min_sharers: expected 0 to 10000, got {value}")
            elif key == "rank" and value not in RANKS:
                raise ValueError(f"rank: use one of {', '.join(RANKS)}, not {value!r}")
            else:
                kw[key] = value
        return cls(name=name, **kw)


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    """``isinstance``, except that a bool is not an int (TOML keeps them apart)."""
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


#: Views every user has; a ``[views.NAME]`` of the same name replaces one.
BUILTIN_VIEWS: tuple[SavedView, ...] = (
    SavedView("unread", unread=True, builtin=True),
    SavedView("today", since="today", builtin=True),
    SavedView("starred", starred=True, builtin=True),
    SavedView("shared", shared=True, builtin=True),
    SavedView("drafts", drafts=True, builtin=True),
    SavedView("alerts", alerted=True, unread=True, builtin=True),
    SavedView("all", builtin=True),
    SavedView("muted", muted=True, builtin=True),
    # "Links in my network": what several people you follow shared lately, the
    # most shared first.  ``since`` is when veille first saw the item, as in
    # every view, so `veille items --view network` and the app agree.
    SavedView(
        "network",
        title="Network · 24 h",
        min_sharers=2,
        since="24h",
        rank="sharers",
        builtin=True,
    ),
    SavedView(
        "network-week",
        title="Network · 7 d",
        min_sharers=2,
        since="7d",
        rank="sharers",
        builtin=True,
    ),
)
