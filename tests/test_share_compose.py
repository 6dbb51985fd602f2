"""Share text: template filling, hashtags, quoting; and the Share record."""

from __future__ import annotations

import json

import pytest

from veille.config import SCHEMA
from veille.domain.share import Delivery, Share, idempotency_key
from veille.share.compose import (
    DEFAULT_TEMPLATE,
    hashtag_line,
    make_via,
    quote_block,
    render_text,
    suggest_hashtags,
)


def make_share(**kw: object) -> Share:
    base: dict[str, object] = {
        "id": "s1",
        "item_id": "i1",
        "comment": "Worth reading.",
        "created": "2026-11-27T10:00:00Z",
        "title": "On feeds",
        "link": "https://example.org/feeds",
        "via": "via Example Blog",
    }
    base.update(kw)
    return Share(**base)  # type: ignore[arg-type]


def test_default_template_matches_config() -> None:
    assert SCHEMA["share.template"].default == DEFAULT_TEMPLATE


def test_render_default() -> None:
    text = render_text(make_share())
    assert text == "Worth reading.\n\nOn feeds\nhttps://example.org/feeds\nvia Example Blog"


def test_empty_comment_leaves_no_blank_lead() -> None:
    text = render_text(make_share(comment="  \n \n"))
    assert text == "On feeds\nhttps://example.org/feeds\nvia Example Blog"


def test_blank_runs_collapse_and_no_trailing_whitespace() -> None:
    text = render_text(make_share(comment="One.   \n\n\n\n\nTwo.\t\n"))
    assert text.startswith("One.\n\nTwo.\n\nOn feeds")
    assert "\n\n\n" not in text
    assert all(line == line.rstrip() for line in text.split("\n"))
    assert text == text.strip()


def test_empty_fields_leave_no_holes() -> None:
    text = render_text(make_share(title="", via=""))
    assert text == "Worth reading.\n\nhttps://example.org/feeds"


def test_hashtags_appended_as_last_paragraph() -> None:
    text = render_text(make_share(hashtags=["IndieWeb", "#fediverse", "indieweb"]))
    assert text.endswith("via Example Blog\n\n#IndieWeb #fediverse")


def test_hashtags_placeholder_places_them() -> None:
    share = make_share(hashtags=["rss"])
    text = render_text(share, "{comment} {hashtags}\n{link}")
    assert text == "Worth reading. #rss\nhttps://example.org/feeds"


def test_template_braces_and_unknown_fields() -> None:
    share = make_share()
    text = render_text(share, "{{literal}} {nope} {title.__class__} {title}")
    assert text == "{literal}  {title.__class__} On feeds"


def test_untrusted_fields_are_cleaned() -> None:
    share = make_share(title="Evil\x1b[2J title\nover lines\u202e", comment="ok\x07")
    text = render_text(share)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "Evil title over lines" in text


def test_kind_accepted() -> None:
    share = make_share()
    assert render_text(share, kind="bluesky") == render_text(share, kind="mastodon")


def test_multiline_comment_keeps_paragraphs_and_quotes() -> None:
    comment = quote_block("They said\nthis.") + "\n\nAnd I agree."
    text = render_text(make_share(comment=comment))
    assert text.startswith("> They said\n> this.\n\nAnd I agree.\n\nOn feeds")


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (["machine learning", "Python", "python"], ["MachineLearning", "Python"]),
        (["2024", "#Rust", "open-source"], ["Rust", "OpenSource"]),
        (["café crème", "日本語", "web_dev"], ["CaféCrème", "日本語", "web_dev"]),
        (["iOS", "IOS", "C++", "C#"], ["iOS", "C"]),
        (["Science/Tech", "a, b"], ["Science", "Tech", "a", "b"]),
        (["  ", "!!!", "\x1b[31m"], []),
    ],
)
def test_suggest_hashtags(categories: list[str], expected: list[str]) -> None:
    assert suggest_hashtags(categories) == expected


def test_suggest_hashtags_limit() -> None:
    assert suggest_hashtags([f"tag{i}" for i in range(10)], limit=3) == ["tag0", "tag1", "tag2"]


def test_hashtag_line() -> None:
    assert hashtag_line(["#a", "b c", "A", "42"]) == "#a #BC"


def test_make_via() -> None:
    assert make_via("@alice@example.social") == "via @alice@example.social"
    assert make_via("", author="Jane Doe") == "via Jane Doe"
    assert make_via("") == ""


def test_quote_block() -> None:
    assert quote_block("line one\n\nline two  \n") == "> line one\n>\n> line two"


def test_share_round_trip_through_json() -> None:
    share = make_share(hashtags=["a"], language="fr", content_warning="cw")
    d = share.add_delivery("mastodon.social", "mastodon")
    d.status, d.url, d.attempts = "sent", "https://mastodon.social/@me/1", 1
    share.add_delivery("atom", "atom")
    again = Share.from_dict(json.loads(json.dumps(share.to_dict())))
    assert again == share
    assert isinstance(again.deliveries["atom"], Delivery)


def test_from_dict_ignores_unknown_keys() -> None:
    d = make_share().to_dict()
    d["future_field"] = 1
    d["deliveries"] = {"x": {"destination": "x", "kind": "command", "added_later": True}}
    share = Share.from_dict(d)
    assert share.deliveries["x"].kind == "command" and share.title == "On feeds"


def test_idempotency_key_stable_and_distinct() -> None:
    share = make_share()
    key = share.add_delivery("mastodon.social", "mastodon").idempotency_key
    assert key == idempotency_key("s1", "mastodon.social")
    assert key != idempotency_key("s1", "bsky")
    assert key != idempotency_key("s2", "mastodon.social")
    assert key.isascii() and len(key) <= 64
    assert share.add_delivery("mastodon.social", "mastodon").idempotency_key == key
