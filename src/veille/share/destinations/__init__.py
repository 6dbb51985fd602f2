"""Where shares go: one module per kind of destination, and the registry of them.

The outbox only knows the ``Destination`` protocol (``veille.share.destinations.base``).
Adding a kind of destination is one module here plus one line in ``REGISTRY``
(and, if it is configured by an ``[accounts.NAME]`` table, its keys in
``veille.accounts.config.ACCOUNT_KINDS``).
"""

from __future__ import annotations

from pathlib import Path

from veille.accounts.config import Account
from veille.share.destinations.atom import AtomDestination
from veille.share.destinations.base import (
    AnswerPlan,
    BaseDestination,
    Destination,
    Limits,
    SendContext,
    SendResult,
    ShareStore,
)
from veille.share.destinations.bluesky import BlueskyDestination
from veille.share.destinations.command import CommandDestination
from veille.share.destinations.mastodon import MastodonDestination
from veille.share.destinations.micropub import MicropubDestination

__all__ = [
    "REGISTRY",
    "AnswerPlan",
    "BaseDestination",
    "Destination",
    "Limits",
    "SendContext",
    "SendResult",
    "ShareStore",
    "destination_for",
]

REGISTRY: dict[str, type[BaseDestination]] = {
    cls.kind: cls
    for cls in (
        MastodonDestination,
        BlueskyDestination,
        MicropubDestination,
        CommandDestination,
        AtomDestination,
    )
}


def destination_for(account: Account, *, cache_dir: Path | None = None) -> Destination:
    """The destination that posts through ``account`` (``cache_dir``: where learnt
    limits are kept; default the user's cache folder)."""
    cls = REGISTRY.get(account.type, BaseDestination)
    return cls(account, cache_dir=cache_dir)
