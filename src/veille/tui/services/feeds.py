"""Feeds in the app: subscribing (a feed or page address, an OPML file in or
out), the feeds pane's rows and statuses, and every edit of a feed.

Thin over ``subscriptions.subscribe`` and the store so the welcome screen, the
``a`` key, the feeds pane and the command palette say the same things, and the
edits are those of `veille feed edit` / `feed restore`; every failure is one
line (FeedEditError).  No Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from veille.config import Config
from veille.domain.errors import VeilleError
from veille.domain.records import Feed
from veille.domain.text import natural_key
from veille.render.hygiene import clean_line
from veille.store.errors import StoreError
from veille.store.store import Store
from veille.util.atomicfile import write_atomic
from veille.util.dates import now, parse_iso, until
from veille.util.urls import is_safe_link

if TYPE_CHECKING:  # subscribing brings the HTTP client: imported when first used
    from veille.subscriptions.subscribe import AddResult

DEFAULT_EXPORT = "~/veille-subscriptions.opml"

__all__ = [
    "AddResult",
    "FeedEditError",
    "FeedStatus",
    "FeedsModel",
    "export_file",
    "feed_settings",
    "feed_status",
    "import_file",
    "is_file_answer",
    "parse_interval",
    "rename",
    "restore_last",
    "retag",
    "set_interval",
    "site_of",
    "subscribe",
    "toggle_full_text",
    "toggle_mute",
    "unsubscribe",
]


def is_file_answer(value: str) -> bool:
    """Whether what was typed in "Add a feed" names an OPML file rather than a URL."""
    return value.lower().endswith(".opml") or Path(value).expanduser().is_file()


async def subscribe(store: Store, config: Config, url: str, pick: int | None = None) -> AddResult:
    from veille.subscriptions.subscribe import add_subscription

    return await add_subscription(store, config, url, pick=pick)


def import_file(store: Store, raw: str) -> tuple[bool, str]:
    """Import every feed of an OPML file: (ok, one line to show)."""
    from veille.subscriptions.subscribe import OpmlError, import_opml

    path = Path(raw.strip()).expanduser()
    try:
        added, known, skipped = import_opml(store, path)
    except OpmlError as exc:
        return False, clean_line(str(exc))
    except OSError as exc:
        return False, f"cannot read {path}: {clean_line(exc.strerror or str(exc))}"
    line = f"Imported {added} feed(s), {known} already there"
    if skipped:
        line += f", {skipped} skipped (not feeds)"
    return True, line + "."


def export_file(store: Store, raw: str) -> tuple[bool, str]:
    """Write every feed to an OPML file (atomically): (ok, one line to show)."""
    from veille.subscriptions.subscribe import export_opml

    path = Path((raw or DEFAULT_EXPORT).strip()).expanduser()
    try:
        write_atomic(path, export_opml(store).encode("utf-8"))
    except OSError as exc:
        return False, f"cannot write {path}: {clean_line(exc.strerror or str(exc))}"
    return True, f"Exported {sum(f.kind == 'feed' for f in store.feeds())} feed(s) to {path}."


# ------------------------------------------------------------ the feeds pane
class FeedEditError(VeilleError):
    """A feed edit the app refuses (a bad interval, a title that is not text); one line."""


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A feed's state in one line, and its level for the pane's colours.

    ``level`` is one of ok | new | error | disabled | held: the pane colours the
    line by it; ``warning`` is the part of a poll that failed while the poll
    worked (two of 300 followed accounts unreadable)."""

    level: str
    text: str
    warning: str = ""


