"""What the stream shows: a view (unread, starred, a feed, a tag...) plus a search.

No Textual here: the app asks for the first screenful synchronously and lets a
thread worker take the rest, so a view of 100,000 items opens at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from veille.store.store import Store

VIEW_KINDS = ("unread", "all", "starred", "shared")


@dataclass(frozen=True)
class ViewSpec:
    kind: str = "all"  # unread | all | starred | shared | feed | tag
    value: str = ""  # feed id or tag name
    search: str = ""

    def label(self, store: Store) -> str:
        if self.kind == "feed":
            f = store.get_feed(self.value) or {}
            name = f"Feed: {f.get('title') or f.get('url') or self.value}"
        elif self.kind == "tag":
            name = f"Tag: {self.value}"
        else:
            name = self.kind.capitalize()
        if self.search:
            name += f" · search “{self.search}”"
        return name

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_json(cls, data: Any) -> ViewSpec:
        if isinstance(data, dict) and data.get("kind") in (*VIEW_KINDS, "feed", "tag"):
            return cls(str(data["kind"]), str(data.get("value") or ""))
        return cls()


def predicate(spec: ViewSpec, store: Store) -> Callable[[dict[str, Any]], bool] | None:
    """A test for one item document, or None when every item matches."""
    tests: list[Callable[[dict[str, Any]], bool]] = []
    if spec.kind == "unread":
        tests.append(lambda d: not d.get("read") and not d.get("hidden"))
    elif spec.kind == "starred":
        tests.append(lambda d: bool(d.get("starred")))
    elif spec.kind == "shared":
        tests.append(lambda d: bool(d.get("shared")))
    elif spec.kind == "feed":
        fid = spec.value
        tests.append(lambda d: d["feed"] == fid)
    elif spec.kind == "tag":
        tag = spec.value
        feeds = {f["id"] for f in store.feeds() if tag in (f.get("tags") or ())}
        tests.append(lambda d: d["feed"] in feeds or tag in (d.get("tags") or ()))
    if spec.search:
        matched = store.search_ids(spec.search)  # one C-speed scan of an index
        tests.append(lambda d: d["id"] in matched)
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return lambda d: all(t(d) for t in tests)


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
    ids = store.ordered_ids()
    searching = bool(spec.search)
    if searching:
        # The index answers the search in one C-speed scan; the view's own test
        # then runs on the matches only, not on every item.
        matched = store.search_ids(spec.search)
        ids = [iid for iid in ids if iid in matched]
        spec = ViewSpec(spec.kind, spec.value)
    test = predicate(spec, store)
    get = store.get_item
    for n, iid in enumerate(ids):
        if stop is not None and not n & 2047 and stop():
            return
        if test is None:
            yield iid
            continue
        d = get(iid)
        if d is not None and (test(d) or (iid in keep and not searching)):
            yield iid


def all_tags(store: Store) -> list[str]:
    tags: set[str] = set()
    for f in store.feeds():
        tags.update(f.get("tags") or ())
    for iid in store.ordered_ids():
        d = store.get_item(iid)
        if d and d.get("tags"):
            tags.update(d["tags"])
    return sorted(tags)
