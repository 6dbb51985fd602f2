"""The item pane's "seen via" section: every account that shared the item, with
their own words and a link to their post, and what came back to your shares.

The item pane (``ItemView``) is a Line-API widget: it draws rows, not child
widgets.  So this section is a part of it rather than a widget of its own: the
pane asks ``SeenVia.lines`` for its rows after the body, and the section adds
its links to the pane's numbered links, after the body's, so ``4o`` opens the
fourth sharer's post and ``5y`` copies it through the same http(s)-only path as
any link of the item.

What it shows, after the body:

* "Seen via 3 accounts you follow", then one entry per post: "• Ann @ann@a.example
  · 2h  [4]" and her words under it; a repost is "↻ @bob reposted Ann
  @ann@a.example", a quote "❝", an answer to your share "↩";
* an item that answers one of your shares (``Item.kind == "reply"``) says so
  first: "↩ Reply to your share of “A deep dive”";
* your shares of the item: who answered and what they said (replies, quotes
  with their words; likes and reposts counted by name);
* a post behind a content warning: the warning, and the words only once the
  user opens it (``v``); until then the pane shows ``masked(item)``.

Everything is plain ``Text`` built with ``append``: a post's words are data,
never markup, and they go through ``clean_text`` first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from rich.style import Style
from rich.text import Text

from veille.domain.records import Item, Sighting
from veille.domain.share import Share, ShareResponse
from veille.render.html import Link
from veille.render.hygiene import clean_line, clean_text
from veille.tui.services.reading import Line, wrap
from veille.util.dates import age
from veille.util.urls import is_safe_link

INDENT = "    "
KIND_MARKS = {"post": "•", "repost": "↻", "quote": "❝", "reply": "↩"}
RESPONSE_MARKS = {"reply": "↩", "quote": "❝", "like": "♥", "repost": "↻"}
#: Replies and quotes listed with their words; the rest are counted ("and 4 more").
MAX_RESPONSES = 20
STYLES = {
    "title": Style(bold=True),
    "who": Style(bold=True),
    "handle": Style(italic=True),
    "dim": Style(dim=True),
    "number": Style(bold=True),
    "warning": Style(bold=True, color="yellow"),
    "reply": Style(bold=True, color="cyan"),
}


def masked(item: Item, revealed: Iterable[str] = ()) -> Item:
    """What the pane shows of ``item`` while its content warning is closed: the
    warning for a title, no body (its words are the post's).  The content hash
    differs from the real one, so the pane's render cache never mixes the two."""
    if not item.content_warning or item.id in revealed:
        return item
    return replace(
        item,
        title="⚠ " + (clean_line(item.content_warning) or "content warning"),
        summary="",
        content_hash=item.content_hash + "#cw",
    )


def share_of_reply(item: Item, shares: Iterable[Share]) -> Share | None:
    """The share an answer item replied to: the one whose responses hold its post."""
    urls = {item.link, *(s.post_url for s in item.stored_sightings if s.post_url)}
    urls.discard("")
    for share in shares:
        if any(r.url in urls for r in share.responses if r.kind in ("reply", "quote")):
            return share
    return None


class SeenVia:
    """The section's rows for one item; bound to the store by the screen."""

    def __init__(self) -> None:
        self.store: Any = None  # veille.store.store.Store (or anything with its getters)
        self.clock: Callable[[], datetime] | None = None
        self.revealed: set[str] = set()  # items whose content warning the user opened
        self._signature: tuple[Any, ...] | None = None

    def bind(
        self,
        store: Any,
        *,
        clock: Callable[[], datetime] | None = None,
        revealed: set[str] | None = None,
    ) -> None:
        """Where sightings' sources and your shares are read; ``revealed`` is the
        screen's set of opened content warnings (shared with the stream)."""
        self.store = store
        self.clock = clock
        if revealed is not None:
            self.revealed = revealed

    # --------------------------------------------------------------- state
    def _shares(self, item: Item) -> list[Share]:
        """Your shares of ``item`` (every share, for a reply: which one it answers).
        Only a shared item has any: the others cost no read of the shares."""
        if self.store is None or (item.kind != "reply" and not item.shared):
            return []
        if item.kind == "reply":
            return list(self.store.shares())
        return [s for s in self.store.shares() if s.item_id == item.id]

    def signature(self, item: Item) -> tuple[Any, ...]:
        """All the section shows of ``item``: when it changes, the pane lays out again."""
        shares = self._shares(item)
        return (
            item.id,
            item.kind,
            item.content_warning,
            item.id in self.revealed,
            item.stored_sightings,
            tuple((s.id, len(s.responses)) for s in shares),
        )

    def changed(self, item: Item) -> bool:
        return self.signature(item) != self._signature

    # -------------------------------------------------------------- layout
    def lines(self, item: Item, width: int, links: list[Link]) -> list[Line]:
        """The section's rows at ``width``; its links are appended to ``links``
        (numbered after those already there)."""
        self._signature = self.signature(item)
        shares = self._shares(item)
        closed = bool(item.content_warning) and item.id not in self.revealed
        blocks: list[Text] = []
        if item.kind == "reply":
            blocks.append(self._reply_note(item, shares))
        if closed:
            t = Text(end="")
            t.append("⚠ Content warning: ", style=STYLES["warning"])
            t.append(clean_line(item.content_warning))
            t.append("  — v shows the post", style=STYLES["dim"])
            blocks.append(t)
        posts = [s for s in item.sightings if s.kind != "entry"]
        entries = [s for s in item.sightings if s.kind == "entry"]
        if posts:
            n = item.sharers
            head = Text(end="")
            head.append(
                f"Seen via {n} account{'s' if n != 1 else ''} you follow", style=STYLES["title"]
            )
            blocks.append(head)
            for s in posts:
                blocks.append(self._sighting(s, links, closed))
            if entries:
                names = [self._source_name(s.source) for s in entries]
                t = Text(end="")
                t.append("≡ also in ", style=STYLES["dim"])
                t.append(", ".join(n for n in names if n) or "a feed", style=STYLES["dim"])
                blocks.append(t)
        if item.kind != "reply":
            for share in shares:
                if share.responses:
                    blocks.append(self._responses(share, links))
        out: list[Line] = []
        width = max(20, width)
        for block in blocks:
            out.append(Line(Text(end="")))
            for row in block.split("\n", allow_blank=True):
                row.end = ""
                if row.plain.startswith(INDENT):
                    # The sharer's words: wrapped under themselves, not under the name.
                    body = row[len(INDENT) :]
                    for part in wrap(body, width - len(INDENT)):
                        line = Text(INDENT, end="")
                        line.append_text(part.text)
                        out.append(Line(line))
                else:
                    out.extend(Line(part.text) for part in wrap(row, width))
        return out

    def _source_name(self, source: str) -> str:
        feed = self.store.get_feed(source) if self.store is not None else None
        return clean_line(feed.name) if feed is not None else ""

    def _age(self, when: str | None) -> str:
        return age(when, self.clock() if self.clock else None) if when else ""

    @staticmethod
    def _number(links: list[Link], url: str, text: str) -> int | None:
        """``url``'s number among the pane's links (added when new); None when it
        is not http(s): only those are ever opened."""
        if not is_safe_link(url):
            return None
        for link in links:
            if link.url == url:
                return link.number
        number = len(links) + 1
        links.append(Link(number, url, text, "post" if text == "post" else "link"))
        return number

    def _who(self, t: Text, author: str, handle: str) -> None:
        author, handle = clean_line(author), clean_line(handle)
        if author and author != handle.lstrip("@"):
            t.append(author, style=STYLES["who"])
            if handle:
                t.append(" ")
        if handle:
            t.append(handle, style=STYLES["handle"])

    def _sighting(self, s: Sighting, links: list[Link], closed: bool) -> Text:
        t = Text(end="")
        t.append(KIND_MARKS.get(s.kind, "•") + " ")
        if s.kind == "repost" and s.reposter:
            t.append(clean_line(s.reposter), style=STYLES["who"])
            t.append(" reposted ", style=STYLES["dim"])
        self._who(t, s.author, s.handle)
        if s.kind == "quote":
            t.append(" quoted a post", style=STYLES["dim"])
        when = self._age(s.at or s.seen)
        if when:
            t.append(f" · {when}", style=STYLES["dim"])
        number = self._number(links, s.post_url, "post") if s.post_url else None
        if number is not None:
            t.append(f"  [{number}]", style=STYLES["number"])
        words = clean_text(s.text).strip()
        if words and closed:
            t.append("\n" + INDENT)
            t.append("(behind the content warning)", style=STYLES["dim"])
        elif words:
            self._words(t, words, links)
        return t

    def _words(self, t: Text, words: str, links: list[Link]) -> None:
        """The sharer's own words, indented, each full URL in them numbered."""
        from veille.sources.bluesky import text_links  # full URLs in a post's text

        for line in words.split("\n"):
            t.append("\n" + INDENT)
            t.append(line)
        found = [u for u in text_links(words) if u]
        numbers = [n for u in found if (n := self._number(links, u, u)) is not None]
        if numbers:
            t.append("\n" + INDENT)
            t.append("links: " + " ".join(f"[{n}]" for n in numbers), style=STYLES["number"])

    def _reply_note(self, item: Item, shares: list[Share]) -> Text:
        t = Text(end="")
        t.append("↩ Reply to your share", style=STYLES["reply"])
        share = share_of_reply(item, shares)
        if share is not None:
            title = clean_line(share.title) or clean_line(share.link)
            if title:
                t.append(" of “")
                t.append(title)
                t.append("”")
        return t

    def _responses(self, share: Share, links: list[Link]) -> Text:
        t = Text(end="")
        n = len(share.responses)
        day = clean_line(share.created)[:10]
        t.append(
            f"What came back to your share{f' of {day}' if day else ''} ({n})",
            style=STYLES["title"],
        )
        worded = [r for r in share.responses if r.kind in ("reply", "quote")]
        others = [r for r in share.responses if r.kind not in ("reply", "quote")]
        for r in worded[:MAX_RESPONSES]:
            t.append("\n")
            self._response(t, r, links)
        if len(worded) > MAX_RESPONSES:
            t.append(f"\n… and {len(worded) - MAX_RESPONSES} more", style=STYLES["dim"])
        for kind, verb in (("like", "liked it"), ("repost", "reposted it")):
            names = [clean_line(r.handle or r.author) for r in others if r.kind == kind]
            if names:
                t.append("\n" + RESPONSE_MARKS[kind] + " ")
                t.append(", ".join(names[:8]), style=STYLES["handle"])
                if len(names) > 8:
                    t.append(f" and {len(names) - 8} more")
                t.append(" " + verb, style=STYLES["dim"])
        return t

    def _response(self, t: Text, r: ShareResponse, links: list[Link]) -> None:
        t.append(RESPONSE_MARKS.get(r.kind, "•") + " ")
        self._who(t, r.author, r.handle)
        t.append(" replied" if r.kind == "reply" else " quoted it", style=STYLES["dim"])
        when = self._age(r.at)
        if when:
            t.append(f" · {when}", style=STYLES["dim"])
        number = self._number(links, r.url, "post") if r.url else None
        if number is not None:
            t.append(f"  [{number}]", style=STYLES["number"])
        words = clean_text(r.text).strip()
        if words:
            for line in words.split("\n"):
                t.append("\n" + INDENT)
                t.append(line)
