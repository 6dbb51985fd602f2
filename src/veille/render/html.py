"""An item's HTML (or plain text) as styled terminal lines with numbered links.

The output is laid out here, at the item pane's width (``width_hint``), rather
than left to Rich/Textual to wrap, for three reasons:

* hanging indents: every wrapped line of a quote keeps its "│ " bar, a list item
  its indent under the text after the bullet, a code block its prefix; a
  generic wrapper only knows the first line;
* the composer's ``>`` key quotes "the paragraph shown": :attr:`Rendered.blocks`
  says which lines each source paragraph occupies and its text as the reader
  sees it (no bars, bullets or link numbers), see :meth:`Rendered.paragraph_at`;
* speed: Textual wraps a 9.5 MB line with a quadratic amount of work; lines that
  already fit cost it nothing.  Everything here is linear in the input (the
  tokenizer in :mod:`veille.render.hygiene` too), and ``max_chars`` renders the
  start of a huge body at once (``Rendered.truncated``, :meth:`Rendered.resume`).

Safety: every piece of feed text goes through :func:`clean_text` and lands in a
``rich.text.Text`` as a plain string with ``Style`` objects, so ``[bold]`` or
``[@click=...]`` in a body stays literal and escape sequences never reach the
terminal.  Only http(s) and mailto links get a number.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

from rich.cells import cell_len, get_character_cell_size
from rich.style import Style
from rich.text import Span, Text

from veille.render.hygiene import (
    BLOCK_TAGS,
    HIDDEN_TAGS,
    VOID_TAGS,
    HtmlTokenizer,
    MathCollector,
    clean_text,
    is_math_copy,
    is_math_fallback,
    parse_attrs,
    script_text,
)
from veille.util.urls import resolve_link

__all__ = [
    "STYLES",
    "Link",
    "Paragraph",
    "Rendered",
    "link_list",
    "render_html",
    "render_plain",
    "wrap_text",
]


@dataclass
class Link:
    """A numbered, openable target found in the body (shown as "[n]")."""

    number: int  # 1-based, as shown "[1]"
    url: str  # absolute; only http/https/mailto ever get here
    text: str  # anchor text or image alt
    kind: str = "link"  # "link" or "image"


class Paragraph(NamedTuple):
    """One source paragraph (or table row) on screen: its lines and its text.

    ``first_line``/``last_line`` index the lines of ``Rendered.text`` (both
    inclusive); ``text`` is what a reader quotes: the words as shown, without
    quote bars, bullets or link numbers, with its own line breaks (``<br>``)
    but not the wrapping.
    """

    first_line: int
    last_line: int
    text: str


@dataclass
class Rendered:
    """The rendered body, its links and where each paragraph sits.

    ``paragraphs`` are (start, end) offsets in ``text.plain`` (kept for callers
    that slice the text; a wrapped paragraph's slice includes the bars); prefer
    ``blocks``/:meth:`paragraph_at`.  ``truncated`` says only the start of a big
    body was rendered (``max_chars``); :meth:`resume` renders the rest.
    """

    text: Text
    links: list[Link] = field(default_factory=list)
    paragraphs: list[tuple[int, int]] = field(default_factory=list)
    blocks: list[Paragraph] = field(default_factory=list)
    truncated: bool = False
    _more: Callable[[int | None], Rendered] | None = field(default=None, repr=False, compare=False)
    _next: Rendered | None = field(default=None, repr=False, compare=False)

    def paragraph_at(self, line: int) -> str:
        """The text of the paragraph shown on ``line`` (0-based, a line of ``text``).

        On a blank line, a rule or a table's header rule, the next paragraph; past
        the last one, "".
        """
        blocks = self.blocks
        i = bisect_right(blocks, line, key=lambda b: b.first_line) - 1
        if i >= 0 and blocks[i].last_line >= line:
            return blocks[i].text
        return blocks[i + 1].text if i + 1 < len(blocks) else ""

    def resume(self, max_chars: int | None = None) -> Rendered:
        """The whole body rendered (or ``max_chars`` more of it) when ``truncated``.

        Meant for a worker thread: the pane shows the first piece at once and
        swaps in this result when it is ready.  Asking twice gives the same object.
        """
        if self._more is None:
            return self
        if self._next is None:
            self._next = self._more(max_chars)
        return self._next


# Named styles, attribute-only where possible so any theme reads well.  The TUI may
# replace entries before rendering (looked up at call time).
STYLES: dict[str, Style] = {
    "link": Style(underline=True),
    "link_number": Style(dim=True),
    "image": Style(dim=True),
    "image_alt": Style(italic=True),
    "code": Style(color="cyan"),
    "quote_bar": Style(dim=True),
    "marker": Style(bold=True),
    "rule": Style(dim=True),
    "table_sep": Style(dim=True),
    "links_title": Style(bold=True),
}

OPENABLE = frozenset({"http", "https", "mailto"})

_WS = re.compile(r"[ \t\n\r\f\v]+")  # HTML whitespace; &nbsp; is kept on purpose
# The same, matching only what is not already one plain space: on a 9.5 MB line of
# words this touches the newlines, not every space.
_WS_RUN = re.compile(r"[ \t\n\r\f\v]{2,}|[\t\n\r\f\v]")
_URL = re.compile(r"https?://[^\s<>\"'`\[\]]+", re.IGNORECASE)
_URL_TRAIL = ".,;:!?'\"*_"

_LISTS = frozenset({"ul", "ol", "menu", "dir", "dl"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PRE = frozenset({"pre", "listing", "xmp", "plaintext"})
# Blocks with nothing special about them: a blank line around.
_SPECIAL = _LISTS | _HEADINGS | _PRE | {"blockquote", "table", "hr"}
_BLOCKS = (BLOCK_TAGS - _SPECIAL) | {"picture", "caption"}
_TABLE_BREAKS = _BLOCKS | _LISTS | _PRE | {"dd", "blockquote", "hr", "li"}
_INLINE_FLAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "cite": "italic",
    "dfn": "italic", "var": "italic", "del": "strike", "s": "strike", "strike": "strike",
    "code": "code", "kbd": "code", "samp": "code", "tt": "code", "u": "underline",
    "ins": "underline",
}  # fmt: skip
_FLAGS = ("bold", "italic", "strike", "code", "underline", "link", "quote", "pre")

Seg = tuple[str, Style | None]
_NONE: frozenset[int] = frozenset()
_UNSET = object()
_MAX_DEPTH = 24  # unclosed <ul>/<blockquote> must not make every block cost O(n)
_MIN_TEXT = 12  # cells of text a line keeps however deep the indentation
_MIN_ROOM = 8  # an over-long URL starts on the current line when this much is left
_BREAK_AFTER = ("/", "?", "&", "#", "=", "-", "_", ".", ",", ";", ":", "~", "+", "|")


# --- widths and wrapping ------------------------------------------------------------

_narrow_cells: frozenset[str] | None = None


def _narrow_set() -> frozenset[str]:
    """Characters one cell wide by Rich's own measure (built once, on first use)."""
    global _narrow_cells
    if _narrow_cells is None:
        chars = (chr(cp) for cp in range(0x20, 0x3000) if not 0x7F <= cp < 0xA0)
        _narrow_cells = frozenset(c for c in chars if get_character_cell_size(c) == 1)
    return _narrow_cells


def _is_narrow(s: str) -> bool:
    """Whether every character is one cell: then lengths are widths (fast paths)."""
    return s.isascii() or _narrow_set().issuperset(s)


def _cut_point(text: str, a: int, b: int, room: int, narrow: bool) -> int:
    """Where the first piece of the unbreakable ``text[a:b]`` ends, given ``room`` cells.

    After a URL-ish separator ("/", "?", "&", "-", ".") in the last two thirds of
    the room when there is one, else where the room ends (at least one character).
    """
    if narrow:
        limit = min(b, a + room)
    else:
        limit, used = a, 0
        while limit < b:
            w = get_character_cell_size(text[limit])
            if used + w > room:
                break
            used += w
            limit += 1
    if limit >= b:
        return b
    lo = a + max(1, (limit - a) // 3)
    best = max(text.rfind(ch, lo, limit) for ch in _BREAK_AFTER)
    return best + 1 if best >= 0 else max(limit, a + 1)


def _wrap(text: str, width: int) -> list[tuple[int, int]]:
    """Greedy word wrap of one line of text into (start, end) offsets.

    Lines break at spaces (which are dropped); a word longer than a line is cut
    (:func:`_cut_point`) and starts on the current line if enough room is left.
    Linear: per output line, a few ``str.rfind`` calls.
    """
    n = len(text)
    narrow = _is_narrow(text)
    if (n if narrow else cell_len(text)) <= width:
        end = n
        while end and text[end - 1] == " ":
            end -= 1
        return [(0, end)] if end else []
    if not narrow:
        return _wrap_wide(text, width)
    lines: list[tuple[int, int]] = []
    rfind, find = text.rfind, text.find
    pos = 0
    while pos < n:
        if n - pos <= width:
            end = n
            while end > pos and text[end - 1] == " ":
                end -= 1
            if end > pos:
                lines.append((pos, end))
            break
        sp = rfind(" ", pos + 1, pos + width + 1)
        if sp > pos:
            end = sp
            while end > pos and text[end - 1] == " ":
                end -= 1
            nxt = sp + 1
            while nxt < n and text[nxt] == " ":
                nxt += 1
            room = width - (nxt - pos)
            if end > pos and room >= _MIN_ROOM and n - nxt > width:
                tok = find(" ", nxt, nxt + width + 1)
                if tok < 0:  # the next word is longer than a whole line: start it here
                    tok = find(" ", nxt)
                    cut = _cut_point(text, nxt, n if tok < 0 else tok, room, True)
                    lines.append((pos, cut))
                    pos = cut
                    continue
            if end > pos:
                lines.append((pos, end))
            pos = nxt
            continue
        tok = find(" ", pos + 1)
        cut = _cut_point(text, pos, n if tok < 0 else tok, width, True)
        lines.append((pos, cut))
        pos = cut
        while pos < n and text[pos] == " ":
            pos += 1
    return lines


def _wrap_wide(text: str, width: int) -> list[tuple[int, int]]:
    """:func:`_wrap` for text with wide (CJK, emoji) or zero-width characters."""
    lines: list[tuple[int, int]] = []
    start = end = used = 0  # the line being filled: text[start:end], ``used`` cells
    open_line = False
    off = 0
    for word in text.split(" "):
        a = off
        off += len(word) + 1
        if not word:
            continue
        b = a + len(word)
        w = cell_len(word)
        if open_line and used + 1 + w <= width:
            end, used = b, used + 1 + w
            continue
        if open_line and w > width and width - used - 1 >= _MIN_ROOM:
            cut = _cut_point(text, a, b, width - used - 1, False)
            lines.append((start, cut))
            w -= cell_len(text[a:cut])
            a, open_line = cut, False
        elif open_line:
            lines.append((start, end))
            open_line = False
        while w > width:  # a word longer than a line: piece by piece
            cut = _cut_point(text, a, b, width, False)
            lines.append((a, cut))
            w -= cell_len(text[a:cut])
            a = cut
        if a < b:
            start, end, used, open_line = a, b, w, True
    if open_line:
        lines.append((start, end))
    return lines


def _fold(text: str, width: int) -> list[tuple[int, int]]:
    """Preformatted text: hard folds at the width, spaces kept."""
    n = len(text)
    if not n:
        return [(0, 0)]
    if _is_narrow(text):
        return [(i, min(i + width, n)) for i in range(0, n, width)]
    lines: list[tuple[int, int]] = []
    start = used = 0
    for i, ch in enumerate(text):
        w = get_character_cell_size(ch)
        if used + w > width and i > start:
            lines.append((start, i))
            start, used = i, 0
        used += w
    lines.append((start, n))
    return lines


def _slice(segs: list[Seg], bounds: list[tuple[int, int]]) -> list[list[Seg]]:
    """Cut styled runs at line bounds (offsets into their joined text)."""
    if len(segs) == 1:
        s, st = segs[0]
        return [[(s[a:b], st)] for a, b in bounds]
    out: list[list[Seg]] = []
    i, off, count = 0, 0, len(segs)
    for a, b in bounds:
        while i < count and off + len(segs[i][0]) <= a:
            off += len(segs[i][0])
            i += 1
        line: list[Seg] = []
        j, j_off = i, off
        while j < count and j_off < b:
            s, st = segs[j]
            size = len(s)
            lo, hi = max(a - j_off, 0), min(b - j_off, size)
            if hi > lo:
                line.append((s if lo == 0 and hi == size else s[lo:hi], st))
            j_off += size
            j += 1
        out.append(line)
    return out


def wrap_text(text: str, width: int) -> list[str]:
    """``text`` (one line) word-wrapped to ``width`` cells, long words cut sensibly.

    The renderer's wrapping, for callers that lay out their own lines.
    """
    return [text[a:b] for a, b in _wrap(text, max(1, width))]


def _origin(base_url: str) -> str:
    """The "https://host" of an http(s) base URL, for joining "/path" links cheaply."""
    try:
        parts = urlsplit(base_url)
    except ValueError:
        return ""
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return f"{parts.scheme.lower()}://{parts.netloc}"
    return ""


def _safe_url(href: str | None, base_url: str, origin: str = "") -> str | None:
    """Absolute http(s)/mailto URL, or None for anything not safe to open.

    ``origin`` (see :func:`_origin`) lets a root-relative "/path" skip urljoin,
    a third of the cost of a page of 100,000 links.
    """
    if not href:
        return None
    href = clean_text(href).strip()
    if "\n" in href or "\t" in href:
        href = href.replace("\n", "").replace("\t", "")
    if not href or href[0] == "#":
        return None  # in-page anchors (footnotes) are not worth a number
    if " " in href:
        href = href.replace(" ", "%20")
    if "[" not in href and href[:8].lower().startswith(("http://", "https://")):
        return href  # the common case (a hot path: no parse), and urljoin is slow
    if origin and href[0] == "/" and href[1:2] not in ("/", "\\") and "/." not in href:
        return origin + href
    if not base_url and href.startswith("//"):
        href = "https:" + href
    return resolve_link(href, base_url, OPENABLE) or None


class _Inline:
    """Inline runs of one block (or table cell), collapsing whitespace as they come."""

    __slots__ = ("flat", "segs", "space")

    def __init__(self, flat: bool = False) -> None:
        self.segs: list[Seg] = []
        self.space = True  # at a line start or after a space: swallow leading spaces
        self.flat = flat  # table cells: line breaks become spaces

    def text(self, s: str, style: Style | None) -> None:
        if self.space:
            s = s.lstrip(" ")
        if s:
            self.segs.append((s, style))
            self.space = s[-1] == " "

    def raw(self, s: str, style: Style | None) -> None:
        if s:
            self.segs.append((s, style))
            self.space = s[-1] in " \n"

    def marker(self, s: str, style: Style | None) -> None:
        """Glue a marker like "[3]" to the preceding word, not after its space."""
        segs = self.segs
        if segs and segs[-1][0].endswith(" ") and segs[-1][0].strip():
            last, st = segs[-1]
            segs[-1] = (last.rstrip(" "), st)
            segs.append((s, style))
            segs.append((" ", None))
            self.space = True
        else:
            segs.append((s, style))
            self.space = False

    def newline(self) -> None:
        if self.flat:
            self.text(" ", None)
        else:
            self.segs.append(("\n", None))
            self.space = True


class _Container:
    __slots__ = ("counter", "kind", "marker", "ordered", "pad", "pending", "tag")

    def __init__(self, kind: str, tag: str, ordered: bool = False, marker: str = "") -> None:
        self.kind = kind  # "list", "li", "quote", "dd"
        self.tag = tag
        self.ordered = ordered
        self.counter = 1
        self.marker = marker
        self.pending = bool(marker)
        self.pad = " " * (cell_len(marker) + 1) if marker else ""


class _Table:
    __slots__ = ("cell", "heads", "in_head", "rows")

    def __init__(self) -> None:
        self.rows: list[list[_Inline]] = []
        self.heads: list[bool] = []  # a row is a header row when all its cells are
        self.cell: _Inline | None = None
        self.in_head = False

    def new_row(self) -> None:
        self.rows.append([])
        self.heads.append(True)
        self.cell = None

    def new_cell(self, header: bool, colspan: int = 1) -> _Inline:
        if not self.rows:
            self.new_row()
        cells = self.rows[-1]
        self.heads[-1] = self.heads[-1] and (header or self.in_head)
        self.cell = _Inline(flat=True)
        cells.append(self.cell)
        cells.extend(_Inline(flat=True) for _ in range(max(0, min(colspan, 20) - 1)))
        return self.cell


def _trim(line: list[Seg]) -> list[Seg]:
    """Strip whitespace at both ends of a line made of several runs."""
    a, b = 0, len(line)
    while a < b and not line[a][0].strip():
        a += 1
    while b > a and not line[b - 1][0].strip():
        b -= 1
    if a == b:
        return []
    out = line[a:b]
    s, st = out[0]
    if s[0].isspace():
        out[0] = (s.lstrip(), st)
    s, st = out[-1]
    if s[-1].isspace():
        out[-1] = (s.rstrip(), st)
    return out


def _split_lines(segs: list[Seg]) -> list[list[Seg]]:
    lines: list[list[Seg]] = [[]]
    for s, st in segs:
        if "\n" not in s:
            lines[-1].append((s, st))
            continue
        first, *rest = s.split("\n")
        if first:
            lines[-1].append((first, st))
        for part in rest:
            lines.append([(part, st)] if part else [])
    return lines


def _plain(line: Sequence[Seg]) -> str:
    return "".join(s for s, _ in line)


def _fit_prefix(prefix: list[Seg], room: int) -> list[Seg]:
    """The right-most ``room`` cells of an indentation too deep for the width."""
    out: list[Seg] = []
    for s, st in reversed(prefix):
        if room <= 0:
            break
        if len(s) > room:
            s = s[-room:]
        out.append((s, st))
        room -= len(s)
    return out[::-1]


class _Writer:
    """Lines out: prefixes, wrapping, blank lines between blocks, paragraph records."""

    def __init__(self, width_hint: int) -> None:
        self.width = max(_MIN_TEXT + 4, width_hint)
        self.styles = dict(STYLES)
        # A private copy: link numbers are told apart by identity when a paragraph's
        # quotable text is made, whatever the theme puts in STYLES.
        self.num = self.styles["link_number"].copy()
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.pos = 0  # characters written
        self.line = 0  # index of the line being written
        self.paragraphs: list[tuple[int, int]] = []
        self.blocks: list[Paragraph] = []
        self.links: list[Link] = []
        self.gap = 0  # newlines wanted before the next block: 1 or 2
        self.quotes: list[_Container] = []  # the quotes the last block was in
        self.stack: list[_Container] = []

    def quotable(self, line: list[Seg], pre: bool = False) -> str:
        """A logical line as a reader would quote it: no link numbers (nor indent)."""
        num = self.num
        text = "".join(s for s, st in line if st is not num)
        return text.rstrip() if pre else text.strip()

    def want_gap(self, n: int) -> None:
        if n <= self.gap:
            return
        if n > 1 and any(c.kind != "quote" for c in self.stack):
            n = 1  # lists stay tight, even with <p> inside items
        self.gap = max(self.gap, n)

    def prefixes(self) -> tuple[list[Seg], list[Seg]]:
        first: list[Seg] = []
        cont: list[Seg] = []
        bar = self.styles["quote_bar"]
        for c in self.stack:
            if c.kind == "quote":
                first.append(("│ ", bar))
                cont.append(("│ ", bar))
            elif c.kind == "li":
                pad = c.pad
                if c.pending:
                    first.append((c.marker + " ", self.styles["marker"]))
                    c.pending = False
                else:
                    first.append((pad, None))
                cont.append((pad, None))
            elif c.kind == "dd":
                first.append(("    ", None))
                cont.append(("    ", None))
        return first, cont

    def indent_width(self) -> int:
        width = 0
        for c in self.stack:
            if c.kind == "quote":
                width += 2
            elif c.kind == "li":
                width += len(c.pad)
            elif c.kind == "dd":
                width += 4
        return width

    def emit(
        self,
        lines: list[list[Seg]],
        *,
        record: str = "block",
        unrecorded: frozenset[int] = _NONE,
        pre: bool = False,
        hang: int = 0,
    ) -> None:
        """Write a block's logical lines, wrapped under their list/quote prefixes.

        ``record``: "block" makes the block one paragraph, "lines" one per logical
        line (table rows) except ``unrecorded`` ones, "none" nothing (rules).
        ``pre`` folds instead of word-wrapping; ``hang`` indents continuation lines.
        """
        if self.stack:
            quoting = [c for c in self.stack if c.kind == "quote"]
            quotes = len(quoting)
            first, cont = self.prefixes()
            indent = cell_len(_plain(cont))
            if indent > self.width - _MIN_TEXT:
                room = self.width - _MIN_TEXT
                first, cont = _fit_prefix(first, room), _fit_prefix(cont, room)
                indent = cell_len(_plain(cont))
        else:
            quoting, quotes, first, cont, indent = [], 0, [], [], 0
        bar = self.styles["quote_bar"]
        parts, spans = self.parts, self.spans
        pos, line_no = self.pos, self.line
        if pos:
            parts.append("\n")
            pos += 1
            line_no += 1
            if self.gap >= 2:
                # The blank line between two paragraphs of one quote keeps its bar
                # (the bars of the quotes both paragraphs are in, not of a new quote).
                shared = 0
                for a, b in zip(quoting, self.quotes, strict=False):
                    if a is not b:
                        break
                    shared += 1
                if shared:
                    s = " ".join("│" * shared)
                    parts.append(s)
                    spans.append(Span(pos, pos + len(s), bar))
                    pos += len(s)
                parts.append("\n")
                pos += 1
                line_no += 1
        self.gap = 0
        self.quotes = quoting
        bars = " ".join("│" * quotes)
        width = max(_MIN_TEXT, self.width - indent)
        hang_pad: list[Seg] = [(" " * hang, None)] if hang else []
        start = -1
        block_first = line_no
        texts: list[str] = []
        prefix = first
        for i, logical in enumerate(lines):
            if i:
                parts.append("\n")
                pos += 1
                line_no += 1
            if not logical:
                if bars:
                    parts.append(bars)
                    spans.append(Span(pos, pos + len(bars), bar))
                    pos += len(bars)
                texts.append("")
                prefix = cont
                continue
            plain = logical[0][0] if len(logical) == 1 else _plain(logical)
            if len(plain) <= width - hang and plain.isascii() and plain[-1] != " ":
                rows = [logical]  # the common case: a short line that fits
            else:
                bounds = _fold(plain, width) if pre else _wrap(plain, width - hang)
                if len(bounds) == 1 and bounds[0] == (0, len(plain)):
                    rows = [logical]
                else:
                    rows = _slice(logical, bounds) if bounds else [[]]
            line_start = -1
            row_first = line_no
            for k, row in enumerate(rows):
                if k:
                    parts.append("\n")
                    pos += 1
                    line_no += 1
                    segs = [*cont, *hang_pad, *row] if hang_pad else [*cont, *row]
                else:
                    segs = [*prefix, *row] if prefix else row
                    line_start = pos + sum(len(s) for s, _ in prefix)
                for s, st in segs:  # the hot loop
                    if s:
                        parts.append(s)
                        end = pos + len(s)
                        if st is not None:
                            # One span for touching runs of one look ("[img", " 3",
                            # ": " are three runs so that quoting can drop the " 3").
                            if spans and spans[-1].end == pos and spans[-1].style == st:
                                spans[-1] = Span(spans[-1].start, end, st)
                            else:
                                spans.append(Span(pos, end, st))
                        pos = end
            prefix = cont
            if record == "lines":
                if i not in unrecorded:
                    self.paragraphs.append((line_start, pos))
                    self.blocks.append(Paragraph(row_first, line_no, self.quotable(logical, pre)))
            elif record == "block":
                texts.append(self.quotable(logical, pre))
                if start < 0:
                    start = line_start
        self.pos, self.line = pos, line_no
        if record == "block" and start >= 0:
            self.paragraphs.append((start, pos))
            self.blocks.append(Paragraph(block_first, line_no, "\n".join(texts).strip("\n")))

    def rendered(self, truncated: bool = False) -> Rendered:
        text = Text("".join(self.parts), spans=list(self.spans), end="")
        return Rendered(text, list(self.links), list(self.paragraphs), list(self.blocks), truncated)


class _Renderer(_Writer, HtmlTokenizer):
    def __init__(self, base_url: str, width_hint: int) -> None:
        super().__init__(width_hint)
        self.base_url = base_url
        self.origin = _origin(base_url) if base_url else ""
        self.by_url: dict[str, Link] = {}
        # state
        self.buf = _Inline()
        self.buf_pre = False
        self.skip = ""  # the hidden element being skipped...
        self.skip_depth = 0  # ...and how many of it are open
        self.media_done = True
        self.flags = dict.fromkeys(_FLAGS, 0)
        self.heading = 0
        self.table: _Table | None = None
        self.table_nest = 0
        self.anchor: Link | None = None
        self.anchor_open = False
        self.anchor_dirty = False
        self.anchor_text: list[str] = []
        self.pre_col = 0
        self.supsub: list[tuple[str, _Inline, int]] = []
        self.math: MathCollector | None = None
        self.cur_style: Style | object | None = _UNSET
        self._style_cache: dict[tuple[bool, ...], Style | None] = {}

    # -- styles ---------------------------------------------------------------
    def bump(self, flag: str, delta: int) -> None:
        value = self.flags[flag] + delta
        self.flags[flag] = value if value > 0 else 0
        self.cur_style = _UNSET

    def set_heading(self, level: int) -> None:
        self.heading = level
        self.cur_style = _UNSET

    def style(self) -> Style | None:
        """The style for text at this point (cached until a flag changes)."""
        if self.cur_style is not _UNSET:
            return self.cur_style  # type: ignore[return-value]
        f = self.flags
        key = (
            bool(f["bold"] or self.heading),
            bool(f["italic"] or f["quote"]),
            bool(f["strike"]),
            bool(f["code"] or f["pre"]),
            bool(f["underline"] or f["link"] or self.heading in (1, 2)),
        )
        if key in self._style_cache:
            self.cur_style = self._style_cache[key]
            return self.cur_style
        bold, italic, strike, code, underline = key
        style: Style | None = None
        if any(key):
            style = Style(
                bold=bold or None,
                italic=italic or None,
                strike=strike or None,
                underline=underline or None,
            )
            if code:
                style = self.styles["code"] + style
        self._style_cache[key] = self.cur_style = style
        return style

    # -- blocks ---------------------------------------------------------------
    def flush(self) -> None:
        """End the current block of inline text."""
        if self.anchor_open and self.anchor_dirty and self.table is None:
            self.link_marker()
        buf, pre = self.buf, self.buf_pre
        self.buf_pre = bool(self.flags["pre"])
        self.pre_col = 0
        if self.supsub:
            self.supsub.clear()
        if not buf.segs:
            buf.space = True
            return
        self.buf = _Inline()
        if not pre and not any(s == "\n" for s, _ in buf.segs):
            line = _trim(buf.segs)  # the common case: one line, no <br>
            if line:
                self.emit([line])
            return
        lines = _split_lines(buf.segs)
        if pre:
            a, b = 0, len(lines)
            while a < b and not _plain(lines[a]).strip():
                a += 1  # blank lines at a block's edge would pile up with the gap
            while b > a and not _plain(lines[b - 1]).strip():
                b -= 1
            lines = lines[a:b]
        else:
            kept: list[list[Seg]] = []
            for line in lines:
                line = _trim(line)
                if line or (kept and kept[-1]):
                    kept.append(line)
            while kept and not kept[-1]:
                kept.pop()
            lines = kept
        if lines:
            self.emit(lines, pre=pre)

    def sink(self) -> _Inline:
        if self.table is not None:
            return self.table.cell or self.table.new_cell(False)
        return self.buf

    # -- links ----------------------------------------------------------------
    def number(self, url: str, text: str, kind: str) -> Link:
        link = self.by_url.get(url)
        if link is None:
            link = Link(len(self.links) + 1, url, text, kind)
            self.links.append(link)
            self.by_url[url] = link
        elif not link.text and text:
            link.text = text
        return link

    def link_marker(self) -> None:
        if self.anchor is not None:
            self.sink().marker(f"[{self.anchor.number}]", self.num)
        self.anchor_dirty = False

    def open_anchor(self, href: str | None) -> None:
        if self.anchor_open:
            self.close_anchor()
        url = _safe_url(href, self.base_url, self.origin)
        self.anchor = self.number(url, "", "link") if url else None
        self.anchor_open = True
        self.anchor_dirty = False
        self.anchor_text = []
        self.bump("link", self.anchor is not None)

    def close_anchor(self) -> None:
        if not self.anchor_open:
            return
        if self.anchor is not None:
            if not self.anchor.text:
                self.anchor.text = _WS.sub(" ", "".join(self.anchor_text)).strip()
            if self.anchor_dirty or not self.anchor_text:
                self.link_marker()
            self.bump("link", -1)
        self.anchor_open = False
        self.anchor = None

    def media(self, label: str, src: str | None, kind: str = "link") -> None:
        url = _safe_url(src, self.base_url, self.origin)
        style = self.styles["image"]
        sink = self.sink()
        sink.raw(f"[{label}", style)
        if url:
            sink.raw(f" {self.number(url, label, kind).number}", self.num)
        sink.raw("]", style)

    def image(self, attrs: dict[str, str]) -> None:
        if attrs.get("width") in ("0", "1") or attrs.get("height") in ("0", "1"):
            return  # tracking pixel
        if is_math_fallback(attrs):
            return  # the formula's MathML is rendered instead
        src = attrs.get("src")
        if not src or src.startswith("data:"):
            src = attrs.get("data-src") or attrs.get("data-lazy-src") or attrs.get("data-original")
        alt = _WS.sub(" ", clean_text(attrs.get("alt") or "")).strip()
        url = _safe_url(src, self.base_url, self.origin)
        sink = self.sink()
        dim = self.styles["image"]
        sink.raw("[img", dim)
        if url:
            sink.raw(f" {self.number(url, alt, 'image').number}", self.num)
        if alt:
            sink.raw(": ", dim)
            sink.raw(alt, self.styles["image_alt"])
        sink.raw("]", dim)
        if self.anchor_open:
            self.anchor_dirty = True
            self.anchor_text.append(alt)

    def end_math(self, math: MathCollector) -> None:
        said = math.text()
        if not said:
            return
        if math.display and self.table is None and not self.flags["pre"]:
            self.flush()
            self.want_gap(1)
            self.buf.text(said, self.style())
            self.flush()
            self.want_gap(1)
        else:
            self.sink().text(said, self.style())

    # -- tables ---------------------------------------------------------------
    def end_table(self) -> None:
        table, self.table = self.table, None
        if table is None:
            return
        rows: list[tuple[list[list[Seg]], bool]] = []
        for inline_cells, head in zip(table.rows, table.heads, strict=True):
            trimmed = [_trim(c.segs) for c in inline_cells]
            if any(trimmed):
                rows.append((trimmed, head))
        if not rows:
            return
        ncols = max(len(r) for r, _ in rows)
        widths = [0] * ncols
        sizes = [[cell_len(_plain(cell)) for cell in cells] for cells, _ in rows]
        for row_sizes in sizes:
            for j, size in enumerate(row_sizes):
                if size > widths[j]:
                    widths[j] = size
        keep = [j for j in range(ncols) if widths[j]]
        total = sum(widths[j] for j in keep) + 2 * (len(keep) - 1)
        sep = self.styles["table_sep"]
        lines: list[list[Seg]] = []
        rules: set[int] = set()
        bold = Style(bold=True)
        num = self.num

        def bolden(cell: list[Seg]) -> list[Seg]:
            return [(s, st if st is num else (bold + st if st else bold)) for s, st in cell]

        if len(keep) > 1 and total + self.indent_width() <= self.width:
            for i, (cells, head) in enumerate(rows):
                line: list[Seg] = []
                row_sizes = sizes[i]
                for n, j in enumerate(keep):
                    cell = cells[j] if j < len(cells) else []
                    if n:
                        line.append(("  ", None))
                    line.extend(bolden(cell) if head else cell)
                    pad = widths[j] - (row_sizes[j] if j < len(row_sizes) else 0)
                    if pad and n < len(keep) - 1:
                        line.append((" " * pad, None))
                lines.append(line)
                if head and (i + 1 == len(rows) or not rows[i + 1][1]):
                    rule = "  ".join("─" * widths[j] for j in keep)
                    rules.add(len(lines))
                    lines.append([(rule, sep)])
            self.emit(lines, record="lines", unrecorded=frozenset(rules))
            return
        for cells, head in rows:
            line = []
            for cell in cells:
                if not cell:
                    continue
                if line:
                    line.append((" | ", sep))
                line.extend(bolden(cell) if head else cell)
            lines.append(line)
        self.emit(lines, record="lines", hang=2)

    # -- tokenizer callbacks ----------------------------------------------------
    def handle_starttag(self, tag: str, attrs: str, closed: bool) -> None:
        if self.math is not None:
            self.math.start(tag, attrs, closed)
            return
        if self.skip:
            if tag == self.skip and not closed:
                self.skip_depth += 1
            elif tag == "source" and not self.media_done and self.skip in ("video", "audio"):
                self.media(self.skip, parse_attrs(attrs).get("src"))
                self.media_done = True
            elif tag == "body" and self.skip == "head":
                self.skip = ""
            return
        flag = _INLINE_FLAGS.get(tag)
        if flag is not None:
            if not closed:
                self.bump(flag, 1)
            return
        if tag == "a":
            self.open_anchor(parse_attrs(attrs).get("href"))
        elif tag == "br":
            if self.flags["pre"] and self.table is None:
                self.buf.raw("\n", None)
            else:
                self.sink().newline()
        elif tag == "img":
            self.image(parse_attrs(attrs))
        elif tag in HIDDEN_TAGS:
            self.start_skip(tag, attrs, closed)
            return
        elif tag == "math":
            if not closed:
                self.math = MathCollector(attrs)
            return
        elif tag == "span":
            if is_math_copy(tag, attrs) and not closed:
                self.start_skip(tag, attrs, closed)
            return
        elif tag in ("sup", "sub"):
            sink = self.sink()
            self.supsub.append((tag, sink, len(sink.segs)))
        elif tag == "q":
            self.sink().text("“", self.style())
        elif self.table is not None or self.table_nest:
            self.table_start(tag, attrs)
        else:
            self.block_start(tag, attrs)
        if closed and tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def start_skip(self, tag: str, raw: str, closed: bool) -> None:
        attrs = parse_attrs(raw) if tag in ("iframe", "video", "audio") else {}
        if tag == "iframe":
            self.media("iframe", attrs.get("src"))
        elif tag in ("video", "audio"):
            src = attrs.get("src")
            self.media_done = bool(src)
            if src:
                self.media(tag, src)
        if not closed and tag not in VOID_TAGS:
            self.skip, self.skip_depth = tag, 1

    def block_start(self, tag: str, attrs: str) -> None:
        if tag in _BLOCKS:
            if not self.flags["pre"]:
                self.flush()
                self.want_gap(2)
        elif tag in _HEADINGS:
            self.flush()
            self.want_gap(2)
            self.set_heading(int(tag[1]))
        elif tag in _LISTS:
            self.flush()
            self.want_gap(2)
            lst = _Container("list", tag, ordered=tag == "ol")
            if tag == "ol":
                start = parse_attrs(attrs).get("start")
                if start and start.strip().lstrip("-").isdigit():
                    lst.counter = int(start)
            self.push(lst)
        elif tag == "li":
            self.flush()
            self.want_gap(1)
            # An unclosed <li> ends where the next one starts.
            for i in range(len(self.stack) - 1, -1, -1):
                if self.stack[i].kind == "list":
                    self.truncate(i + 1)
                    break
            parent = self.stack[-1] if self.stack and self.stack[-1].kind == "list" else None
            marker = "•"
            if parent is not None and parent.ordered:
                value = parse_attrs(attrs).get("value")
                if value and value.strip().isdigit():
                    parent.counter = int(value)
                marker = f"{parent.counter}."
                parent.counter += 1
            self.push(_Container("li", tag, marker=marker))
        elif tag in ("dd", "dt"):
            self.flush()
            self.want_gap(1)
            self.pop_to("dd")
            if tag == "dd":
                self.push(_Container("dd", tag))
        elif tag == "blockquote":
            self.flush()
            self.want_gap(2)
            if self.push(_Container("quote", tag)):
                self.bump("quote", 1)
        elif tag in _PRE:
            self.flush()
            self.want_gap(2)
            self.bump("pre", 1)
            self.buf_pre = True
        elif tag == "hr":
            self.flush()
            self.want_gap(2)
            width = max(3, min(self.width, 80) - self.indent_width())
            self.emit([[("─" * width, self.styles["rule"])]], record="none")
            self.want_gap(2)
        elif tag == "table":
            self.flush()
            self.want_gap(2)
            self.table = _Table()

    def table_start(self, tag: str, attrs: str) -> None:
        """Inside a table everything is inline text of the current cell."""
        table = self.table
        if tag == "table":
            self.table_nest += 1
            self.sink().text(" ", None)
        elif table is None or self.table_nest:
            self.sink().text(" ", None)
        elif tag == "tr":
            table.new_row()
        elif tag in ("td", "th"):
            span = parse_attrs(attrs).get("colspan") or "1"
            table.new_cell(tag == "th", int(span) if span.strip().isdigit() else 1)
        elif tag == "thead":
            table.in_head = True
        elif tag in ("tbody", "tfoot"):
            table.in_head = False
        elif tag == "caption":
            table.new_row()
            table.new_cell(False)
        elif tag == "li":
            self.sink().text(" • ", None)
        elif tag in _HEADINGS:
            self.sink().text(" ", None)
            self.set_heading(int(tag[1]))
        elif tag in _TABLE_BREAKS:
            self.sink().text(" ", None)

    def handle_endtag(self, tag: str) -> None:
        if self.math is not None:
            if self.math.end(tag):
                math, self.math = self.math, None
                self.end_math(math)
            return
        if self.skip:
            if tag == self.skip:
                self.skip_depth -= 1
                if self.skip_depth <= 0:
                    self.skip = ""
            return
        flag = _INLINE_FLAGS.get(tag)
        if flag is not None:
            self.bump(flag, -1)
            return
        if tag == "a":
            self.close_anchor()
        elif tag in ("sup", "sub"):
            self.end_supsub(tag)
        elif tag == "q":
            self.sink().text("”", self.style())
        elif self.table is not None or self.table_nest:
            self.table_end(tag)
        else:
            self.block_end(tag)

    def end_supsub(self, tag: str) -> None:
        if not self.supsub or self.supsub[-1][0] != tag:
            return
        _, sink, idx = self.supsub.pop()
        if sink is not self.sink() or idx > len(sink.segs):
            return
        run = sink.segs[idx:]
        body = _plain(run).strip()
        short = script_text(body, sup=tag == "sup")
        if short is not None:
            sink.segs[idx:] = [(short, run[0][1])]
            sink.space = False
        elif body and tag == "sup":
            sink.segs.insert(idx, ("^", run[0][1]))

    def block_end(self, tag: str) -> None:
        if tag in _BLOCKS:
            if not self.flags["pre"]:
                self.flush()
                self.want_gap(2)
        elif tag in _HEADINGS:
            self.flush()
            self.set_heading(0)
            self.want_gap(2)
        elif tag in _LISTS:
            self.flush()
            self.pop_to("list")
            self.want_gap(2)
        elif tag == "li":
            self.flush()
            self.pop_to("li")
            self.want_gap(1)
        elif tag in ("dd", "dt"):
            self.flush()
            self.pop_to("dd")
            self.want_gap(1)
        elif tag == "blockquote":
            self.flush()
            self.pop_to("quote")
            self.want_gap(2)
        elif tag in _PRE and self.flags["pre"]:
            self.flush()
            self.bump("pre", -1)
            self.buf_pre = bool(self.flags["pre"])
            self.want_gap(2)

    def table_end(self, tag: str) -> None:
        if tag == "table":
            if self.table_nest:
                self.table_nest -= 1
                self.sink().text(" ", None)
            else:
                self.end_table()
                self.want_gap(2)
        elif self.table is None or self.table_nest:
            self.sink().text(" ", None)
        elif tag in ("td", "th", "tr", "caption"):
            self.table.cell = None
            if tag == "caption":
                self.table.new_row()
        elif tag == "thead":
            self.table.in_head = False
        elif tag in _HEADINGS:
            self.set_heading(0)
            self.sink().text(" ", None)
        elif tag in _TABLE_BREAKS:
            self.sink().text(" ", None)

    def push(self, container: _Container) -> bool:
        """Open a list/quote level; absurd nesting (broken HTML) stops adding levels."""
        if len(self.stack) >= _MAX_DEPTH:
            return False
        self.stack.append(container)
        return True

    def truncate(self, n: int) -> None:
        """Close the containers above level ``n`` (quotes included, so italics end)."""
        quotes = sum(c.kind == "quote" for c in self.stack[n:])
        del self.stack[n:]
        if quotes:
            self.bump("quote", -quotes)

    def pop_to(self, kind: str) -> bool:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].kind == kind:
                self.truncate(i)
                return True
        return False

    def handle_data(self, data: str) -> None:
        if self.math is not None:
            self.math.data(data)
            return
        if self.skip:
            return
        if self.flags["pre"] and self.table is None:
            self.pre_text(data)
            return
        s = clean_text(_WS_RUN.sub(" ", data))
        if not s:
            return
        table = self.table
        if table is not None and table.cell is None and s == " ":
            return  # whitespace between table tags
        style = self.cur_style if self.cur_style is not _UNSET else self.style()
        (self.buf if table is None else self.sink()).text(s, style)  # type: ignore[arg-type]
        if self.anchor_open and s != " ":
            self.anchor_dirty = True
            self.anchor_text.append(s)

    def pre_text(self, data: str) -> None:
        data = clean_text(data)
        if not data:
            return
        if "\r" in data:
            data = data.replace("\r\n", "\n").replace("\r", "\n")
        if "\t" in data:
            out = []
            col = self.pre_col
            for i, part in enumerate(data.split("\n")):
                if i:
                    col = 0
                out.append((" " * col + part).expandtabs(8)[col:] if "\t" in part else part)
                col += len(out[-1])
            data = "\n".join(out)
        nl = data.rfind("\n")
        self.pre_col = len(data) - nl - 1 if nl >= 0 else self.pre_col + len(data)
        self.buf.raw(data, self.style())
        if self.anchor_open and data.strip():
            self.anchor_dirty = True
            self.anchor_text.append(data)

    def finish(self, truncated: bool = False) -> Rendered:
        if self.math is not None:  # never closed: say what it held
            math, self.math = self.math, None
            self.end_math(math)
        self.skip = ""
        self.close_anchor()
        if self.table is not None:
            self.end_table()
        self.flush()
        return self.rendered(truncated)


def render_html(
    html: str,
    base_url: str = "",
    *,
    width_hint: int = 80,
    max_chars: int | None = None,
) -> Rendered:
    """Render an HTML body at ``width_hint`` cells; links and images get numbers.

    Relative links resolve against ``base_url``.  With ``max_chars``, a longer
    body is rendered only up to about that many characters of HTML (the result
    says ``truncated``; :meth:`Rendered.resume` gives the rest), so the pane can
    show the start of a multi-megabyte body at once.
    """
    html = html or ""
    renderer = _Renderer(base_url or "", width_hint)
    if max_chars is None or len(html) <= max_chars:
        renderer.scan(html)
        return renderer.finish()
    done = renderer.scan(html, 0, max(1, max_chars))
    if done >= len(html):
        return renderer.finish()
    rendered = renderer.finish(truncated=True)

    def more(extra: int | None) -> Rendered:
        budget = None if extra is None else done + extra
        return render_html(html, base_url, width_hint=width_hint, max_chars=budget)

    rendered._more = more
    return rendered


def _split_url(url: str) -> str:
    """Drop trailing punctuation that ends a sentence rather than the URL."""
    while url:
        last = url[-1]
        unbalanced = last == ")" and url.count("(") < url.count(")")
        if last not in _URL_TRAIL and not unbalanced:
            break
        url = url[:-1]
    return url


def render_plain(text: str, *, width_hint: int = 80, max_chars: int | None = None) -> Rendered:
    """Plain text body: keep its line breaks, number bare http(s) URLs, wrap at the width.

    ``max_chars`` works as in :func:`render_html`.
    """
    text = text or ""
    cut = len(text)
    if max_chars is not None and len(text) > max_chars:
        cut = text.find("\n", max_chars)
        if cut < 0 or cut > max_chars + 4096:
            space = text.find(" ", max_chars, max_chars + 4096)
            cut = space if space >= 0 else max_chars
    writer = _Writer(width_hint)
    _plain_body(writer, text[:cut])
    if cut >= len(text):
        return writer.rendered()
    rendered = writer.rendered(truncated=True)

    def more(extra: int | None) -> Rendered:
        budget = None if extra is None else cut + extra
        return render_plain(text, width_hint=width_hint, max_chars=budget)

    rendered._more = more
    return rendered


def _plain_body(writer: _Writer, text: str) -> None:
    text = clean_text(text)
    if "\t" in text:
        text = text.expandtabs(8)
    by_url: dict[str, Link] = {}
    links = writer.links
    num_style, link_style = writer.num, writer.styles["link"]
    block: list[list[Seg]] = []
    for raw in text.split("\n"):
        line = raw.rstrip()
        if not line.strip():
            if block:
                writer.emit(block)
                writer.want_gap(2)
                block = []
            continue
        segs: list[Seg] = []
        pos = 0
        for m in _URL.finditer(line):
            url = _split_url(m.group())
            if len(url) <= len("https://"):
                continue
            if m.start() > pos:
                segs.append((line[pos : m.start()], None))
            link = by_url.get(url)
            if link is None:
                link = Link(len(links) + 1, url, url)
                links.append(link)
                by_url[url] = link
            segs.append((url, link_style))
            segs.append((f"[{link.number}]", num_style))
            pos = m.start() + len(url)
        if pos < len(line):
            segs.append((line[pos:], None))
        block.append(segs)
    if block:
        writer.emit(block)


def link_list(links: list[Link], width: int | None = None) -> Text:
    """The "Links:" footer, one "[n] url" per link; empty when there are none.

    With ``width`` (the pane's), a long URL wraps under itself: the number and
    the start of the URL stay on one line, and the URL breaks after a "/", "?",
    "&"... rather than anywhere.
    """
    out = Text(end="")
    if not links:
        return out
    num = STYLES["link_number"]
    out.append("Links:", style=STYLES["links_title"])
    for link in links:
        out.append("\n")
        head = f"[{link.number}] "
        url = clean_text(link.url).replace("\n", "")
        tail = f" ({link.kind})" if link.kind != "link" else ""
        out.append(head, style=num)
        if width is None:
            out.append(url)
            out.append(tail, style=num)
            continue
        segs: list[Seg] = [(url, None), (tail, num)]
        full = url + tail
        bounds = _wrap(full, max(_MIN_TEXT, width - len(head)))
        for k, row in enumerate(_slice(segs, bounds)):
            if k:
                out.append("\n" + " " * len(head))
            for s, st in row:
                out.append(s, style=st)
    return out
