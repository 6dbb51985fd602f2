"""Views: what the stream shows (unread, starred, a feed, a tag, a saved view...)
plus a search, turned into the one ItemFilter the store applies (the CLI uses
the same).

Saved views (``[views.NAME]`` and the built-ins Today, Drafts, Alerts...) come
from ``triage.views``; the four views the app always had (Unread, Starred,
Shared, All) stay kinds of their own, so their fast paths and the state files
that name them keep working.  A search typed in a saved view that has its own
search replaces that search (the store searches for one phrase).  A view
ranked by sharers (the built-in "network") is known only whole, so past the
budget its rows come all at once from the thread and replace the first ones
(``FirstRows.replace``).

The first screenful of a view is found synchronously (``first_rows``, within a
small time budget); the caller takes the rest from the returned iterator on a
thread, so a view of 100,000 items opens at once.
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
from veille.triage.views import ViewError, find_view, rank_ids, saved_views, view_filter

VIEW_KINDS = ("unread", "all", "starred", "shared")
#: Saved views shown as the app's own kinds (their fast paths, their old state).
PLAIN_VIEWS = {"unread": "unread", "starred": "starred", "shared": "shared", "all": "all"}
SAVE_CHOICE = "save:"
FIRST_ROWS = 300  # rows found before the first paint; the rest on a thread
FIRST_BUDGET = 0.05  # seconds the first part of a query may take


@dataclass(frozen=True)
class ViewSpec:
    kind: str = "all"  # unread | all | starred | shared | feed | tag | view
    value: str = ""  # feed id, tag name or saved view name
    search: str = ""
    # A saved view ("view"): its definition and its filter, resolved against the
    # store and the clock when chosen (see spec_for_view).  Not part of equality.
    saved: SavedView | None = field(default=None, compare=False, repr=False)
    flt: ItemFilter | None = field(default=None, compare=False, repr=False)

    def scope(self, store: Store) -> str:
        """The view's name without the search: "Unread", "Feed: Site 0"."""
        if self.kind == "view":
            label = self.saved.label if self.saved is not None else self.value
            return f"View: {clean_line(label)}"
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
    def rank(self) -> str:
        """How the view orders its items ("newest", or "sharers")."""
        return self.saved.rank if self.saved is not None else "newest"

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
        if self.kind == "view":
            # Not resolved (see spec_for_view): nothing, never everything, so that
            # "mark all read" on it can mark nothing by mistake.
            base = self.flt if self.flt is not None else ItemFilter(feed_ids=frozenset())
            return base.but(search=self.search) if self.search else base
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
        if isinstance(data, dict) and data.get("kind") in (*VIEW_KINDS, "feed", "tag", "view"):
            return cls(str(data["kind"]), str(data.get("value") or ""))
        return cls()


def empty_text(spec: ViewSpec, store: Store, search_all_key: str = "ctrl+f") -> str:
    """What an empty stream says: why it is empty and what to press."""
    if spec.search:
        what = f"No match for “{clean_line(spec.search)}”"
        if spec.is_everything:
            return f"{what} in any item. esc clears the search."
        return f"{what} in {spec.scope(store)} — {search_all_key} searches all items."
    saved = spec.saved
    if spec.kind == "view" and saved is not None and saved.min_sharers:
        when = f" in the last {saved.since}" if saved.since and saved.since[0].isdigit() else ""
        return (
            f"Nothing shared by {saved.min_sharers} or more accounts you follow{when}. "
            "f changes the view."
        )
    if spec.kind == "unread":
        return "All read. f changes the view, r refreshes."
    return "No items here yet. r refreshes, f changes the view, a adds a feed."


def picker_views(config: Config) -> list[SavedView]:
    """The saved views ``f`` offers, in its order: Unread, Starred, Shared, All
    first (as always), then the other built-ins, then the user's."""
    views = saved_views(config)
    first = [views[n] for n in PLAIN_VIEWS if n in views]
    return first + [v for n, v in views.items() if n not in PLAIN_VIEWS]


def view_key(view: SavedView) -> str:
    """The picker's key of a saved view (the four plain ones keep their old keys)."""
    if view.builtin and view.name in PLAIN_VIEWS:
        return f"v:{PLAIN_VIEWS[view.name]}"
    return f"view:{view.name}"


