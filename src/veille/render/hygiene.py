"""Text hygiene for untrusted feed text.

Feed text ends up on a terminal.  Escape sequences in a title could set the
window title, plant OSC 8 hyperlinks, move the cursor or (with DCS) talk to the
terminal itself; bidi overrides can make text read differently from what it
is.  Everything that came from the network goes through :func:`clean_text`
(or :func:`clean_line`) once, at ingest, so later code can trust it.

Brackets are left alone on purpose: ``[b]`` is literal text here; the TUI must
never hand feed text to a markup parser (use ``Text``/``Content``).
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

__all__ = ["clean_line", "clean_text", "html_to_text"]

# Escape sequences first (so their parameters go too), then lone controls.
_ESCAPES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]            # CSI
    | (?:\x1b\]|\x9d) [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)          # OSC
    | (?:\x1b[PX^_]|[\x90\x98\x9e\x9f]) .*? (?:\x1b\\|\x9c)          # DCS SOS PM APC
    | \x1b [\x20-\x2f]* [\x30-\x7e]                                  # 2-char / nF escapes
    """,
    re.VERBOSE | re.DOTALL,
)
# C0 except \t and \n, DEL, C1, bidi embeddings/overrides/isolates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NEWLINES = re.compile(r"\r\n?")
_WS = re.compile(r"\s+")


def clean_text(s: str | None) -> str:
    """Strip terminal escape sequences and dangerous control characters.

    Newlines and tabs survive (``\\r\\n`` and lone ``\\r`` become ``\\n``).
    """
    if not s:
        return ""
    if not isinstance(s, str):
        s = str(s)
    if _CONTROLS.search(s) is None:  # the common case: nothing to do
        return s
    if "\r" in s:
        s = _NEWLINES.sub("\n", s)
    if "\x1b" in s or any(c in s for c in "\x90\x98\x9b\x9d\x9e\x9f"):
        s = _ESCAPES.sub("", s)
    return _CONTROLS.sub("", s)


def clean_line(s: str | None) -> str:
    """:func:`clean_text`, then one line: whitespace runs become one space."""
    return _WS.sub(" ", clean_text(s)).strip()


# --- HTML to plain text -------------------------------------------------------

_DROP = frozenset({"script", "style", "head", "template", "noscript", "iframe", "object", "svg"})
_BLOCK = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "aside", "nav", "main",
        "blockquote", "pre", "ul", "ol", "dl", "table", "figure", "figcaption",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "address", "details", "summary", "form",
    }
)  # fmt: skip
_LINE = frozenset({"br", "tr", "dt", "dd", "caption"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "source", "wbr", "col", "area"})
# Paragraph and line breaks are private-use markers while text is collected, so
# that whitespace collapsing (which also eats source newlines) spares them.
_PARA, _BR = "\ue000", "\ue001"
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_MARKS = re.compile(f" *([{_PARA}{_BR}]) *")
_MARK_RUN = re.compile(f"[{_PARA}{_BR}]+")
_CHUNK = 4096
_TAGS = re.compile(r"<[^>]*>?")


class _TextExtractor(HTMLParser):
    """Collects text; tolerant of broken markup (HTMLParser never validates)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._drop: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            if tag not in _VOID:
                self._drop.append(tag)
            return
        if self._drop:
            return
        if tag in _BLOCK:
            self.parts.append(_PARA)
        elif tag == "li":
            self.parts.append(_BR + "- ")
        elif tag in _LINE:
            self.parts.append(_BR)
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f" [{alt}] ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _DROP and self._drop and self._drop[-1] == tag:
            self._drop.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            if tag in self._drop:
                # Close up to the matching open tag: unbalanced markup must not
                # swallow the rest of the document.
                while self._drop and self._drop.pop() != tag:
                    pass
            return
        if self._drop:
            return
        if tag in _BLOCK:
            self.parts.append(_PARA)

    def handle_data(self, data: str) -> None:
        if not self._drop:
            self.parts.append(data)


def _breaks(m: re.Match[str]) -> str:
    run = m.group()
    return "\n" if run == _BR else "\n\n"


def _join(text: str) -> str:
    """Turn a run of break markers into one newline (a lone <br>) or a blank line."""
    text = _MARK_RUN.sub(_breaks, _MARKS.sub(r"\1", text))
    return "\n".join(line.strip() for line in text.split("\n")).strip("\n")


def _truncate(text: str, limit: int) -> str:
    """Cut to at most ``limit`` characters on a word boundary, adding "…"."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" \n\t,;:.-–—") + "…"


