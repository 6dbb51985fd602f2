"""share.facets: Bluesky rich-text facets with UTF-8 byte offsets (pure, no server)."""

from __future__ import annotations

from typing import Any

import pytest

from veille.clients.facets import (
    LINK,
    MENTION,
    TAG,
    byte_offsets,
    detect_facets,
    mention_handles,
    resolve_mentions,
)


def spans(text: str) -> list[tuple[str, str, str]]:
    """(feature type, the text the facet covers, its value) for each facet."""
    data = text.encode("utf-8")
    out = []
    for facet in detect_facets(text):
        index = facet["index"]
        (feature,) = facet["features"]
        covered = data[index["byteStart"] : index["byteEnd"]].decode("utf-8")
        value = feature.get("uri") or feature.get("tag") or feature.get("handle")
        out.append((feature["$type"].rsplit("#", 1)[1], covered, value))
    return out


def test_link_after_non_ascii_counts_bytes() -> None:
    text = "Café ☕ https://example.com"
    (facet,) = detect_facets(text)
    assert len("Café ☕ ") == 7 and len("Café ☕ ".encode()) == 10
    assert facet["index"] == {"byteStart": 10, "byteEnd": 29}
    assert facet["features"] == [{"$type": LINK, "uri": "https://example.com"}]


def test_hashtag_after_emoji_and_cjk() -> None:
    text = "👨‍👩‍👧 日本語の記事 #タグ と #veille"
    facets = detect_facets(text)
    prefix = "👨‍👩‍👧 日本語の記事 "
    assert facets[0]["index"]["byteStart"] == len(prefix.encode())
    assert facets[0]["index"]["byteEnd"] == len((prefix + "#タグ").encode())
    assert spans(text) == [("tag", "#タグ", "タグ"), ("tag", "#veille", "veille")]


def test_several_facets_in_order() -> None:
    text = "Lu sur https://a.example/x?y=1 via @alice.test #lecture #rss"
    assert spans(text) == [
        ("link", "https://a.example/x?y=1", "https://a.example/x?y=1"),
        ("mention", "@alice.test", "alice.test"),
        ("tag", "#lecture", "lecture"),
        ("tag", "#rss", "rss"),
    ]


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("see https://example.com/a.", "https://example.com/a"),
        ("see https://example.com/a, and", "https://example.com/a"),
        ("really? https://example.com/a?!", "https://example.com/a"),
        ("(see https://example.com/a)", "https://example.com/a"),
        ("(see https://example.com/a).", "https://example.com/a"),
        (
            "https://en.wikipedia.org/wiki/Rust_(language)",
            "https://en.wikipedia.org/wiki/Rust_(language)",
        ),
        ('"https://example.com/q"', None),  # not after start, space or "("
        ("« https://example.com/é »", "https://example.com/é"),
        ("HTTPS://EXAMPLE.COM/X", "HTTPS://EXAMPLE.COM/X"),
    ],
)
def test_link_trailing_punctuation(text: str, url: str | None) -> None:
    links = [s for s in spans(text) if s[0] == "link"]
    if url is None:
        assert links == []
    else:
        assert links == [("link", url, url)]


def test_not_links() -> None:
    assert spans("ftp://example.com example.com https:// http://") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#1 #2024 #123!", []),
        ("#ok. #fin!", [("tag", "#ok", "ok"), ("tag", "#fin", "fin")]),
        ("#2024rss", [("tag", "#2024rss", "2024rss")]),
        ("a#b not a tag", []),
        ("＃全角タグ", [("tag", "＃全角タグ", "全角タグ")]),
        ("#\ufe0f emoji variation", []),
        ("#café\u200bnext", [("tag", "#café", "café")]),
        (f"#{'a' * 64} #{'b' * 65}", [("tag", f"#{'a' * 64}", "a" * 64)]),
    ],
)
def test_hashtag_rules(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert spans(text) == expected


@pytest.mark.parametrize(
    ("text", "handles"),
    [
        ("hi @alice.test!", ["alice.test"]),
        ("(@Bob.Example.com)", ["bob.example.com"]),
        ("mail me@example.com", []),  # not after start, space or "("
        ("@home and @-bad.test", []),
        ("@alice.test. @alice.test", ["alice.test"]),
    ],
)
def test_mentions_carry_handles(text: str, handles: list[str]) -> None:
    facets = detect_facets(text)
    assert mention_handles(facets) == handles
    for facet in facets:
        (feature,) = facet["features"]
        if feature["$type"] == MENTION:
            covered = text.encode()[facet["index"]["byteStart"] : facet["index"]["byteEnd"]]
            assert covered.decode().lower() == "@" + feature["handle"]


def test_resolve_mentions_swaps_dids_and_drops_unknown() -> None:
    facets = detect_facets("Ça va @alice.test et @ghost.test ? #oui")
    resolved = resolve_mentions(facets, {"alice.test": "did:plc:abc"})
    features: list[dict[str, Any]] = [f["features"][0] for f in resolved]
    assert features == [
        {"$type": MENTION, "did": "did:plc:abc"},
        {"$type": TAG, "tag": "oui"},
    ]
    assert resolved[0]["index"]["byteStart"] == len("Ça va ".encode())
    assert "handle" not in str(resolved)


def test_byte_offsets_match_utf8() -> None:
    text = "aé☕𝄞"
    offsets = byte_offsets(text)
    assert offsets == [0, 1, 3, 6, 10]
    assert offsets[-1] == len(text.encode())


def test_long_run_is_fast_enough_to_finish() -> None:
    # A pathological run for a backtracking tag regex: must simply finish.
    text = "#" + "1" * 3000 + " " + "#" + "!" * 3000
    assert detect_facets(text) == []
