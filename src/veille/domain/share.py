"""A share (an item reshared with the curator's comment) and its deliveries.

Plain data, JSON-safe, so the outbox can keep it in TinyDB and the network
clients, the Atom writer and the digest all read the same record.  No I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# The kinds of destination are the share registry's (veille.share.destinations.REGISTRY):
# a delivery only records which one it went through.
STATUSES = ("queued", "sending", "sent", "failed")


def idempotency_key(share_id: str, destination: str) -> str:
    """Stable key per (share, destination).

    Hashed so it is short, opaque and safe in an HTTP header whatever the
    destination name holds; Mastodon keeps it an hour, so a retry after a
    timeout cannot post twice.
    """
    raw = f"veille-{share_id}-{destination}".encode()
    return "veille-" + hashlib.sha256(raw).hexdigest()[:32]


@dataclass
class Delivery:
    """One destination of one share."""

    destination: str  # account/target name from config, e.g. "mastodon.social", "atom"
    kind: str  # the destination's kind: "mastodon", "bluesky", "micropub", "atom", "command"
    status: str = "queued"  # one of STATUSES
    text: str = ""  # final text as posted
    url: str | None = None  # the created post's URL
    remote_id: str | None = None
    error: str | None = None  # why it failed, as the destination said (never overwritten
    # by veille's own remarks: those go in `notice`)
    notice: str | None = None  # veille's remark, e.g. "the destination is gone"
    attempts: int = 0
    next_try: str | None = None  # ISO UTC
    idempotency_key: str = ""
    sent_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Delivery:
        """Build from stored JSON, ignoring keys a newer version may have added."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


#: How a share relates to a post of someone you follow: it credits them ("via
#: @alice@instance", any destination), replies to their post or quotes it.
ANSWERS = ("credit", "reply", "quote")
#: The networks a post can live on (the kind of social source it came through).
NETWORKS = ("mastodon", "bluesky")


@dataclass(frozen=True)
class PostRef:
    """A post someone you follow made about the item: the one a share credits,
    replies to or quotes.

    Taken from the item's sighting when the share is made, so the share alone
    says what it answered (the outbox sends it without the store's help).
    ``uri`` names the post in its network: a Mastodon status URI, a Bluesky
    at:// URI; "" for a repost, whose own id names the repost, not the post:
    the destination finds the post from ``url`` then.
    """

    network: str  # one of NETWORKS
    url: str  # the post's web address
    uri: str = ""
    handle: str = ""  # its author: @user@instance, @handle.bsky.social
    author: str = ""  # display name
    sharer: str = ""  # who shared it with you: the author, or who reposted it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> PostRef | None:
        """Build from stored JSON (None when it is not a post reference)."""
        if isinstance(d, PostRef):
            return d
        if not isinstance(d, dict):
            return None
        known = {f.name for f in fields(cls)}
        kw = {k: str(v) for k, v in d.items() if k in known and isinstance(v, str)}
        if not kw.get("url") or kw.get("network") not in NETWORKS:
            return None
        return cls(**kw)


#: Kinds of response to a share, as sources report them (sources.base.Response.kind).
RESPONSE_KINDS = ("reply", "like", "repost", "quote")


@dataclass
class ShareResponse:
    """Someone answering one of your posted shares: a reply, a like, a repost, a quote.

    Kept on the share itself (not as items) because it is feedback about what you
    posted: the shares list counts them, ``veille shares --json`` lists them.  A
    reply is *also* an item in the stream, stored by the refresh like any post.
    """

    kind: str  # one of RESPONSE_KINDS
    key: str  # its identity, so a response seen in two polls is attached once
    destination: str = ""  # the delivery (account name) whose post it answered
    target: str = ""  # the remote id/URI/URL of that post
    author: str = ""
    handle: str = ""
    text: str = ""
    url: str = ""
    at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShareResponse:
        """Build from stored JSON, ignoring keys a newer version may have added."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class Share:
    """An item reshared with a comment, and where it goes."""

    id: str
    item_id: str
    comment: str
    created: str  # ISO 8601 UTC
    title: str = ""
    link: str = ""
    source: str = ""  # feed title or "@handle"
    source_url: str = ""  # feed URL (or profile URL)
    source_site: str = ""  # the source's website (a feed's site_url): what "via" links to
    author: str = ""
    published: str | None = None
    via: str = ""  # "via @handle" for social items, else "via <feed or author>"
    hashtags: list[str] = field(default_factory=list)
    language: str | None = None
    content_warning: str = ""
    visibility: str = "public"
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    # What came back: replies, likes, reposts, quotes of the posted deliveries.
    responses: list[ShareResponse] = field(default_factory=list)
    # A reply to, or a quote of, someone's post (``post``); "" for a plain share
    # (which may still credit them: ``via``).
    answer: str = ""  # "" | "reply" | "quote"
    post: PostRef | None = None

    def add_delivery(self, destination: str, kind: str) -> Delivery:
        """Add (or return the existing) delivery with its idempotency key set."""
        if destination not in self.deliveries:
            self.deliveries[destination] = Delivery(
                destination=destination,
                kind=kind,
                idempotency_key=idempotency_key(self.id, destination),
            )
        return self.deliveries[destination]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hashtags"] = list(self.hashtags)
        d["deliveries"] = {k: v.to_dict() for k, v in self.deliveries.items()}
        d["responses"] = [r.to_dict() for r in self.responses]
        d["post"] = self.post.to_dict() if self.post is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Share:
        """Build from stored JSON, ignoring keys a newer version may have added."""
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["hashtags"] = list(kw.get("hashtags") or [])
        kw["deliveries"] = {
            k: v if isinstance(v, Delivery) else Delivery.from_dict(v)
            for k, v in (kw.get("deliveries") or {}).items()
        }
        kw["responses"] = [
            r if isinstance(r, ShareResponse) else ShareResponse.from_dict(r)
            for r in kw.get("responses") or ()
            if isinstance(r, ShareResponse | dict)
        ]
        kw["post"] = PostRef.from_dict(kw.get("post"))
        if kw.get("answer") not in ("reply", "quote") or kw["post"] is None:
            kw["answer"] = ""
        return cls(**kw)


@dataclass(frozen=True, slots=True)
class SentPost:
    """One delivery that reached its server, and what names the post there."""

    share_id: str
    destination: str  # the account name it went through
    kind: str  # the destination's kind (Delivery.kind)
    remote_id: str  # the server's id for the post (a status id, an at:// URI)
    url: str  # its web address


def sent_posts(shares: Iterable[Share]) -> list[SentPost]:
    """Every sent delivery of ``shares`` that a server gave an id or URL for.

    What the refresh matches replies, likes, reposts and quotes against: a
    response names the post it answers by one of these."""
    posts = []
    for share in shares:
        for d in share.deliveries.values():
            if d.status == "sent" and (d.remote_id or d.url):
                posts.append(
                    SentPost(share.id, d.destination, d.kind, d.remote_id or "", d.url or "")
                )
    return posts
