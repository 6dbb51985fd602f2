"""Triage: read, star, dismiss, tags, mark all read, and undo that survives a restart.

Every change the user makes records the fields it is about to change in the
store's undo history (``store.push_undo``, the last 100 kept on disk), so ``u``
puts them back even after the app was closed.  Marking an item read because it
was opened is not a change to undo: it is what reading does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from veille.domain.filter import ItemFilter
from veille.domain.records import Item
from veille.render.hygiene import clean_line
from veille.store.store import Store


@dataclass(frozen=True)
class Undone:
    """What ``u`` put back: the change's label and the items it touched."""

    label: str
    ids: list[str]


class Triage:
    """The user's changes to items' state, each undoable."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _remember(self, label: str, items: Iterable[Item], fields: tuple[str, ...]) -> None:
        before = {item.id: {f: getattr(item, f) for f in fields} for item in items}
        if before:
            self.store.push_undo(label, before)

    def toggle_read(self, iid: str) -> Item | None:
        item = self.store.get_item(iid)
        if item is None:
            return None
        self._remember("read", [item], ("read", "hidden"))
        self.store.set_state([iid], read=not item.read)
        return self.store.get_item(iid)

    def toggle_star(self, iid: str) -> Item | None:
        item = self.store.get_item(iid)
        if item is None:
            return None
        self._remember("star", [item], ("starred",))
        self.store.set_state([iid], starred=not item.starred)
        return self.store.get_item(iid)

    def dismiss(self, iid: str) -> Item | None:
        """Read and out of the way: the Unread view no longer shows it."""
        item = self.store.get_item(iid)
        if item is None:
            return None
        self._remember("dismiss", [item], ("read", "hidden"))
        self.store.set_state([iid], read=True, hidden=True)
        return self.store.get_item(iid)

    def mark_seen(self, iid: str) -> bool:
        """The user stayed on an item: it is read (no undo entry).  True if it changed."""
        item = self.store.get_item(iid)
        if item is None or item.read:
            return False
        self.store.set_state([iid], read=True)
        return True

    def unread_ids(self, flt: ItemFilter) -> list[str]:
        """Unread items of a whole view (not only the rows loaded so far)."""
        return list(self.store.ids(flt.but(unread=True)))

    def mark_all_read(self, ids: list[str]) -> int:
        items = [d for i in ids if (d := self.store.get_item(i)) is not None and not d.read]
        if not items:
            return 0
        self._remember("mark all read", items, ("read",))
        self.store.set_state([d.id for d in items], read=True)
        return len(items)

    def set_tags(self, iid: str, text: str) -> tuple[str, ...] | None:
        """Tags from "a, b, c" (cleaned, sorted, no duplicates)."""
        item = self.store.get_item(iid)
        if item is None:
            return None
        tags = sorted({clean_line(t).strip() for t in text.split(",") if clean_line(t).strip()})
        self._remember("tags", [item], ("tags",))
        self.store.set_state([iid], tags=tags)
        return tuple(tags)

    def undo(self) -> Undone | None:
        """Put back the newest change still in the history; None when there is none."""
        entry = self.store.pop_undo()
        if entry is None:
            return None
        label, before = entry
        groups: dict[tuple[tuple[str, Any], ...], list[str]] = {}
        for iid, fields in before.items():
            if not isinstance(fields, dict):
                continue
            key = tuple(
                sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in fields.items())
            )
            groups.setdefault(key, []).append(iid)
        for key, ids in groups.items():
            changes = {k: list(v) if isinstance(v, tuple) else v for k, v in key}
            alive = [i for i in ids if self.store.get_item(i) is not None]
            if alive:
                self.store.set_state(alive, **changes)
        return Undone(label, list(before))
