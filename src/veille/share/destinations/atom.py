"""Your own Atom feed of shares (built in as ``atom``): a file rewritten on each send.

Retry-safe: writing the file again gives the same feed.  With ``share.atom_url``
set (where you publish the file), that URL is the feed's id and ``rel="self"``
link and the delivery's URL; without it, the file's own ``file://`` URI.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from veille.accounts.config import ATOM, Account
from veille.clients.errors import RemoteError
from veille.config import Config
from veille.domain.share import Delivery, Share
from veille.share.atomfeed import write_atom
from veille.share.destinations.base import BaseDestination, SendContext, SendResult, ShareStore


def atom_shares(shares: list[Share]) -> list[Share]:
    """Shares that go to the Atom feed and have not failed there."""
    out = []
    for share in shares:
        d = share.deliveries.get(ATOM)
        if d is not None and d.status != "failed":
            out.append(share)
    return out


def feed_url(account: Account) -> str:
    """The feed's public URL when configured, else its file's URI."""
    return account.url or Path(account.path).resolve().as_uri()


def regenerate_atom(store: ShareStore, config: Config, account: Account) -> Path:
    """Write the feed of every share sent (or on its way) to ``atom``."""
    path = Path(account.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atom(
        path,
        atom_shares(store.shares()),
        title=config["share.atom_title"],
        author=config["share.author"],
        feed_id=feed_url(account),
        self_url=account.url or None,
    )
    return path


class AtomDestination(BaseDestination):
    kind: ClassVar[str] = ATOM
    retry_safe: ClassVar[bool] = True

    async def send(self, delivery: Delivery, share: Share, ctx: SendContext) -> SendResult:
        if ctx.store is None:
            raise RemoteError("the Atom feed needs the store", permanent=True)
        try:
            regenerate_atom(ctx.store, ctx.config, self.account)
        except OSError as exc:
            raise RemoteError(
                f"cannot write {self.account.path}: {exc.strerror or exc}", permanent=False
            ) from None
        return SendResult(feed_url(self.account))