_DROP_BLOCKS = re.compile(
    r"<(script|style|head|template|svg|math|noscript)\b.*?</\1\s*>|<!--.*?(?:-->|$)", re.S | re.I
)
_OPEN_DROP = re.compile(r"<(script|style|head|template|svg|math|noscript)\b", re.I)
_PARA_TAGS = re.compile(
    r"<\s*/?\s*(?:p|div|h[1-6]|blockquote|pre|ul|ol|dl|table|section|article|header|footer"
    r"|figure|figcaption|hr)\b[^>]*>",
    re.I,
)
_LINE_TAGS = re.compile(r"<\s*/?\s*(?:br|li|tr|dt|dd)\b[^>]*>", re.I)
_ANY_TAG = re.compile(r"<[^>]*(?:>|$)")
_ODD_SPACE = re.compile(r"[\t\r\f\v\u00a0]")
_DROP_HINTS = ("<!--", "<script", "<style", "<head", "<template", "<svg", "<math", "<noscript")


def _fast_text(html: str, limit: int) -> str:
    """Summary text with few, static regex passes: ~10x faster than HTMLParser,
    and a summary only needs the start of the body.  It runs for every entry of
    every refresh (in the parser processes), so every pass here was measured."""
    chunk = html[: 4 * limit + 1000]
    low = chunk.lower()
    if any(h in low for h in _DROP_HINTS):
        chunk = _DROP_BLOCKS.sub(" ", chunk)
        m = _OPEN_DROP.search(chunk)  # an unclosed <script> cut by the slice
        if m:
            chunk = chunk[: m.start()]
    chunk = chunk.replace("\n", " ")
    if "<" in chunk:
        chunk = _PARA_TAGS.sub("\n\n", chunk)
        chunk = _LINE_TAGS.sub("\n", chunk)
        chunk = _ANY_TAG.sub("", chunk)
    text = clean_text(unescape(chunk) if "&" in chunk else chunk)
    text = _ODD_SPACE.sub(" ", text)
    while "  " in text:
        text = text.replace("  ", " ")
    text = "\n".join(line.strip() for line in text.split("\n"))
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def html_to_text(html: str | None, limit: int | None = None) -> str:
    """Readable plain text from an HTML fragment or page, already cleaned.

    Scripts and styles are dropped, entities decoded, block elements and
    ``<br>`` become line breaks, list items get a "- " bullet, and runs of
    spaces collapse.  With ``limit`` the result is at most that long.
    """
    if not html:
        return ""
    if limit is not None:
        return _truncate(_fast_text(html, limit), limit)
    html = clean_text(html)
    if "<" not in html and "&" not in html:
        text = _join(_SPACES.sub(" ", html))
    else:
        parser = _TextExtractor()
        try:
            if limit is None:
                parser.feed(html)
            else:
                # A summary needs the first few hundred characters, not a whole article:
                # feed in chunks and stop early (HTMLParser costs ~0.25 ms per KB).
                for start in range(0, len(html), _CHUNK):
                    parser.feed(html[start : start + _CHUNK])
                    if sum(map(len, parser.parts)) > 2 * limit + 200:
                        break
            parser.close()
            raw = "".join(parser.parts)
        except Exception:  # pragma: no cover - HTMLParser is lenient, but be sure
            raw = _TAGS.sub(" ", html)
        text = _join(_SPACES.sub(" ", raw))
        text = clean_text(text)  # entities may have decoded to controls
    if limit is not None:
        text = _truncate(text, limit)
    return text