def feed_status(feed: Feed, ref: datetime | None = None) -> FeedStatus:
    """What the feeds pane says about a feed: disabled with why, held back until
    when, its last error, or ok with the next poll.  One line, cleaned."""
    ref = ref or now()
    warning = clean_line(feed.warning)
    if feed.disabled:
        return FeedStatus("disabled", f"disabled: {clean_line(feed.disabled)}", warning)
    hold = parse_iso(feed.retry_until)
    if hold is not None and hold > ref:
        why = f": {clean_line(feed.message)}" if feed.status == "error" and feed.message else ""
        return FeedStatus("held", f"held back, retry {until(hold, ref)}{why}", warning)
    if feed.status in ("error", "gone"):
        return FeedStatus("error", f"error: {clean_line(feed.message) or 'unknown'}", warning)
    if not feed.last_fetch:
        return FeedStatus("new", "not fetched yet", warning)
    nxt = parse_iso(feed.next_poll)
    when = f" · next poll {until(nxt, ref)}" if nxt is not None else ""
    return FeedStatus("ok", f"ok{when}", warning)


def feed_settings(feed: Feed) -> str:
    """The user's settings of a feed, for its detail line ("every 60 min · full text")."""
    parts = []
    if feed.interval:
        parts.append(f"every {feed.interval:g} min")
    if feed.full_text:
        parts.append("full text")
    if feed.muted:
        parts.append("muted")
    if feed.user_title:
        parts.append("your title")
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class TagRow:
    name: str
    feeds: int
    unread: int
    total: int


class FeedsModel:
    """The rows of the feeds pane: tags (with their feeds' counts), then feeds.

    Built for 50,000 feeds: the store's feed list is cached and sorted already,
    the lower-cased text the filter searches is made once per change of the
    feed list, and a row's status line is made only when it is drawn.  A row
    is ``("tag", name)`` or ``("feed", id)``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.feeds: dict[str, Feed] = {}
        self.order: list[Feed] = []
        self.tags: dict[str, TagRow] = {}
        self.counts: dict[str, tuple[int, int]] = {}
        self._haystack: list[str] = []

    def reload(self) -> None:
        """Read feeds and counts again (after a refresh, an edit, another process)."""
        order = self.store.feeds()
        # The store hands out its cached records: unchanged feeds compare by
        # identity, so this is cheap at 50,000 feeds.
        if order != self.order:
            self.order = order
            self.feeds = {f.id: f for f in order}
            self._haystack = [
                f"{f.name}\x1f{f.url}\x1f{' '.join(f.tags)}\x1f{f.kind}\x1f{f.account}".casefold()
                for f in order
            ]
        self.counts = self.store.counts()
        tags: dict[str, list[int]] = {}
        for f in self.order:
            if not f.tags:
                continue
            total, unread = self.counts.get(f.id, (0, 0))
            for t in f.tags:
                acc = tags.setdefault(t, [0, 0, 0])
                acc[0] += 1
                acc[1] += unread
                acc[2] += total
        self.tags = {
            t: TagRow(t, n, unread, total)
            for t, (n, unread, total) in sorted(tags.items(), key=lambda kv: natural_key(kv[0]))
        }

    def rows(self, query: str = "") -> list[tuple[str, str]]:
        """Tags first, then feeds (by name); only those whose name, URL, tags,
        kind or account contain ``query`` (any case)."""
        needle = query.strip().casefold()
        if not needle:
            return [("tag", t) for t in self.tags] + [("feed", f.id) for f in self.order]
        out = [("tag", t) for t in self.tags if needle in t.casefold()]
        out += [("feed", f.id) for f, hay in zip(self.order, self._haystack, strict=True)
                if needle in hay]  # fmt: skip
        return out

    def unread(self, feed_id: str) -> tuple[int, int]:
        """(unread, total) of a feed."""
        total, unread = self.counts.get(feed_id, (0, 0))
        return unread, total


# ---------------------------------------------------------------- feed edits
def parse_interval(text: str) -> float | None:
    """A refresh interval typed in the app (config.parse_minutes); FeedEditError
    says what is wrong."""
    from veille.config import ConfigError, parse_minutes

    try:
        return parse_minutes(text)
    except ConfigError as exc:
        raise FeedEditError(str(exc)) from None


def _check_text(what: str, value: str) -> None:
    from veille.subscriptions.subscribe import text_problem

    problem = text_problem(value if what == "title" else "", [value] if what == "tag" else [])
    if problem:
        raise FeedEditError(problem)


def rename(store: Store, feed_id: str, title: str) -> str:
    """Your own title for the feed; empty gives back the feed's own at the next poll
    (its validators are dropped: a 304 would never bring it).  One line to show."""
    _check_text("title", title)
    title = clean_line(title).strip()
    changes: dict[str, Any] = {"title": title, "user_title": bool(title)}
    if not title:
        changes.update(etag=None, last_modified=None, body_hash=None)
    feed = _update(store, feed_id, changes)
    if title:
        return f"Renamed to “{title}”."
    return f"{clean_line(feed.url)}: the feed's own title from the next poll."


def retag(store: Store, feed_id: str, text: str) -> str:
    """Set the feed's tags from "a, b, c" (cleaned, sorted, no duplicates)."""
    tags = sorted({t for t in (clean_line(x).strip() for x in text.split(",")) if t})
    for t in tags:
        _check_text("tag", t)
    feed = _update(store, feed_id, {"tags": tuple(tags)})
    name = clean_line(feed.name)
    return f"{name}: tags {', '.join(tags)}." if tags else f"{name}: no tags."


