"""What every destination is to the outbox: the Destination protocol and its parts.

The outbox knows nothing of Mastodon, Bluesky or files: it asks a destination
whether a text fits (``check``), whether a send cut short by a crash may be
sent again without posting twice (``retry_safe``), and to ``send``.  Every
failure is a ``RemoteError`` (``permanent`` or not, with ``retry_after``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from veille.accounts.config import Account
from veille.accounts.secrets import SecretStore
from veille.clients import length
from veille.clients.errors import RemoteError
from veille.clients.length import BlueskyLimits, LengthCheck, MastodonLimits
from veille.config import Config
from veille.domain.records import Item
from veille.domain.share import Delivery, Share

Limits = MastodonLimits | BlueskyLimits


NETWORK_NAMES = {"mastodon": "Mastodon", "bluesky": "Bluesky"}


@dataclass(frozen=True)
class AnswerPlan:
    """How one destination posts a share that replies to or quotes a post.

    ``ok``: it can (a reply goes only to the network the post lives on);
    ``native``: a real reply or quote, else the post is linked in the text;
    ``note``: one line for the composer's preview (and the reason when not ok).
    """

    ok: bool = True
    native: bool = True
    note: str = ""


@dataclass(frozen=True)
class SendResult:
    """Where the post now is (``url``) and the server's id for it."""

    url: str | None
    remote_id: str | None = None


class ShareStore(Protocol):
    """What destinations read from the store: the item (a link card), every share (a feed)."""

    def get_item(self, iid: str) -> Item | None: ...

    def shares(self) -> list[Share]: ...


def _keep(text: str | None) -> str:
    return text or ""


@dataclass
class SendContext:
    """What a send may need besides the delivery: secrets, config, the store.

    ``redact`` takes this account's secrets out of a text; the outbox builds it
    and applies it to every error, and a destination that writes its own
    messages from server text uses it too.
    """

    secrets: SecretStore
    config: Config
    store: ShareStore | None = None
    redact: Callable[[str | None], str] = field(default=_keep)


@runtime_checkable
class Destination(Protocol):
    """One place shares go, built from one account."""

    kind: ClassVar[str]
    #: Can a send interrupted mid-way (a crash, a lost answer) be sent again without
    #: a second post?  False: the outbox fails it with a note to check by hand.
    retry_safe: ClassVar[bool]
    account: Account

    def limits(self) -> Limits | None:
        """The length limits known without a network call (None: no limit)."""
        ...

    def check(self, text: str, *, content_warning: str = "") -> LengthCheck:
        """How long ``text`` is here, and whether it fits."""
        ...

    def answer(self, share: Share) -> AnswerPlan:
        """Whether and how ``share`` (a reply or a quote) can be posted here."""
        ...

    async def send(self, delivery: Delivery, share: Share, ctx: SendContext) -> SendResult:
        """Post ``delivery.text`` of ``share``; raises RemoteError."""
        ...


class BaseDestination:
    """Defaults for destinations without limits: a plain count, everything fits; a
    kind no module handles fails every send, saying so."""

    kind: ClassVar[str] = ""
    retry_safe: ClassVar[bool] = False

    def __init__(self, account: Account, *, cache_dir: Path | None = None) -> None:
        self.account = account
        self.cache_dir = cache_dir

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.account.name!r})"

    def limits(self) -> Limits | None:
        return None

    def check(self, text: str, *, content_warning: str = "") -> LengthCheck:
        del content_warning
        return length.check(text, "other")

    def answer(self, share: Share) -> AnswerPlan:
        """No network of posts here: a reply cannot go out, a quote is a link."""
        post = share.post
        if not share.answer or post is None:
            return AnswerPlan()
        where = NETWORK_NAMES.get(post.network, post.network)
        if share.answer == "reply":
            return AnswerPlan(
                ok=False, native=False, note=f"a reply goes to {where} only (the post is there)"
            )
        return AnswerPlan(native=False, note="quotes the post as a link to it")

    async def send(self, delivery: Delivery, share: Share, ctx: SendContext) -> SendResult:
        raise RemoteError(
            f"veille cannot send to a {self.account.type!r} destination", permanent=True
        )

    def secret(self, ctx: SendContext, key: str) -> str:
        """One of the account's secrets, or a permanent error that says how to fix it."""
        value = ctx.secrets.get(self.account.secret(key))
        if not value:
            name = self.account.name
            raise RemoteError(
                f"no {key.replace('_', ' ')} saved for '{name}': "
                f"run `veille account remove {name}` then `veille account add` again",
                permanent=True,
            )
        return value
