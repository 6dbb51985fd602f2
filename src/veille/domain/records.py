"""The records that flow between layers: Feed, Item, Sighting, Content, Draft.

Nothing outside the store can change stored state by accident: the store hands
out records built afresh from its documents (Feed, cached and shared, is
frozen; Item and Sighting are plain slotted dataclasses because a frozen one
costs five times as much to build and `veille items --json` builds 100,000),
and takes changes back through its own methods only.  ``from_doc``/``to_doc`` are the one place
that knows the stored key names (``chash``, ``cats``, ``nupd``...), which stay
short because 100,000 documents are held in memory.

No I/O, and nothing of veille is imported here but the domain itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from veille.domain.text import title_words

#: Kinds of source; ``Feed.kind`` takes one of these.
SOURCE_KINDS = ("feed", "mastodon", "bluesky")

#: Kinds of sighting: an entry of a feed, a post that links to the item, a
#: repost of such a post, a post quoting one, a reply to one of your shares.
SIGHTING_KINDS = ("entry", "post", "repost", "quote", "reply")


def _tuple(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return ()


@dataclass(frozen=True, slots=True)
class Feed:
    """A subscription: an RSS/Atom/JSON feed or a social source, with its poll state."""

    id: str
    url: str  # the feed URL, or the source name ("mastodon:home", "bluesky:@alice.test")
    kind: str = "feed"  # one of SOURCE_KINDS
    title: str = ""
    user_title: bool = False  # the title is the user's: a poll never overwrites it
    site_url: str = ""
    tags: tuple[str, ...] = ()
    folder: tuple[str, ...] = ()  # the OPML folders it was imported from, outermost first
    added: str | None = None
    account: str = ""  # the account a social source reads through
    # fetch state
    status: str = "new"  # new | ok | error | gone
    message: str = ""
    errors: int = 0
    parse_errors: int = 0
    last_fetch: str | None = None
    last_ok: str | None = None
    next_poll: str | None = None
    retry_until: str | None = None
    disabled: str | None = None  # why it is not polled any more, or None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    http_status: int | None = None
    ttl: int | None = None
    old_urls: tuple[str, ...] = ()
    fetched_once: bool = False
    cursor: Mapping[str, Any] = field(default_factory=dict)  # a social source's position
    # One line about parts of the last poll that failed while the poll as a whole
    # worked (two of 300 followed accounts unreadable); "" when all went well.
    warning: str = ""
    # the user's settings
    interval: float | None = None  # minutes; None: the config's
    full_text: bool = False  # always fetch the full article
    muted: bool = False  # polled, but its items are hidden

    @property
    def name(self) -> str:
        """What to call it on screen."""
        return self.title or self.url

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Feed:
        kw = {k: doc[k] for k in _FEED_FIELDS if k in doc and doc[k] is not None}
        kw["tags"] = _tuple(doc.get("tags"))
        kw["folder"] = _tuple(doc.get("folder"))
        kw["old_urls"] = _tuple(doc.get("old_urls"))
        cursor = doc.get("cursor")
        kw["cursor"] = dict(cursor) if isinstance(cursor, Mapping) else {}
        return cls(**kw)

    def to_doc(self) -> dict[str, Any]:
        doc = {f: getattr(self, f) for f in _FEED_FIELDS}
        doc["tags"] = list(self.tags)
        doc["folder"] = list(self.folder)
        doc["old_urls"] = list(self.old_urls)
        doc["cursor"] = dict(self.cursor)
        return doc


_FEED_FIELDS = tuple(f.name for f in fields(Feed))


@dataclass(slots=True)
class Sighting:
    """One place an item was seen: a feed's entry, or a post that shared its link.

    For a feed entry ``handle`` and ``post_url`` are empty; for a post, ``text``
    holds the sharer's own words as plain text: the context that makes a link
    worth reading.
    """

    source: str  # the Feed id it came through
    key: str  # its identity inside that source (entry key, post URI)
    seen: str  # ISO time it first arrived
    kind: str = "entry"  # one of SIGHTING_KINDS
    author: str = ""  # display name of the person who posted or wrote it
    handle: str = ""  # @user@instance, @handle.bsky.social
    text: str = ""
    post_url: str = ""
    reposter: str = ""  # for a repost: who reposted it (the author wrote the post)
    at: str | None = None  # when it was posted, per the source

    @property
    def account(self) -> str:
        """Who counts as having shared it: one account is one sharer, however often."""
        return (self.reposter or self.handle or self.source).casefold()

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Sighting:
        return cls(**{k: doc[k] for k in _SIGHTING_FIELDS if k in doc and doc[k] is not None})

    def to_doc(self) -> dict[str, Any]:
        # Empty fields stay out: sightings are many and held in memory.
        return {
            f: v
            for f in _SIGHTING_FIELDS
            if (v := getattr(self, f)) not in ("", None) or f in _KEEP
        }


_SIGHTING_FIELDS = tuple(f.name for f in fields(Sighting))
_KEEP = frozenset({"source", "key", "seen"})


@dataclass(slots=True)
class Item:
    """What the user triages: an article or a post, with every sighting of it."""

    id: str
    feed: str  # the source it first came through
    key: str = ""
    title: str = ""
    link: str = ""
    author: str = ""
    published: str | None = None  # as the source dates it, else None
    updated: str | None = None
    sort: str = ""  # the stream's order: publication on a first fetch, else arrival
    first_seen: str = ""
    summary: str = ""
    categories: tuple[str, ...] = ()
    image: str = ""
    content_hash: str = ""
    kind: str = "article"  # article | post | reply (to one of your shares)
    content_warning: str = ""
    # the user's state
    read: bool = False
    read_at: str | None = None
    starred: bool = False
    hidden: bool = False  # dismissed
    shared: bool = False
    comment: str = ""  # the comment of your last share of it
    tags: tuple[str, ...] = ()
    # As stored: posts, and entries of other feeds; see the ``sightings`` property.
    stored_sightings: tuple[Sighting, ...] = ()

    @property
    def unread(self) -> bool:
        """Unread and not dismissed: what the Unread view and the counts mean."""
        return not self.read and not self.hidden

    @property
    def sharers(self) -> int:
        """Distinct accounts that shared it (feed entries do not count)."""
        return _sharers(self.stored_sightings)

    @property
    def display_title(self) -> str:
        """The title, else the first words of its text, else its link."""
        return self.title or title_words(self.summary) or self.link

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Item:
        # Over the document's keys, not the record's fields: `veille items --json`
        # builds 100,000 of these.
        kw = {k: v for k, v in doc.items() if k in _ITEM_DIRECT_SET and v is not None}
        cats, tags = doc.get("cats"), doc.get("tags")
        if cats:
            kw["categories"] = tuple(cats)
        if tags:
            kw["tags"] = tuple(tags)
        kw["content_hash"] = doc.get("chash") or ""
        cw = doc.get("cw")
        if cw:
            kw["content_warning"] = cw
        stored = doc.get("sightings")
        if stored:
            kw["stored_sightings"] = tuple(Sighting.from_doc(s) for s in stored)
        return cls(**kw)

    @property
    def sightings(self) -> tuple[Sighting, ...]:
        """Every place it was seen.  An item that came first through a feed does not
        store that entry's sighting (100k of them would cost memory for nothing):
        it is rebuilt here."""
        return _sightings(
            self.feed, self.key, self.first_seen, self.author, self.published, self.stored_sightings
        )

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {k: getattr(self, k) for k in _ITEM_DIRECT}
        doc["cats"] = list(self.categories)
        doc["tags"] = list(self.tags)
        doc["chash"] = self.content_hash
        if self.content_warning:
            doc["cw"] = self.content_warning
        stored = [s.to_doc() for s in self.stored_sightings]
        if stored:
            doc["sightings"] = stored
        return doc

    def with_state(self, **changes: Any) -> Item:
        return replace(self, **changes)


#: Item fields stored under another key (see from_doc/to_doc).
_ITEM_STORED_AS = {
    "categories": "cats",
    "tags": "tags",
    "content_hash": "chash",
    "content_warning": "cw",
    "stored_sightings": "sightings",
}
_ITEM_RENAMED = set(_ITEM_STORED_AS)
_ITEM_TUPLES = {"categories", "tags", "stored_sightings"}
_ITEM_DIRECT = tuple(f.name for f in fields(Item) if f.name not in _ITEM_RENAMED)
_ITEM_DIRECT_SET = frozenset(_ITEM_DIRECT)


def _sharers(stored: tuple[Sighting, ...]) -> int:
    """Item.sharers, for ItemReader too (one definition of who counts)."""
    if not stored:  # most items: `veille items --json` asks 100,000 times
        return 0
    return len({s.account for s in stored if s.kind != "entry"})


def _sightings(
    feed: str,
    key: str,
    first_seen: str,
    author: str,
    published: str | None,
    stored: tuple[Sighting, ...],
) -> tuple[Sighting, ...]:
    """Item.sightings, for ItemReader too: the stored ones, with the first feed's
    entry rebuilt in front unless one of them is that entry."""
    if stored and any(s.source == feed for s in stored):
        return stored
    first = Sighting(
        source=feed, key=key, seen=first_seen, kind="entry", author=author, at=published
    )
    return (first, *stored) if stored else (first,)


class ItemReader:
    """Reads chosen fields of items straight from stored documents, without an Item.

    ``ItemReader({"dismissed": "hidden", ...})(doc)`` is
    ``{"dismissed": Item.from_doc(doc).hidden, ...}`` in the order given, for any
    field of Item and the ``sightings`` and ``sharers`` properties; but at half the
    cost, because `veille items --json` reads 100,000 items once each, and building
    the records and then a dict of them was half of its time.  It lives here because
    it knows the stored key names; each result is a fresh dict (the tuples in it
    are fresh too; strings are immutable).
    """

    __slots__ = ("_derived", "_plain", "_renamed")

    def __init__(self, names: Mapping[str, str]) -> None:
        defaults = {f.name: f.default for f in fields(Item)}
        plain: list[tuple[str, str, Any]] = []
        renamed: list[tuple[str, str, bool]] = []
        derived: list[tuple[str, str]] = []
        for out, name in names.items():
            if name in _ITEM_DIRECT_SET:
                # ``id`` and ``feed`` have no default: every stored item has them.
                plain.append((out, name, defaults[name]))
                continue
            plain.append((out, "", None))  # its place in the order; the value comes below
            if name in _ITEM_RENAMED - {"stored_sightings"}:
                renamed.append((out, _ITEM_STORED_AS[name], name in _ITEM_TUPLES))
            elif name in ("stored_sightings", "sightings", "sharers"):
                derived.append((out, name))
            else:
                raise ValueError(f"not a field of Item: {name!r}")
        self._plain = tuple(plain)
        self._renamed = tuple(renamed)
        self._derived = tuple(derived)

    def __call__(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        # As from_doc: a stored None is the field's default, and so is an empty
        # value of a renamed field.
        get = doc.get
        rec = {out: (v if (v := get(key)) is not None else d) for out, key, d in self._plain}
        for out, key, is_tuple in self._renamed:
            v = get(key)
            rec[out] = (tuple(v) if is_tuple else v) if v else (() if is_tuple else "")
        if self._derived:
            raw = get("sightings")
            stored = tuple(Sighting.from_doc(s) for s in raw) if raw else ()
            for out, name in self._derived:
                if name == "sightings":
                    ekey, seen, author = get("key"), get("first_seen"), get("author")
                    rec[out] = _sightings(
                        doc["feed"],
                        "" if ekey is None else ekey,
                        "" if seen is None else seen,
                        "" if author is None else author,
                        get("published"),
                        stored,
                    )
                else:
                    rec[out] = _sharers(stored) if name == "sharers" else stored
        return rec


#: The fields of an item the user changes (and undo restores).
STATE_FIELDS = ("read", "starred", "hidden", "shared", "tags")


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    type: str = ""
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Content:
    """An item's body, kept apart from the item because it is big and read rarely."""

    html: str = ""
    type: str = "html"  # "html" or "text"
    base: str = ""  # the URL relative links in ``html`` resolve against (xml:base)
    enclosures: tuple[Enclosure, ...] = ()
    article: str = ""  # the full article fetched from the page, when asked for
    article_url: str = ""

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Content:
        if not doc:
            return cls()
        encs = []
        for e in doc.get("enclosures") or ():
            if isinstance(e, Mapping) and isinstance(e.get("url"), str):
                length = e.get("length")
                encs.append(
                    Enclosure(
                        e["url"],
                        str(e.get("type") or ""),
                        length if isinstance(length, int) else None,
                    )
                )
        return cls(
            html=str(doc.get("html") or ""),
            type=str(doc.get("type") or "html"),
            base=str(doc.get("base") or ""),
            enclosures=tuple(encs),
            article=str(doc.get("article") or ""),
            article_url=str(doc.get("article_url") or ""),
        )


