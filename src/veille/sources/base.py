"""The Source protocol: what every kind of source (RSS/Atom/JSON feed, Mastodon
timeline, Bluesky repositories) offers the refresh layer.

A source only *polls*: it talks to the network and hands back a PollResult.
It never touches the store and decides nothing about the feed's state; that is
``refresh.decide``'s job, so the same rules (back-off, validators, what counts
as updated) apply to every kind.  Adding a kind of source means one module here
that implements ``poll`` and one line in ``sources.registry``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.domain.records import Feed

if TYPE_CHECKING:
    import httpx

    from veille.net.fetcher import Fetcher
    from veille.net.shorteners import ShortLinks

#: Every value ``PollResult.status`` can take.
POLL_STATUSES = ("ok", "not_modified", "unchanged", "error", "gone", "throttled")


@dataclass(frozen=True, slots=True)
class Response:
    """Someone answering one of your shares: a reply, a like, a repost, a quote."""

    kind: str  # reply | like | repost | quote
    target: str  # the remote id/URI/URL of your post they answered
    author: str = ""
    handle: str = ""
    text: str = ""
    url: str = ""
    at: str | None = None
    key: str = ""  # its own identity, so a response is attached once


@dataclass
class PollResult:
    """What one poll of one source brought back, and the hints it got from the server."""

    status: str = "ok"  # one of POLL_STATUSES
    entries: list[ParsedEntry] = field(default_factory=list)
    title: str = ""  # the source's own title, when it says one
    site_url: str = ""
    error: str = ""  # one line, free of control characters
    error_kind: str = ""  # fetcher's ERROR_KINDS, or "auth", "parse", "not_found"
    # HTTP validators and hints (feeds)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    http_status: int | None = None
    retry_after: float | None = None  # seconds
    max_age: float | None = None  # seconds
    ttl_minutes: int | None = None
    moved_to: str | None = None  # permanent redirect target
    bozo_reason: str = ""  # recovered from a malformed document
    # position in a timeline (social sources); None: unchanged
    cursor: Mapping[str, Any] | None = None
    more: bool = False  # a backlog was capped: the rest comes with the next poll
    responses: list[Response] = field(default_factory=list)
    # One line about parts that failed while the poll as a whole worked (two of 300
    # followed accounts could not be read); "" when all went well.
    warning: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("error", "gone", "throttled")


ParseFn = Callable[[bytes, str, dict[str, str]], Awaitable[ParsedFeed]]


@dataclass
class PollContext:
    """What a poll may use: the polite fetcher, the parser pool, accounts, secrets."""

    fetcher: Fetcher
    parse: ParseFn
    config: Any  # veille.config.Config
    accounts: Mapping[str, Any] = field(default_factory=dict)  # name -> accounts.config.Account
    secrets: Any = None  # accounts.secrets.SecretStore
    # Your own posts as the outbox recorded them (remote ids, at:// URIs, web URLs):
    # replies, likes, reposts and quotes of these come back as PollResult.responses.
    sent: Collection[str] = frozenset()
    # Short links (bit.ly...) in posts are resolved through this, when given.
    shortlinks: ShortLinks | None = None
    # An HTTP client for social APIs, shared by the polls of one refresh (keep-alive);
    # None: each poll opens its own.
    http: httpx.AsyncClient | None = None


class Source(Protocol):
    """A kind of source.  ``poll`` must not raise for network or server trouble:
    it returns a PollResult whose ``error`` is one line for ``veille feeds``."""

    kind: ClassVar[str]

    async def poll(self, feed: Feed, ctx: PollContext) -> PollResult: ...
