"""What the Mastodon and Bluesky sources share: turning a post's text into an
entry's title and summary, link hygiene, the HTTP client a poll uses, and the
one-line failures a poll returns instead of raising.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager

import httpx

from veille import USER_AGENT
from veille.domain.entries import ParsedEntry
from veille.domain.errors import VeilleError
from veille.domain.links import strip_tracking
from veille.domain.text import title_words
from veille.net.httputil import shared_ssl_context
from veille.render.hygiene import clean_line
from veille.sources.base import PollContext, PollResult
from veille.util.dates import iso, parse_iso
from veille.util.urls import is_safe_link

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(20.0, connect=10.0)
SUMMARY_MAX = 600


class StopPoll(VeilleError):
    """Ends a poll early with a prepared result (its error already worded for the user)."""

    def __init__(self, result: PollResult) -> None:
        super().__init__(result.error)
        self.result = result


def title_of(text: str) -> str:
    """A title for a post without a link: its first words, on one line."""
    return title_words(clean_line(text))


def summary_of(text: str) -> str:
    return clean_line(text, limit=SUMMARY_MAX)


def iso_time(value: object) -> str | None:
    """An API's timestamp as veille stores them ("2026-11-27T10:00:00Z"), or None."""
    return iso(parse_iso(value)) if isinstance(value, str) else None


def web_link(url: object) -> str:
    """An http(s) link fit to keep (tracking parameters out), else ""."""
    if not isinstance(url, str):
        return ""
    url = clean_line(url)
    return strip_tracking(url) if is_safe_link(url) else ""


def matches(sent: Collection[str], *candidates: object) -> str:
    """The first candidate that is one of your sent posts' ids/URIs/URLs, else ""."""
    if not sent:
        return ""
    for value in candidates:
        if isinstance(value, str | int) and str(value) and str(value) in sent:
            return str(value)
    return ""


def social_client() -> httpx.AsyncClient:
    """An HTTP client for social APIs: what a refresh shares among its polls
    (``PollContext.http``), and what a poll opens for itself without one."""
    return httpx.AsyncClient(
        timeout=TIMEOUT,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        verify=shared_ssl_context(),
    )


@asynccontextmanager
async def http_client(ctx: PollContext) -> AsyncIterator[httpx.AsyncClient]:
    """The refresh's shared client when there is one, else one for this poll."""
    if ctx.http is not None:
        yield ctx.http
        return
    async with social_client() as own:
        yield own


async def resolve_short_links(entries: Iterable[ParsedEntry], ctx: PollContext) -> None:
    """Replace short links (bit.ly...) by their targets, when a resolver is given."""
    resolver = ctx.shortlinks
    if resolver is None:
        return
    todo = [e for e in entries if e.kind != "reply" and resolver.is_short(e.link)]
    if not todo:
        return
    targets = await resolver.resolve_many(e.link for e in todo)
    for entry in todo:
        target = targets.get(entry.link)
        if target and target != entry.link:
            entry.link = strip_tracking(target)


def failure(
    message: str,
    kind: str,
    *,
    status: str = "error",
    http_status: int | None = None,
    retry_after: float | None = None,
) -> PollResult:
    """A poll that brought nothing back, with one clean line saying why."""
    return PollResult(
        status=status,
        error=clean_line(message)[:300],
        error_kind=kind,
        http_status=http_status,
        retry_after=retry_after,
    )


def relogin(kind: str, account: str, target: str) -> str:
    """How to log in again, as ``veille account`` spells it."""
    return (
        f"log in again: `veille account remove {account}` then "
        f"`veille account add {kind} {target} --name {account}`"
    )


def describe_network(message: str) -> str:
    """error_kind for a client's network failure message."""
    return "timeout" if "timed out" in message else "connect"