@dataclass(frozen=True, slots=True)
class Draft:
    """A comment being written for an item, saved on every edit."""

    item_id: str
    text: str = ""
    to: tuple[str, ...] | None = None  # destinations ticked; None: the defaults
    hashtags: tuple[str, ...] | None = None
    share_id: str | None = None  # editing this failed share
    updated: str | None = None
    # A reply to or quote of a sharer's post ("reply", "quote"), or "" for a
    # share crediting them; ``post``: that post's web address ("": the first).
    answer: str = ""
    post: str = ""

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Draft:
        to, tags = doc.get("to"), doc.get("hashtags")
        sid = doc.get("share_id")
        text = doc.get("text")
        answer, post = doc.get("answer"), doc.get("post")
        return cls(
            item_id=str(doc.get("item") or ""),
            text=text if isinstance(text, str) else "",
            to=tuple(str(n) for n in to) if isinstance(to, list) else None,
            hashtags=tuple(str(t) for t in tags) if isinstance(tags, list) else None,
            share_id=sid if isinstance(sid, str) else None,
            updated=doc.get("updated") if isinstance(doc.get("updated"), str) else None,
            answer=answer if answer in ("reply", "quote") else "",
            post=post if isinstance(post, str) else "",
        )

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"item": self.item_id, "text": self.text, "updated": self.updated}
        if self.to is not None:
            doc["to"] = list(self.to)
        if self.hashtags is not None:
            doc["hashtags"] = list(self.hashtags)
        if self.share_id:
            doc["share_id"] = self.share_id
        if self.answer:
            doc["answer"] = self.answer
        if self.post:
            doc["post"] = self.post
        return doc
