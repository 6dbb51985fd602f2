"""ItemFilter: which items a view, a command or a saved search shows.

One definition for the CLI (``veille items``), the app's views and the status
bar's counts, applied by the store (which keeps indexes for each part), so the
three can never disagree about what "unread" means.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """All conditions must hold; None means "either way".

    ``unread=True`` means unread *and not dismissed*: a dismissed item is out of
    the way until the user brings it back (``mark --unread`` does).

    ``muted`` defaults to False, not None: items of a muted feed or matching a
    mute rule are out of every view and count unless a filter asks for them
    (``muted=True`` lists them, to show them again).
    """

    unread: bool | None = None
    starred: bool | None = None
    shared: bool | None = None
    hidden: bool | None = None
    feed_ids: frozenset[str] | None = None
    tag: str | None = None  # a tag of the item or of its feed
    search: str = ""  # case-insensitive text in title, author, summary, comment, source
    since: str | None = None  # ISO time: first seen at or after
    min_sharers: int = 0  # seen via at least this many distinct accounts
    kind: str | None = None  # article | post | reply
    muted: bool | None = False  # hidden by a muted feed or a mute rule
    drafts: bool | None = None  # has a saved draft comment
    alerted: bool | None = None  # matched by an alert rule

    def but(self, **changes: object) -> ItemFilter:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def is_everything(self) -> bool:
        return self == ItemFilter()
