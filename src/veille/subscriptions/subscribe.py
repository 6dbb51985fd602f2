"""Subscribing: add (with feed discovery), remove, OPML import and export.

Shared by the CLI and the TUI's welcome screen; no Textual here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veille.config import Config
from veille.domain.errors import VeilleError
from veille.domain.records import Feed
from veille.net.fetcher import Fetcher
from veille.refresh.runner import fetcher_for
from veille.sources.feed.discover import FeedCandidate, Getter, discover
from veille.sources.names import (
    Resolved,
    SourceName,
    SourceNameError,
    looks_like_source_name,
    parse_source_name,
    resolve_url,
)
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


KIND_NAMES = {"mastodon": "Mastodon", "bluesky": "Bluesky"}
ADD_ACCOUNT = {
    "mastodon": "veille account add mastodon INSTANCE",
    "bluesky": "veille account add bluesky HANDLE",
}


async def add_subscription(
    store: Store,
    config: Config,
    url: str,
    *,
    title: str = "",
    tags: list[str] | tuple[str, ...] = (),
    pick: int | None = None,
    account: str | None = None,
    accounts: Mapping[str, Any] | None = None,
) -> AddResult:
    """Subscribe to ``url``: a feed, a web page that declares (or hides) feeds, a
    social source name (``mastodon:home``, ``bluesky:@alice.bsky.social``...), or
    the address of a profile, channel, repository or forum that
    ``sources.names.resolve_url`` knows how to follow.

    ``account`` names the account a social source reads through; left out, the
    only account of that kind is used (and the message says so).  ``accounts``:
    config.toml's, read when needed if not given.
    """
    if problem := text_problem(title, tags):
        return AddResult(None, False, message=problem, ok=False)
    text = url.strip()
    try:
        if looks_like_source_name(text):
            name = parse_source_name(text)
            return _add_social(store, config, name, title, tags, account, accounts)
        if text.startswith("@") and text.count("@") == 2:  # @user@instance
            resolved = await resolve_url(text)
            if resolved is not None:
                return _add_resolved(store, config, resolved, title, tags, account, accounts)
    except SourceNameError as exc:
        return AddResult(None, False, message=str(exc), ok=False)
    if account:
        return AddResult(
            None,
            False,
            message="--account is for social sources (mastodon:..., bluesky:...)",
            ok=False,
        )
    try:
        url = normalize_url(text)
    except ValueError as exc:
        return AddResult(None, False, message=str(exc), ok=False)
    known = store.find_feed(url)
    if known is not None:
        return _update_known(store, known, title, tags)

    async with fetcher_for(config) as fetcher:
        get = _getter(fetcher)
        try:
            resolved = await resolve_url(url, get)
        except SourceNameError as exc:
            return AddResult(None, False, message=str(exc), ok=False)
        if resolved is not None:
            return _add_resolved(store, config, resolved, title, tags, None, accounts)
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


def _getter(fetcher: Fetcher) -> Any:
    """``get(url) -> (status, content type, body, final URL)`` over the polite fetcher,
    the shape both discovery and ``resolve_url`` take."""

    async def get(u: str) -> tuple[int | None, str, bytes | None, str]:
        res = await fetcher.get_page(u)
        if res.error and res.status is None:
            return None, res.error, None, res.final_url or u
        return res.status, res.content_type, res.body, res.final_url or u

    return get


def _add_resolved(
    store: Store,
    config: Config,
    resolved: Resolved,
    title: str,
    tags: Iterable[str],
    account: str | None,
    accounts: Mapping[str, Any] | None,
) -> AddResult:
    """Subscribe to what a pasted address stands for, saying what it is."""
    if resolved.kind != "feed":
        res = _add_social(
            store, config, parse_source_name(resolved.url), title, tags, account, accounts
        )
        if res.ok and res.created:
            res.message += f". {resolved.note}"
        return res
    known = store.find_feed(resolved.url)
    if known is not None:
        return _update_known(store, known, title, list(tags))
    feed, created = store.add_feed(resolved.url, title=title, tags=list(tags))
    message = f"subscribed to {resolved.url}: {resolved.note}"
    if resolved.alternatives:
        others = "; ".join(f"{what}: {u}" for u, what in resolved.alternatives)
        message += f" (also possible: {others})"
    return AddResult(feed, created, message=message)


def _add_social(
    store: Store,
    config: Config,
    name: SourceName,
    title: str,
    tags: Iterable[str],
    account: str | None,
    accounts: Mapping[str, Any] | None,
) -> AddResult:
    """Subscribe to a Mastodon or Bluesky source, through the account it needs."""
    spelled = str(name)
    chosen, note = "", ""
    if account or name.needs_account:
        if accounts is None:
            try:
                accounts = _accounts(store, config)
            except VeilleError as exc:
                return AddResult(None, False, message=f"{spelled}: {exc}", ok=False)
        found = _account_for(name, account, accounts)
        if isinstance(found, str):
            return AddResult(None, False, message=found, ok=False)
        chosen, defaulted = found
        if defaulted:
            what = KIND_NAMES[name.kind]
            note = f" through '{chosen}' (your only {what} account)"
        elif chosen:
            note = f" through '{chosen}'"
    known = store.find_feed(spelled)
    if known is not None:
        through = f" (through '{known.account}')" if known.account else ""
        message = f"already subscribed: {known.url}{through}"
        if chosen and known.account and known.account != chosen:
            message += (
                f"; one subscription per source name: remove it first to read it through '{chosen}'"
            )
            return AddResult(known, False, message=message, ok=False)
        return AddResult(known, False, message=message)
    feed, created = store.add_feed(
        spelled, kind=name.kind, title=title, tags=list(tags), account=chosen
    )
    return AddResult(feed, created, message=f"subscribed to {spelled}{note}")


def _accounts(store: Store, config: Config) -> Mapping[str, Any]:
    from veille.accounts.config import fresh_config, load_accounts

    return load_accounts(fresh_config(config), Path(store.root).parent)


def _account_for(
    name: SourceName, wanted: str | None, accounts: Mapping[str, Any]
) -> tuple[str, bool] | str:
    """(account name, whether it was chosen for the user), or the one-line reason
    there is none."""
    what = KIND_NAMES[name.kind]
    mine = sorted(n for n, a in accounts.items() if getattr(a, "type", "") == name.kind)
    if wanted:
        account = accounts.get(wanted)
        if account is None:
            known = f" (your {what} accounts: {', '.join(mine)})" if mine else ""
            return f"no account named '{wanted}'{known}: see `veille account list`"
        if getattr(account, "type", "") != name.kind:
            kind = getattr(account, "type", "")
            return f"'{wanted}' is a {kind} account: {name} reads through a {what} account"
        return wanted, False
    if not mine:
        return (
            f"{name} needs a {what} account: add one with `{ADD_ACCOUNT[name.kind]}`, "
            "then add the source again"
        )
    if len(mine) > 1:
        return f"several {what} accounts ({', '.join(mine)}): say which with --account NAME"
    return mine[0], True


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