def view_label(view: SavedView, count: int | str | None = "") -> str:
    """ "Today  (12)"; a count of None: the view names a feed since removed."""
    if count == "":
        return view.label
    if count is None:
        return f"{view.label}  (names a removed feed)"
    return f"{view.label}  ({count:,})" if isinstance(count, int) else f"{view.label}  ({count})"


def filter_choices(
    store: Store,
    config: Config | None = None,
    counts: dict[str, int | None] | None = None,
    *,
    can_save: bool = False,
) -> list[tuple[str, str]]:
    """The views ``f`` offers: the saved views (with ``counts`` when known), "Save
    this view as…", then each feed and tag with their counts."""
    choices = []
    for v in picker_views(config or Config()):
        choices.append((view_key(v), view_label(v, counts.get(v.name, "…") if counts else "")))
    if can_save:
        choices.append((SAVE_CHOICE, "Save this view as… (a name: it goes to config.toml)"))
    counts_by_feed = store.counts()
    for f in store.feeds():
        total, unread = counts_by_feed.get(f.id, (0, 0))
        choices.append((f"feed:{f.id}", f"Feed: {f.name}  ({unread}/{total})"))
    for tag in store.all_tags():
        choices.append((f"tag:{tag}", f"Tag: {tag}"))
    return choices


def spec_for_view(view: SavedView, store: Store, *, at: datetime | None = None) -> ViewSpec:
    """The spec that shows a saved view; ViewError when it names a removed feed."""
    if view.builtin and view.name in PLAIN_VIEWS:
        return ViewSpec(PLAIN_VIEWS[view.name])
    return ViewSpec("view", view.name, saved=view, flt=view_filter(view, store, at=at))


def resolve(
    spec: ViewSpec, config: Config, store: Store, *, at: datetime | None = None
) -> ViewSpec:
    """A spec read back from the state file or made by a key, with a saved view's
    definition looked up in the config and its ``since`` resolved at ``at``
    (ViewError when it is gone)."""
    if spec.kind != "view":
        return spec
    view = find_view(config, spec.value)
    return replace(spec_for_view(view, store, at=at), search=spec.search)


def start_view(
    config: Config, store: Store, remembered: Any, *, at: datetime | None = None
) -> tuple[ViewSpec, str]:
    """The view the app opens with: ``default_view`` when set (it wins), else the
    one left last time; (spec, a warning line or "")."""
    name = config["default_view"]
    if name:
        try:
            return spec_for_view(find_view(config, name), store, at=at), ""
        except ViewError as exc:
            return ViewSpec(), f"default_view: {clean_line(str(exc))}"
    spec = ViewSpec.from_json(remembered)
    if spec.kind == "feed" and not store.get_feed(spec.value):
        return ViewSpec(), ""
    try:
        return resolve(spec, config, store, at=at), ""
    except ViewError:
        return ViewSpec(), ""


def saved_from_spec(name: str, spec: ViewSpec, store: Store) -> SavedView:
    """The ``[views.NAME]`` that shows what ``spec`` shows now (the view and its search)."""
    search = spec.search
    if spec.kind == "view" and spec.saved is not None:
        base = spec.saved
        return replace(base, name=name, title="", builtin=False, search=search or base.search)
    if spec.kind == "unread":
        return SavedView(name, unread=True, search=search)
    if spec.kind == "starred":
        return SavedView(name, starred=True, search=search)
    if spec.kind == "shared":
        return SavedView(name, shared=True, search=search)
    if spec.kind == "feed":
        feed = store.get_feed(spec.value)
        return SavedView(name, feeds=(feed.url,) if feed else (), search=search)
    if spec.kind == "tag":
        return SavedView(name, tag=spec.value, search=search)
    return SavedView(name, search=search)


def choice_key(spec: ViewSpec) -> str:
    return f"v:{spec.kind}" if spec.kind in VIEW_KINDS else f"{spec.kind}:{spec.value}"


def spec_for_choice(
    key: str,
    config: Config | None = None,
    store: Store | None = None,
    *,
    at: datetime | None = None,
) -> ViewSpec:
    """The spec a picker choice stands for (a saved view needs the config and the
    store; ViewError when it names a removed feed)."""
    kind, _, value = key.partition(":")
    if kind == "view" and config is not None and store is not None:
        return spec_for_view(find_view(config, value), store, at=at)
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
    it = store.view_ids(spec.to_filter(), keep=sticky, stop=stop)
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
