"""Untrusted text made safe to show, and cut to a length: the rules every layer shares.

Feed text ends up on a terminal.  Escape sequences in a title could set the
window title, plant OSC 8 hyperlinks, move the cursor or (with DCS) talk to the
terminal itself; bidi overrides can make text read differently from what it
is.  Everything that came from the network goes through :func:`clean_text`
(or :func:`clean_line`) once, at ingest, so later code can trust it.

Why here, in the domain, rather than next to the HTML reader in
:mod:`veille.render.hygiene` (which re-exports these three and stays the place
the renderer and the TUI import them from): the records need
:func:`first_words` (``Item.display_title``), and the URL and HTTP layers need
:func:`clean_line` for their messages, and none of them may depend on the
renderer.  Pure functions of their arguments, ``re`` only.
"""

from __future__ import annotations

import re

__all__ = ["TITLE_MAX", "TITLE_WORDS", "clean_line", "clean_text", "first_words", "title_words"]

#: A title made from a body (a post without a link, an entry without a title):
#: this many words, at most this many characters.
TITLE_WORDS = 12
TITLE_MAX = 80

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


def clean_text(s: str | None, *, strip_bom: bool = False) -> str:
    """Strip terminal escape sequences and dangerous control characters.

    Newlines and tabs survive (``\\r\\n`` and lone ``\\r`` become ``\\n``).
    ``strip_bom`` also drops U+FEFF: text about to be *posted* must not carry an
    invisible character that servers count and other clients may show.
    """
    if not s:
        return ""
    if not isinstance(s, str):
        s = str(s)
    if strip_bom and "\ufeff" in s:
        s = s.replace("\ufeff", "")
    if _CONTROLS.search(s) is None:  # the common case: nothing to do
        return s
    if "\r" in s:
        s = _NEWLINES.sub("\n", s)
    if "\x1b" in s or any(c in s for c in "\x90\x98\x9b\x9d\x9e\x9f"):
        s = _ESCAPES.sub("", s)
    return _CONTROLS.sub("", s)


def clean_line(s: str | None, *, limit: int | None = None, strip_bom: bool = False) -> str:
    """:func:`clean_text`, then one line: whitespace runs become one space.

    ``limit`` bounds the length (cut on a word boundary with "…", see
    :func:`first_words`): server error messages and reasons are untrusted and
    may be whole HTML pages.
    """
    line = _WS.sub(" ", clean_text(s, strip_bom=strip_bom)).strip()
    return line if limit is None else first_words(line, limit)


def first_words(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, cut on a word boundary with "…".

    The one "beginning of a text" helper: summaries, bounded messages and titles
    made from a body all cut the same way.  A word boundary is used when one is
    in the second half of the allowance, else the cut is hard.
    """
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace():  # else the cut already ends a word
        space = max(cut.rfind(" "), cut.rfind("\n"))
        if space > limit // 2:
            cut = cut[:space]
    return cut.rstrip(" \n\t,;:.-–—") + "…"


def title_words(text: str, words: int = TITLE_WORDS, limit: int = TITLE_MAX) -> str:
    """A title for something that has none: the first ``words`` words of ``text``, on
    one line, at most ``limit`` characters (:func:`first_words`).

    One rule for the stream's fallback title (``Item.display_title``) and for posts
    without a link (the Mastodon and Bluesky sources), so both look alike.
    """
    return first_words(" ".join(text.split()[:words]), limit)


_DIGITS = re.compile(r"(\d+)")


def natural_key(s: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key where "Feed 2" comes before "Feed 10" (as a file manager lists
    names), case-insensitive: a list of feeds is read by people, not by ``<``."""
    parts = _DIGITS.split(s.casefold())
    return tuple((1, int(p)) if i % 2 else (0, p) for i, p in enumerate(parts) if p)
