"""Views: what the stream shows (unread, starred, a feed, a tag...) plus a search,
turned into the one ItemFilter the store applies (the CLI uses the same).

The first screenful of a view is found synchronously (``first_rows``, within a
small time budget); the caller takes the rest from the returned iterator on a
thread, so a view of 100,000 items opens at once.

A saved view (``[views.NAME]`` of config.toml, or a built-in such as "network":
links several people you follow shared lately) is the kind "view"; one ranked
by sharers is known only whole, so past the budget its rows come all at once
from the thread and replace the first ones (``FirstRows.replace``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from veille.config import Config
from veille.domain.filter import ItemFilter
from veille.domain.views import SavedView
from veille.render.hygiene import clean_line
from veille.store.store import Store
from veille.triage.views import ViewError, rank_ids, saved_views, view_counts, view_filter

VIEW_KINDS = ("unread", "all", "starred", "shared")
FIRST_ROWS = 300  # rows found before the first paint; the rest on a thread
FIRST_BUDGET = 0.05  # seconds the first part of a query may take


@dataclass(frozen=True)
class ViewSpec:
    kind: str = "all"  # unread | all | starred | shared | feed | tag | view
    value: str = ""  # feed id, tag name or saved view name
    search: str = ""
    # The saved view of kind "view" (see ``resolve``); not part of its identity.
    saved: SavedView | None = field(default=None, compare=False, repr=False)
    # "now" for a saved view's ``since`` (the app's clock; None: the real one).
    clock: Callable[[], datetime] | None = field(default=None, compare=False, repr=False)

    def scope(self, store: Store) -> str:
        """The view's name without the search: "Unread", "Feed: Site 0"."""
        if self.kind == "feed":
            f = store.get_feed(self.value)
            return f"Feed: {clean_line(f.name) if f else self.value}"
        if self.kind == "tag":
            return f"Tag: {clean_line(self.value)}"
        if self.kind == "view":
            return clean_line(self.saved.label if self.saved else self.value)
        return self.kind.capitalize()

    @property
    def rank(self) -> str:
        """How the view orders its items ("newest", or "sharers")."""
        return self.saved.rank if self.saved is not None else "newest"

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

    def to_filter(self, store: Store | None = None) -> ItemFilter:
        """The store's filter for this view.  A saved view needs the store (its
        feeds by URL) and resolves its ``since`` now; ViewError when it names a
        feed the store no longer has."""
        if self.kind == "view":
            if self.saved is None or store is None:
                raise ViewError(f"no view named {self.value!r}")
            at = self.clock() if self.clock is not None else None
            flt = view_filter(self.saved, store, at=at)
            return flt.but(search=self.search) if self.search else flt
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
        """As ``to_json`` wrote it; a saved view still needs ``resolve``."""
        if isinstance(data, dict) and data.get("kind") in (*VIEW_KINDS, "feed", "tag", "view"):
            return cls(str(data["kind"]), str(data.get("value") or ""))
        return cls()


def resolve(
    spec: ViewSpec, config: Config, clock: Callable[[], datetime] | None = None
) -> ViewSpec:
    """A saved view's definition from the config as it is now (the config may
    have changed, or the view gone: then all items)."""
    if spec.kind != "view":
        return spec
    found = saved_views(config).get(spec.value)
    if found is None:
        return ViewSpec()
    return replace(spec, saved=found, clock=clock)


def empty_text(spec: ViewSpec, store: Store, search_all_key: str = "ctrl+f") -> str:
    """What an empty stream says: why it is empty and what to press."""
    if spec.search:
        what = f"No match for “{clean_line(spec.search)}”"
        if spec.is_everything:
            return f"{what} in any item. esc clears the search."
        return f"{what} in {spec.scope(store)} — {search_all_key} searches all items."
    if spec.kind == "unread":
        return "All read. f changes the view, r refreshes."
    saved = spec.saved
    if spec.kind == "view" and saved is not None and saved.min_sharers:
        when = f" in the last {saved.since}" if saved.since and saved.since[0].isdigit() else ""
        return (
            f"Nothing shared by {saved.min_sharers} or more accounts you follow{when}. "
            "f changes the view."
        )
    return "No items here yet. r refreshes, f changes the view, a adds a feed."


def picked_views(config: Config) -> list[SavedView]:
    """The saved views the picker offers after the four kinds (which are the
    built-ins of the same name): today, drafts, alerts, muted, the network's, and
    the user's own ``[views.NAME]``."""
    return [v for v in saved_views(config).values() if not (v.builtin and v.name in VIEW_KINDS)]


def filter_choices(
    store: Store,
    config: Config | None = None,
    *,
    at: datetime | None = None,
) -> list[tuple[str, str]]:
    """The views ``f`` offers: the four kinds, each feed and tag, then the saved
    views (today, drafts, alerts, muted, the network's, the user's), with counts.
    The network's have a key of their own too (``w``)."""
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
    if config is not None:
        saved = picked_views(config)
        sizes = view_counts(store, saved, at=at)
        for view in saved:
            n = sizes.get(view.name)
            shown = f"({n})" if n is not None else "(names a feed no longer here)"
            choices.append((f"view:{view.name}", f"{view.label}  {shown}"))
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
    replace: bool = False  # ``rest`` gives the whole view, to put in place of ``ids``


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
    try:
        flt = spec.to_filter(store)
    except ViewError:
        return FirstRows([], keep_id is None, None)  # empty_text says why
    it = store.view_ids(flt, keep=sticky, stop=stop)
    if spec.rank != "newest":
        return _ranked_rows(store, spec.rank, it, keep_id, budget)
    ids: list[str] = []
    found = keep_id is None
    deadline = time.perf_counter() + budget
    for iid in it:
        ids.append(iid)
        found = found or iid == keep_id
        if (len(ids) >= limit and found) or time.perf_counter() > deadline:
            return FirstRows(ids, found, it)
    return FirstRows(ids, found, None)


def _ranked_rows(
    store: Store, rank: str, it: Iterator[str], keep_id: str | None, budget: float
) -> FirstRows:
    """A ranked view: whole and ranked when it can be found within ``budget``;
    else what was found, ranked, and the whole view ranked from a thread."""
    ids: list[str] = []
    deadline = time.perf_counter() + budget
    for iid in it:
        ids.append(iid)
        if time.perf_counter() > deadline:
            break
    else:
        ranked = rank_ids(store, ids, rank)
        return FirstRows(ranked, keep_id is None or keep_id in ranked, None)
    first = rank_ids(store, ids, rank)

    def whole(seen: Iterable[str] = tuple(ids)) -> Iterator[str]:
        yield from rank_ids(store, itertools.chain(seen, it), rank)

    return FirstRows(first, keep_id is None or keep_id in first, whole(), replace=True)
