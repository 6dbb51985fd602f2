"""Rich-text facets for Bluesky posts: links, mentions and hashtags in post text.

Bluesky shows a post's text as plain text unless `facets` say which byte ranges
are links, mentions or tags (`app.bsky.richtext.facet`).  Offsets count **UTF-8
bytes** (start inclusive, end exclusive), not Python code points: "Café ☕ " is
7 code points but 10 bytes.

Detection follows the reference client (`@atproto/api` `detectFacets`):
- links: `http(s)://` followed by non-space, preceded by start, space or `(`; one
  trailing `.,;:!?` is dropped, then a `)` when the URL has no `(`.  Bare domains
  ("example.com") are left alone: telling them from file names needs a TLD list.
- mentions: `@handle` preceded by start, space or `(`, where the handle has the
  atproto handle syntax.  A mention needs a DID, which only the server knows, so
  the feature carries the `handle` and the client swaps in the DID after
  `com.atproto.identity.resolveHandle` (see `resolve_mentions`), dropping those
  that do not resolve.
- tags: `#tag` or `＃tag` preceded by start or space, not all digits, trailing
  punctuation dropped, at most 64 graphemes; `tag` holds the text without `#`.
Pure: no I/O.  With the API clients because the Bluesky client builds the post
record from them; ``veille.share`` sits above the clients.
"""

from __future__ import annotations

from typing import Any

import regex

from veille.clients.length import graphemes

__all__ = [
    "LINK",
    "MENTION",
    "TAG",
    "byte_offsets",
    "detect_facets",
    "mention_handles",
    "resolve_mentions",
]

LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
TAG = "app.bsky.richtext.facet#tag"

_URL = regex.compile(r"(?:^|\s|\()(https?://\S+)", regex.IGNORECASE)
# ASCII \b like JavaScript's, so "@alice.testé" still ends at "alice.test".
_MENTION = regex.compile(r"(?:^|\s|\()@([a-zA-Z0-9.-]+)\b", regex.ASCII)
# atproto handle syntax (interop-syntax/handle_syntax_*): labels, then a TLD that
# starts with a letter; 253 characters at most.
_HANDLE = regex.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
# Zero-width and soft-hyphen characters end a tag, as in the reference TAG_REGEX.
_ZW = r"\u00AD\u2060\u200A\u200B\u200C\u200D\u20E2"
# The reference TAG_REGEX, `[^\s]*[^\d\s\p{P}]+[^\s]*`, matches the whole run of
# non-space characters when it holds one that is not a digit nor punctuation:
# written as a run plus a check, so a long run cannot make the engine backtrack.
_TAG = regex.compile(rf"(?:^|\s)([#＃])(?!\uFE0F)([^\s{_ZW}]+)")
_TAG_LETTER = regex.compile(r"[^0-9\p{P}]")
_TRAILING_PUNCT = regex.compile(r"\p{P}+$")
_MAX_TAG_GRAPHEMES = 64
_MAX_TAG_BYTES = 640


def byte_offsets(text: str) -> list[int]:
    """`offsets[i]` = UTF-8 byte offset of code point `i` (and `len(text)` → total)."""
    offsets = [0] * (len(text) + 1)
    total = 0
    for i, ch in enumerate(text):
        offsets[i] = total
        total += len(ch.encode("utf-8", "surrogatepass"))
    offsets[len(text)] = total
    return offsets


def _facet(offsets: list[int], start: int, end: int, feature: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": {"byteStart": offsets[start], "byteEnd": offsets[end]},
        "features": [feature],
    }


def _trim_url(url: str) -> str:
    """Drop punctuation that ends a sentence rather than the URL."""
    while url[-1] in ".,;:!?\"'" or (url[-1] == ")" and "(" not in url):
        url = url[:-1]
    return url


def _links(text: str, offsets: list[int]) -> list[dict[str, Any]]:
    facets = []
    for m in _URL.finditer(text):
        url = _trim_url(m.group(1))
        if len(url) <= len("https://") or not regex.match(r"https?://[^/?#]", url, regex.I):
            continue
        start = m.start(1)
        facets.append(_facet(offsets, start, start + len(url), {"$type": LINK, "uri": url}))
    return facets


def _mentions(text: str, offsets: list[int]) -> list[dict[str, Any]]:
    facets = []
    for m in _MENTION.finditer(text):
        handle = m.group(1)
        if len(handle) > 253 or not _HANDLE.fullmatch(handle):
            continue  # probably not a handle ("@home", an e-mail's tail...)
        start = m.start(1) - 1  # include the "@"
        feature = {"$type": MENTION, "handle": handle.lower()}
        facets.append(_facet(offsets, start, m.end(1), feature))
    return facets


def _tags(text: str, offsets: list[int]) -> list[dict[str, Any]]:
    facets = []
    for m in _TAG.finditer(text):
        if not _TAG_LETTER.search(m.group(2)):
            continue  # "#1", "#2024!": numbers, not tags
        tag = _TRAILING_PUNCT.sub("", m.group(2))
        if not tag:
            continue
        if graphemes(tag) > _MAX_TAG_GRAPHEMES:
            continue
        if len(tag.encode("utf-8", "surrogatepass")) > _MAX_TAG_BYTES:
            continue
        start = m.start(1)
        facets.append(_facet(offsets, start, start + 1 + len(tag), {"$type": TAG, "tag": tag}))
    return facets


def detect_facets(text: str) -> list[dict[str, Any]]:
    """Link, mention and tag facets of `text`, sorted by position.

    Mention features hold `{"$type": MENTION, "handle": ...}`: not valid for the
    server until `resolve_mentions` replaces them with a DID.
    """
    offsets = byte_offsets(text)
    facets = _links(text, offsets) + _mentions(text, offsets) + _tags(text, offsets)
    facets.sort(key=lambda f: (f["index"]["byteStart"], f["index"]["byteEnd"]))
    return _drop_overlaps(facets)


def _drop_overlaps(facets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the first of overlapping facets: the app cannot render nested ones."""
    kept: list[dict[str, Any]] = []
    end = -1
    for facet in facets:
        if facet["index"]["byteStart"] >= end:
            kept.append(facet)
            end = facet["index"]["byteEnd"]
    return kept


def mention_handles(facets: list[dict[str, Any]]) -> list[str]:
    """The distinct handles that still need a DID, in order of appearance."""
    seen: dict[str, None] = {}
    for facet in facets:
        for feature in facet["features"]:
            if feature.get("$type") == MENTION and "did" not in feature:
                seen.setdefault(feature["handle"], None)
    return list(seen)


def resolve_mentions(facets: list[dict[str, Any]], dids: dict[str, str]) -> list[dict[str, Any]]:
    """Facets with each handle replaced by its DID; mentions of unknown handles dropped."""
    out = []
    for facet in facets:
        features = []
        for feature in facet["features"]:
            if feature.get("$type") == MENTION and "did" not in feature:
                did = dids.get(feature["handle"])
                if did is None:
                    continue
                feature = {"$type": MENTION, "did": did}
            features.append(feature)
        if features:
            out.append({"index": dict(facet["index"]), "features": features})
    return out