def set_interval(store: Store, feed_id: str, text: str) -> str:
    minutes = parse_interval(text)
    feed = _update(store, feed_id, {"interval": minutes})
    name = clean_line(feed.name)
    if minutes is None:
        return f"{name}: polled as the config says."
    return f"{name}: polled every {minutes:g} minutes."


def toggle_full_text(store: Store, feed_id: str) -> str:
    feed = _feed(store, feed_id)
    feed = _update(store, feed_id, {"full_text": not feed.full_text})
    name = clean_line(feed.name)
    if feed.full_text:
        return f"{name}: the full article is fetched for each item shown."
    return f"{name}: the feed's own text is shown."


def toggle_mute(store: Store, feed_id: str) -> str:
    feed = _feed(store, feed_id)
    feed = _update(store, feed_id, {"muted": not feed.muted})
    name = clean_line(feed.name)
    if feed.muted:
        return f"{name}: muted (still polled; its items are out of views and counts)."
    return f"{name}: unmuted, its items are back."


def unsubscribe(store: Store, feed_id: str) -> str:
    """Unsubscribe; starred and shared items stay, and the store keeps the rest
    REMOVED_KEEP_DAYS for :func:`restore_last` (also after a restart)."""
    feed = _feed(store, feed_id)
    try:
        dropped = store.remove_feed(feed_id)
    except StoreError as exc:
        raise FeedEditError(clean_line(str(exc))) from None
    return (
        f"Unsubscribed from {clean_line(feed.name)} ({dropped} items dropped; "
        "starred and shared kept) — u subscribes again."
    )


def restore_last(store: Store) -> tuple[str | None, str]:
    """Subscribe again to the feed removed last: (its id or None, one line)."""
    removed = store.removed_feeds()
    if not removed:
        return None, "No unsubscribed feed to bring back (they are kept 30 days)."
    feed = removed[0][0]
    try:
        restored, n = store.restore_feed(feed.id)
    except StoreError as exc:
        return None, f"Not restored: {clean_line(str(exc))}"
    return restored.id, f"Subscribed again to {clean_line(restored.name)} with {n} items."


def site_of(feed: Feed) -> str:
    """The page to open for a feed: its site, else the feed URL's origin (http only)."""
    if feed.site_url and is_safe_link(feed.site_url):
        return feed.site_url
    if feed.kind == "feed" and is_safe_link(feed.url):
        parts = urlsplit(feed.url)
        return f"{parts.scheme}://{parts.netloc}/"
    return ""


def _feed(store: Store, feed_id: str) -> Feed:
    feed = store.get_feed(feed_id)
    if feed is None:
        raise FeedEditError("that feed is gone (removed meanwhile)")
    return feed


def _update(store: Store, feed_id: str, changes: dict[str, Any]) -> Feed:
    _feed(store, feed_id)
    try:
        return store.update_feed(feed_id, **changes)
    except StoreError as exc:
        raise FeedEditError(clean_line(str(exc))) from None
