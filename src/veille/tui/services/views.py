"""Views: what the stream shows (unread, starred, a feed, a tag...) plus a search,
turned into the one ItemFilter the store applies (the CLI uses the same).

The first screenful of a view is found synchronously (``first_rows``, within a
small time budget); the caller takes the rest from the returned iterator on a
thread, so a view of 100,000 items opens at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from veille.domain.filter import ItemFilter
from veille.render.hygiene import clean_line
from veille.store.store import Store

VIEW_KINDS = ("unread", "all", "starred", "shared")
FIRST_ROWS = 300  # rows found before the first paint; the rest on a thread
FIRST_BUDGET = 0.05  # seconds the first part of a query may take


@dataclass(frozen=True)
class ViewSpec:
    kind: str = "all"  # unread | all | starred | shared | feed | tag
    value: str = ""  # feed id or tag name
    search: str = ""

    def scope(self, store: Store) -> str:
        """The view's name without the search: "Unread", "Feed: Site 0"."""
        if self.kind == "feed":
            f = store.get_feed(self.value)
            return f"Feed: {clean_line(f.name) if f else self.value}"
        if self.kind == "tag":
            return f"Tag: {clean_line(self.value)}"
        return self.kind.capitalize()

    def label(self, store: Store) -> str:
        name = self.scope(store)
        if self.search:
            name += f" · search “{clean_line(self.search)}”"
        return name

    @property
    def is_everything(self) -> bool:
        return self.kind == "all"

    def with_search(self, text: str) -> ViewSpec:
        return replace(self, search=text.strip())

    def without_search(self) -> ViewSpec:
        return replace(self, search="")

    def everywhere(self) -> ViewSpec:
        """The same search over every item (the view may have hidden the match)."""
        return ViewSpec("all", "", self.search)

    def to_filter(self) -> ItemFilter:
        flt = ItemFilter(search=self.search)
        if self.kind == "unread":
            return flt.but(unread=True)
        if self.kind == "starred":
            return flt.but(starred=True)
        if self.kind == "shared":
            return flt.but(shared=True)
        if self.kind == "feed":
            return flt.but(feed_ids=frozenset({self.value}))
        if self.kind == "tag":
            return flt.but(tag=self.value)
        return flt

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_json(cls, data: Any) -> ViewSpec:
        if isinstance(data, dict) and data.get("kind") in (*VIEW_KINDS, "feed", "tag"):
            return cls(str(data["kind"]), str(data.get("value") or ""))
        return cls()


def empty_text(spec: ViewSpec, store: Store, search_all_key: str = "ctrl+f") -> str:
    """What an empty stream says: why it is empty and what to press."""
    if spec.search:
        what = f"No match for “{clean_line(spec.search)}”"
        if spec.is_everything:
            return f"{what} in any item. esc clears the search."
        return f"{what} in {spec.scope(store)} — {search_all_key} searches all items."
    if spec.kind == "unread":
        return "All read. f changes the view, r refreshes."
    return "No items here yet. r refreshes, f changes the view, a adds a feed."


def filter_choices(store: Store) -> list[tuple[str, str]]:
    """The views ``f`` offers: the four kinds, then each feed and tag, with counts."""
    choices = [
        ("v:unread", "Unread"),
        ("v:starred", "Starred"),
        ("v:shared", "Shared"),
        ("v:all", "All"),
    ]
    counts = store.counts()
    for f in store.feeds():
        total, unread = counts.get(f.id, (0, 0))
        choices.append((f"feed:{f.id}", f"Feed: {f.name}  ({unread}/{total})"))
    for tag in store.all_tags():
        choices.append((f"tag:{tag}", f"Tag: {tag}"))
    return choices


def choice_key(spec: ViewSpec) -> str:
    return f"v:{spec.kind}" if spec.kind in VIEW_KINDS else f"{spec.kind}:{spec.value}"


def spec_for_choice(key: str) -> ViewSpec:
    kind, _, value = key.partition(":")
    return ViewSpec(value) if kind == "v" else ViewSpec(kind, value)


@dataclass
class FirstRows:
    """The part of a view found before the first paint."""

    ids: list[str]
    found: bool  # the item to keep under the cursor is among them (or none was asked)
    rest: Iterator[str] | None  # the rest of the view, for a thread; None: complete


def first_rows(
    store: Store,
    spec: ViewSpec,
    *,
    keep_id: str | None = None,
    sticky: frozenset[str] | set[str] = frozenset(),
    stop: Callable[[], bool] | None = None,
    limit: int = FIRST_ROWS,
    budget: float = FIRST_BUDGET,
) -> FirstRows:
    """The first rows of ``spec``, newest first: at least ``limit`` (and the kept
    item) unless ``budget`` seconds run out.  ``sticky``: ids that stay even when
    they no longer match (an item read a moment ago must not vanish under the
    cursor).  ``stop`` is asked every 2,048 items by the rest."""
    if spec.is_everything and not spec.search:
        return FirstRows(list(store.ordered_ids()), True, None)  # no test per item
    it = store.view_ids(spec.to_filter(), keep=sticky, stop=stop)
    ids: list[str] = []
    found = keep_id is None
    deadline = time.perf_counter() + budget
    for iid in it:
        ids.append(iid)
        found = found or iid == keep_id
        if (len(ids) >= limit and found) or time.perf_counter() > deadline:
            return FirstRows(ids, found, it)
    return FirstRows(ids, found, None)
