"""Saved views at work: the definitions from config.toml, turned into store filters.

The app's filter picker (with counts), its start-up view and ``veille items
--view NAME`` all go through here, so a view means the same everywhere:

* :func:`saved_views` - the built-in views, then ``[views.NAME]`` (which may
  replace a built-in of the same name);
* :func:`find_view` / :func:`default_view` - one by name; the one to open with;
* :func:`view_filter` - the ItemFilter (``since`` resolved against the clock,
  feed URLs against the store);
* :func:`view_counts` - how many items each view shows now;
* :func:`rank_ids` / :func:`view_ids` - a view's items in its order (newest
  first, or the most shared first for the network views);
* :func:`append_view` - save a view made in the app to config.toml (tomlkit:
  the user's comments and layout stay as they were).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from veille.config import Config, ConfigError, parse_config
from veille.domain.errors import VeilleError
from veille.domain.filter import ItemFilter
from veille.domain.views import BUILTIN_VIEWS, SavedView
from veille.store.store import Store
from veille.util.atomicfile import write_atomic
from veille.util.dates import iso, now

__all__ = [
    "ViewError",
    "append_view",
    "default_view",
    "find_view",
    "rank_ids",
    "saved_views",
    "view_counts",
    "view_filter",
    "view_ids",
]


class ViewError(VeilleError):
    """No such view, a view naming an unknown feed, or a view that cannot be saved."""


def saved_views(config: Config) -> dict[str, SavedView]:
    """Every view by name: built-ins first (in their order), then the user's."""
    out = {v.name: v for v in BUILTIN_VIEWS}
    for name, table in (config["views"] or {}).items():
        out[name] = SavedView.from_table(name, table)  # checked when the config loaded
    return out


def find_view(config: Config, name: str) -> SavedView:
    """The view called ``name`` (case-insensitive), or a ViewError listing them."""
    views = saved_views(config)
    if name in views:
        return views[name]
    folded = {n.casefold(): v for n, v in views.items()}
    if name.casefold() in folded:
        return folded[name.casefold()]
    raise ViewError(f"no view named {name!r} (views: {', '.join(views)})")


def default_view(config: Config) -> SavedView | None:
    """The view the app opens with (``default_view``); None: the one the user left."""
    name = config["default_view"]
    return find_view(config, name) if name else None


def since_time(text: str, *, at: datetime | None = None) -> str | None:
    """A view's ``since`` as the ISO time the store compares with: "today" is
    local midnight; ages and dates as `veille digest --since` reads them."""
    if not text:
        return None
    at = at or now()
    if text.strip().lower() == "today":
        local = at.astimezone()
        return iso(local.replace(hour=0, minute=0, second=0, microsecond=0))
    from veille.util.dates import parse_since

    try:
        return iso(parse_since(text, now=at))
    except ValueError as exc:
        raise ViewError(str(exc)) from None


def view_filter(view: SavedView, store: Store, *, at: datetime | None = None) -> ItemFilter:
    """The filter that shows ``view`` now; a feed the store does not know is an error."""
    feed_ids = None
    if view.feeds:
        ids = set()
        for ref in view.feeds:
            feed = store.find_feed(ref)
            if feed is None:
                raise ViewError(f"view {view.name!r}: no such feed: {ref} (see `veille feeds`)")
            ids.add(feed.id)
        feed_ids = frozenset(ids)
    return view.to_filter(since=since_time(view.since, at=at), feed_ids=feed_ids)


def view_counts(
    store: Store, views: Iterable[SavedView], *, at: datetime | None = None
) -> dict[str, int | None]:
    """Items each view shows now, for the picker; None for a view that cannot be
    shown (it names a feed since removed).  Unread is O(1); the others walk the
    index (tens of milliseconds at 100,000 items)."""
    out: dict[str, int | None] = {}
    for v in views:
        try:
            flt = view_filter(v, store, at=at)
        except ViewError:
            out[v.name] = None
            continue
        if flt == ItemFilter(unread=True):
            out[v.name] = store.totals()[0]
        else:
            out[v.name] = store.count(flt)
    return out


def rank_ids(store: Store, ids: Iterable[str], rank: str) -> list[str]:
    """``ids`` (newest first, as the store gives them) in a view's order.

    "sharers": the most distinct accounts first, the newest first among equals
    (the sort is stable).  The list is a network view's: items shared by two
    people or more, a few hundred at most, so reading each record is cheap; the
    app still calls this off its UI thread."""
    ids = list(ids)
    if rank != "sharers" or len(ids) < 2:
        return ids
    sharers = {item.id: item.sharers for item in store.get_items(ids)}
    return sorted(ids, key=lambda iid: -sharers.get(iid, 0))


def view_ids(store: Store, view: SavedView, *, at: datetime | None = None) -> list[str]:
    """Every item ``view`` shows now, in its order (ViewError: see view_filter)."""
    return rank_ids(store, store.ids(view_filter(view, store, at=at)), view.rank)


def append_view(config_file: Path, view: SavedView) -> None:
    """Add ``[views.NAME]`` to config.toml (made in the app); refuse a name in use.

    The result is checked as a whole config before it is written (atomically),
    so a bad view never leaves a config.toml veille cannot start with.
    """
    name = view.name
    if not name or name != name.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise ViewError(f"bad view name {name!r}: no control characters or edge spaces")
    # tomlkit on first save, not whenever views are read (the app's start-up).
    import tomlkit
    import tomlkit.exceptions
    from tomlkit.items import InlineTable, Table

    builtin = {v.name for v in BUILTIN_VIEWS}
    try:
        text = config_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ViewError(f"cannot read {config_file}: {exc}") from None
    try:
        current = parse_config(text, config_file)
        doc = tomlkit.parse(text)
    except (ConfigError, tomlkit.exceptions.TOMLKitError) as exc:
        raise ViewError(f"cannot save the view: fix {config_file} first: {exc}") from None
    if name in (current["views"] or {}) or name in builtin:
        raise ViewError(f"a view named {name!r} exists already; pick another name")
    views = doc.get("views")
    if views is None:
        views = tomlkit.table(is_super_table=True)
        doc.append("views", views)
    if isinstance(views, InlineTable) or not isinstance(views, Table):
        raise ViewError("[views] is written inline in config.toml; turn it into [views.NAME]")
    table = tomlkit.table()
    for key, value in view.to_table().items():
        table.append(key, value)
    views.append(name, table)
    new = tomlkit.dumps(doc)
    try:
        parse_config(new, config_file)
    except ConfigError as exc:
        raise ViewError(f"cannot save the view: {exc}") from None
    config_file.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(config_file, new.encode("utf-8"))
