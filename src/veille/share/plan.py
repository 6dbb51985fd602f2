"""Before a share is made: where it will go and why, and whether the item was shared already.

The same answers for `veille share` (``--dry-run``, the warning before a second
share) and for the app's composer, so the two never disagree.  No network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from veille.accounts.config import ATOM, Account
from veille.config import Config
from veille.domain.share import Share


@dataclass(frozen=True)
class DestinationPlan:
    """The destinations a share goes to, and one line saying where that choice came from."""

    names: list[str]
    why: str  # "chosen", "share.default_to", "built-in default"
    unknown: list[str]  # names in the plan that no account has (the share would be refused)
    unused: list[str]  # accounts that exist but are not in the plan

    def describe(self) -> str:
        """One line for a person: where it goes and how to change that."""
        where = ", ".join(self.names) or "nowhere"
        if self.why == "chosen":
            line = f"goes to: {where}"
        elif self.why == "share.default_to":
            line = f"goes to: {where} (share.default_to)"
        else:
            line = f"goes to: {where} (your Atom feed: the default while share.default_to is empty)"
        if self.unknown:
            line += f"; unknown: {', '.join(self.unknown)}"
        if self.unused and self.why != "chosen":
            line += (
                f"; not to: {', '.join(self.unused)} (choose with --to, or set share.default_to)"
            )
        return line


def plan_destinations(
    config: Config, accounts: dict[str, Account], to: list[str] | None = None
) -> DestinationPlan:
    """Where a share goes: ``to`` when given, else ``share.default_to``, else the Atom feed."""
    if to:
        names, why = list(dict.fromkeys(to)), "chosen"
    else:
        configured = [str(n) for n in config["share.default_to"]]
        if configured:
            names, why = list(dict.fromkeys(configured)), "share.default_to"
        else:
            names, why = [ATOM], "built-in default"
    unknown = [n for n in names if n not in accounts]
    unused = [n for n in accounts if n not in names]
    return DestinationPlan(names, why, unknown, unused)


def earlier_shares(store: Any, item_id: str, *, exclude: str | None = None) -> list[Share]:
    """Shares of ``item_id`` already made (newest first), but ``exclude`` (a share id).

    The composer calls it to warn before an item goes out twice; `veille share`
    refuses without ``--again`` (or a yes on a terminal).
    """
    return [s for s in store.shares() if s.item_id == item_id and s.id != exclude]


def describe_earlier(share: Share) -> str:
    """ "abc123 on 2026-11-27 (“first words of the comment”)": which share it was."""
    from veille.render.hygiene import clean_line

    first = clean_line((share.comment.strip().splitlines() or [""])[0])
    if len(first) > 60:
        first = first[:59] + "…"
    day = (share.created or "")[:10]
    return f"{share.id} on {day}" + (f" (“{first}”)" if first else "")
