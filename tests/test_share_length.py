"""Post length as Mastodon and Bluesky count it, vs what plain len() says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veille.clients.length import (
    BlueskyLimits,
    LengthCheck,
    MastodonLimits,
    bluesky_bytes,
    bluesky_length,
    check,
    graphemes,
    limits_from_instance,
    mastodon_countable_text,
    mastodon_length,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
ENTITIES = CORPUS / "social" / "mastodon" / "mastodon.social_entities"

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦
FLAG = "\U0001f1eb\U0001f1f7"  # 🇫🇷
THUMB_TONE = "\U0001f44d\U0001f3fd"  # 👍🏽
E_ACUTE = "e\u0301"  # e + combining acute


@pytest.mark.parametrize(
    ("text", "clusters", "code_points"),
    [
        (FAMILY, 1, 7),
        (FLAG, 1, 2),
        (THUMB_TONE, 1, 2),
        (E_ACUTE, 1, 2),
        ("日本語", 3, 3),
        ("Café ☕ ", 7, 7),
        ("\U0001f3f3\ufe0f\u200d\U0001f308", 1, 4),  # rainbow flag
        ("", 0, 0),
    ],
)
def test_graphemes_not_code_points(text: str, clusters: int, code_points: int) -> None:
    assert graphemes(text) == clusters
    assert len(text) == code_points
    assert mastodon_length(text) == clusters
    assert bluesky_length(text) == clusters


def test_cafe_bytes() -> None:
    assert bluesky_length("Café ☕ ") == 7
    assert bluesky_bytes("Café ☕ ") == 10
    assert bluesky_bytes(FAMILY) == 25


def test_long_url_counts_23() -> None:
    url = "https://example.com/" + "a" * 200 + "?q=1&r=2#frag"
    assert mastodon_length(url) == 23
    assert mastodon_length(f"see {url} now") == 4 + 23 + 4
    assert len(f"see {url} now") > 200  # what len() would have said


def test_short_url_counts_23_too() -> None:
    assert mastodon_length("https://a.co") == 23  # longer than it is: as Mastodon counts


def test_several_urls_and_trailing_punctuation() -> None:
    text = "a https://a.co b http://b.org/x. (https://en.wikipedia.org/wiki/Primer_(film))"
    x = "x" * 23
    assert mastodon_countable_text(text) == f"a {x} b {x}. ({x})"
    assert mastodon_length(text) == 2 + 23 + 3 + 23 + 3 + 23 + 1


def test_url_length_from_instance() -> None:
    assert mastodon_length("https://example.com/x", url_length=32) == 32  # snac


@pytest.mark.parametrize(
    "text",
    [
        "http://localhost:8080/x",  # no TLD: not a URL for twitter-text
        "http://127.0.0.1/abc",
        "example.com/path",  # no protocol: Mastodon does not extract it
        "xhttps://example.com/y",  # preceded by a letter
        "https://ab.c_d.com/",  # underscore in the registrable label
    ],
)
def test_not_urls_count_in_full(text: str) -> None:
    assert mastodon_length(text) == len(text)


def test_url_followed_by_cjk_stops_at_tld() -> None:
    assert mastodon_countable_text("https://example.comです") == "x" * 23 + "です"


def test_idn_and_other_protocols() -> None:
    assert mastodon_length("https://пример.рф/путь") == 23
    assert mastodon_length("gemini://example.org/a/long/path/here/x") == 23


def test_mentions_with_domain_count_as_local_part() -> None:
    text = "hi @alice@mastodon.social and @bob"
    assert mastodon_countable_text(text) == "hi @alice and @bob"
    assert mastodon_length(text) == len("hi @alice and @bob")
    assert mastodon_length("@alice@example.com.") == len("@alice.")
    assert mastodon_length("mail me@example.com") == len("mail me@example.com")  # not a mention


def test_content_warning_counts() -> None:
    assert mastodon_length("body", spoiler_text="CW: spoilers") == 4 + 12
    assert mastodon_length("   ", spoiler_text="cw") == 2  # blank text counts nothing


def test_pleroma_counts_raw() -> None:
    url = "https://example.com/" + "a" * 50
    assert mastodon_length(url, url_length=None) == len(url)
    assert mastodon_length("@a@b.org", url_length=None) == 8


def test_adversarial_input_is_linear() -> None:
    """Inputs that make a naive valid_url regex backtrack still count right."""
    text = "a." * 5000 + ":"
    assert mastodon_length(text) == len(text)
    text = "http://" + "a." * 5000
    assert mastodon_length(text) == len(text)


def test_check_reason_over() -> None:
    result = check("a" * 612, "mastodon", MastodonLimits())
    assert result == LengthCheck(612, 500, False, "612/500 characters: 112 over Mastodon's limit")


def test_check_ok_and_emoji_heavy() -> None:
    text = FAMILY * 500  # 3500 code points: len() would refuse it
    result = check(text, "mastodon", MastodonLimits())
    assert result.ok and result.count == 500 and result.reason == "500/500 characters"


def test_check_counts_spoiler() -> None:
    result = check("a" * 495, "mastodon", MastodonLimits(), spoiler_text="123456")
    assert not result.ok and result.count == 501


def test_check_bluesky_graphemes_and_bytes() -> None:
    assert check("a" * 300, "bluesky").ok
    over = check("a" * 301, "bluesky")
    assert not over.ok and over.reason == "301/300 characters: 1 over Bluesky's limit"
    heavy = check(FAMILY * 200, "bluesky")  # 200 graphemes but 5000 bytes
    assert not heavy.ok
    assert heavy.reason == "5000/3000 bytes: 2000 over Bluesky's limit"
    assert check("a" * 301, "bluesky", BlueskyLimits(max_graphemes=1000)).ok


def test_check_without_limit() -> None:
    result = check("x" * 5000, "micropub")
    assert result.ok and result.limit is None and result.count == 5000


@pytest.mark.corpus
@pytest.mark.parametrize(
    "name",
    ["test_entity_instance__00.json", "test_entity_instancev2__00.json"],
)
def test_limits_from_real_instances(name: str) -> None:
    path = ENTITIES / name
    if not path.is_file():
        pytest.skip("corpus absent")
    limits = limits_from_instance(json.loads(path.read_text()))
    assert limits == MastodonLimits(max_characters=500, characters_reserved_per_url=23)


def test_limits_from_other_servers() -> None:
    statuses = {"max_characters": 5000, "characters_reserved_per_url": 32}
    v2 = {"configuration": {"statuses": statuses}}
    assert limits_from_instance(v2) == MastodonLimits(5000, 32)
    pleroma = {"uri": "https://pl.example", "max_toot_chars": 5000, "pleroma": {}}
    assert limits_from_instance(pleroma) == MastodonLimits(5000, None)
    assert limits_from_instance({}) == MastodonLimits(500, 23)
    statuses = {"max_characters": "lots", "characters_reserved_per_url": -1}
    broken = {"configuration": {"statuses": statuses}}
    assert limits_from_instance(broken) == MastodonLimits(500, 23)
