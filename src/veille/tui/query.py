"""What the stream shows: a view (unread, starred, a feed, a tag...) plus a search,
turned into the one ItemFilter the store applies (the CLI uses the same).

No Textual here: the screen asks for the first screenful synchronously and lets
a thread worker take the rest, so a view of 100,000 items opens at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from veille.domain.filter import ItemFilter
from veille.store.store import Store

VIEW_KINDS = ("unread", "all", "starred", "shared")


@dataclass(frozen=True)
class ViewSpec:
    kind: str = "all"  # unread | all | starred | shared | feed | tag
    value: str = ""  # feed id or tag name
    search: str = ""

    def label(self, store: Store) -> str:
        if self.kind == "feed":
            f = store.get_feed(self.value)
            name = f"Feed: {f.name if f else self.value}"
        elif self.kind == "tag":
            name = f"Tag: {self.value}"
        else:
            name = self.kind.capitalize()
        if self.search:
            name += f" · search “{self.search}”"
        return name

    def to_filter(self) -> ItemFilter:
        flt = ItemFilter(search=self.search)
        if self.kind == "unread":
            return flt.but(unread=True)
        if self.kind == "starred":
            return flt.but(starred=True)
        if self.kind == "shared":
            return flt.but(shared=True)
        if self.kind == "feed":
            return flt.but(feed_ids=frozenset({self.value}))
        if self.kind == "tag":
            return flt.but(tag=self.value)
        return flt

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_json(cls, data: Any) -> ViewSpec:
        if isinstance(data, dict) and data.get("kind") in (*VIEW_KINDS, "feed", "tag"):
            return cls(str(data["kind"]), str(data.get("value") or ""))
        return cls()


def iter_view(
    store: Store,
    spec: ViewSpec,
    *,
    keep: frozenset[str] | set[str] = frozenset(),
    stop: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """Item ids of a view, newest first.  ``keep``: ids that stay even when they no
    longer match (an item read a moment ago must not vanish under the cursor).
    ``stop`` is asked every 2,048 items: a search replaced by the next keystroke
    must not keep scanning 100,000 items on a thread."""
    return store.ids(spec.to_filter(), keep=keep, stop=stop)
