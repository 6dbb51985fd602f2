"""Subscribing: add (with feed discovery), remove, OPML import and export.

Shared by the CLI and the TUI's welcome screen; no Textual here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from veille.config import Config
from veille.domain.records import Feed
from veille.refresh.runner import fetcher_for
from veille.sources.feed.discover import FeedCandidate, Getter, discover
from veille.store.store import Store
from veille.subscriptions.opml import (
    OpmlError,
    OutlineFeed,
    SkippedOutline,
    read_opml,
    write_opml,
)
from veille.util.urls import http_url, shown

__all__ = ["AddResult", "OpmlError", "add_subscription", "export_opml", "import_opml"]


@dataclass
class AddResult:
    feed: Feed | None
    created: bool
    candidates: list[FeedCandidate] = field(default_factory=list)
    message: str = ""
    ok: bool = True


def normalize_url(url: str) -> str:
    """Accept "example.com/feed" as https://example.com/feed; refuse anything that is not
    a usable http(s) URL with :class:`veille.util.urls.UrlError` (a ValueError) whose
    message is one line naming the value."""
    return http_url(url)


def text_problem(title: str, tags: Iterable[str]) -> str | None:
    """Why a title or tag from the command line cannot be stored, or None.

    An argument whose bytes were not UTF-8 arrives with lone surrogates; the store's JSON
    cannot hold them, and its next save would fail and lose every change with it.
    """
    for what, value in (("title", title), *(("tag", t) for t in tags)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{what} {shown(value)} is not valid UTF-8 text"
    return None


async def add_subscription(
    store: Store,
    config: Config,
    url: str,
    *,
    title: str = "",
    tags: list[str] | tuple[str, ...] = (),
    pick: int | None = None,
) -> AddResult:
    """Subscribe to ``url``, a feed or a web page that declares (or hides) feeds."""
    try:
        url = normalize_url(url)
    except ValueError as exc:
        return AddResult(None, False, message=str(exc), ok=False)
    if problem := text_problem(title, tags):
        return AddResult(None, False, message=problem, ok=False)
    known = store.find_feed(url)
    if known is not None:
        return _update_known(store, known, title, tags)

    async with fetcher_for(config) as fetcher:

        async def get(u: str) -> tuple[int | None, str, bytes | None, str]:
            res = await fetcher.get_page(u)
            if res.error and res.status is None:
                return None, res.error, None, res.final_url or u
            return res.status, res.content_type, res.body, res.final_url or u

        found = await discover(url, get)
        index = (pick or 1) - 1
        chosen_one = pick is not None or len(found.candidates) == 1
        if found.kind == "page" and chosen_one and 0 <= index < len(found.candidates):
            problem = await _check_candidate(found.candidates, index, get)
            if problem:
                return AddResult(None, False, message=problem, ok=False)
    if found.kind == "error":
        return AddResult(None, False, message=found.error, ok=False)
    cands = found.candidates
    if not cands:
        return AddResult(None, False, message=f"no feed found at {url}", ok=False)
    if len(cands) > 1 and pick is None:
        return AddResult(
            None,
            False,
            cands,
            f"{len(cands)} feeds found at {url}: choose one with --pick N",
            ok=False,
        )
    index = (pick or 1) - 1
    if not 0 <= index < len(cands):
        return AddResult(None, False, cands, f"--pick must be between 1 and {len(cands)}", ok=False)
    chosen = cands[index]
    known = store.find_feed(chosen.url)
    if known is not None:
        return _update_known(store, known, title, tags)
    feed, created = store.add_feed(
        chosen.url,
        title=title or "",
        tags=list(tags),
        site_url=found.url if found.kind == "page" else "",
    )
    if not title and chosen.title:
        feed = store.update_feed(feed.id, title=chosen.title)
    return AddResult(feed, created, cands, f"subscribed to {chosen.url}")


async def _check_candidate(cands: list[FeedCandidate], index: int, get: Getter) -> str:
    """Fetch the feed a page pointed to, as `veille add FEED` would: a page may link
    to a feed that is gone, and both must refuse it with the same line.  Returns
    the problem, or "" (and the candidate then holds the feed's final URL)."""
    picked = cands[index]
    checked = await discover(picked.url, get)
    if checked.kind == "error":
        return checked.error
    if checked.kind != "feed":
        return f"no feed at {picked.url}: it is a web page"
    real = checked.candidates[0]
    cands[index] = FeedCandidate(real.url, picked.title or real.title, real.type)
    return ""


def _update_known(
    store: Store, known: Feed, title: str, tags: list[str] | tuple[str, ...]
) -> AddResult:
    """`veille add` of a feed already there: apply the title and tags it was given
    (adding is how most people expect to retag a feed), and say what changed."""
    changes: dict[str, object] = {}
    said: list[str] = []
    if title and (title != known.title or not known.user_title):
        changes.update(title=title, user_title=True)
        said.append(f"title set to {shown(title)}")
    new_tags = [t for t in dict.fromkeys(tags) if t and t not in known.tags]
    if new_tags:
        changes["tags"] = tuple(sorted({*known.tags, *new_tags}))
        said.append("tagged " + ", ".join(new_tags))
    if not changes:
        return AddResult(known, False, message=f"already subscribed: {known.url}")
    feed = store.update_feed(known.id, **changes)
    return AddResult(feed, False, message=f"already subscribed: {known.url}; " + "; ".join(said))


def import_opml(store: Store, path: Path) -> tuple[int, int, list[SkippedOutline]]:
    """Import all feeds of an OPML file, or none: (added, already there, skipped).

    The whole file is parsed and checked before anything is written; outlines whose URL
    cannot be polled are skipped, each with the one-line reason, for the user to see.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise OpmlError(f"cannot read {path}: {exc.strerror or exc}") from None
    doc = read_opml(data)
    added, known = store.add_feeds(
        (f.url, f.title, f.tags, f.site_url, f.folder) for f in doc.feeds
    )
    return added, known, doc.skipped


def export_opml(store: Store) -> str:
    return write_opml(
        OutlineFeed(
            url=f.url, title=f.title, site_url=f.site_url, tags=list(f.tags), folder=list(f.folder)
        )
        for f in store.feeds()
        if f.kind == "feed"
    )
