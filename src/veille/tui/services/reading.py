"""Reading an item: its body rendered and wrapped, its date, the paragraph ``>`` quotes.

The item pane draws the lines wrapped here (not Rich's or Textual's own wrap), so
the app knows which character of the body each row on screen starts with: ``>``
then quotes exactly the paragraph at the top of the pane.

A body can be huge (a 9.5 MB one-line post was seen in the wild): ``preview``
gives a first screenful cheaply, and the whole body is rendered and wrapped by
the caller off the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich._wrap import divide_line
from rich.text import Text

from veille.domain.records import Content, Item
from veille.render.html import Link, Rendered, render_html, render_plain
from veille.util.urls import is_safe_link

BIG_BODY = 100_000  # characters: above this, render and wrap off the UI thread
PREVIEW_CHARS = 20_000  # what is rendered at once of a big body: a few screenfuls


@dataclass(frozen=True, slots=True)
class Line:
    """One row of wrapped text and where it starts in the source text (-1: not body)."""

    text: Text
    offset: int = -1


def when_label(item: Item) -> str:
    """The item's date as the source gives it; never the time it arrived dressed
    up as one ("seen …" says that it is only when veille first saw it)."""
    if item.published:
        return item.published[:16].replace("T", " ")
    if item.updated:
        return "updated " + item.updated[:16].replace("T", " ")
    if item.first_seen:
        return "seen " + item.first_seen[:16].replace("T", " ")
    return ""


def body_source(item: Item, content: Content) -> tuple[str, str]:
    """(text, kind): the body to render ("html" or "text"), the summary when none."""
    if content.html:
        return content.html, content.type
    return item.summary, "text"


def is_big(item: Item, content: Content) -> bool:
    return len(body_source(item, content)[0]) > BIG_BODY


def render_body(item: Item, content: Content, width: int, *, limit: int | None = None) -> Rendered:
    """The body as styled text with numbered links, relative ones resolved against
    the entry's xml:base (else the item's link); enclosures join the links.

    ``limit``: render only the first ``limit`` characters (a big body's preview)."""
    source, kind = body_source(item, content)
    if limit is not None:
        source = source[:limit]
    if kind == "text":
        rendered = render_plain(source)
    else:
        rendered = render_html(source, base_url=content.base or item.link, width_hint=width)
    links = list(rendered.links)
    known = {link.url for link in links}
    for enc in content.enclosures:
        url = enc.url
        if is_safe_link(url) and url not in known:
            known.add(url)
            kind_name = (enc.type or "enclosure").split(";")[0]
            links.append(Link(len(links) + 1, url, url, kind_name))
    return Rendered(rendered.text, links, rendered.paragraphs)


def wrap(text: Text, width: int) -> list[Line]:
    """``text`` folded to ``width`` cells, each row with its offset in ``text.plain``.

    Like Rich's word wrap (words move whole, over-long words are folded), with
    trailing spaces dropped from each row."""
    width = max(1, width)
    plain = text.plain
    out: list[Line] = []
    start = 0
    for piece in text.split("\n", include_separator=False, allow_blank=True):
        length = len(piece.plain)
        if not length:
            out.append(Line(Text(end=""), start))
        else:
            breaks = divide_line(piece.plain, width, fold=True)
            rows = piece.divide(breaks) if breaks else [piece]
            offsets = [0, *breaks]
            for row, off in zip(rows, offsets, strict=False):
                row.rstrip()
                row.end = ""
                out.append(Line(row, start + off))
        start += length + 1
    if plain.endswith("\n") and out and out[-1].text.plain == "":
        out.pop()  # split() gives a last empty piece for a final newline
    return out


def paragraph_at(rendered: Rendered, offset: int) -> str:
    """The paragraph shown at ``offset`` of the body (the next one when the offset
    falls between two), as plain text: what ``>`` quotes.  One function so the
    renderer's paragraph API can change in one place."""
    plain = rendered.text.plain
    if not rendered.paragraphs:
        return plain
    offset = max(0, offset)
    for start, end in rendered.paragraphs:
        if end > offset and plain[start:end].strip():
            return plain[start:end]
    return ""
