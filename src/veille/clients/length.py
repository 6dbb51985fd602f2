"""Counting a post's length exactly as the servers do, for the composer counter.

Mastodon (``StatusLengthValidator``): the content warning plus the text, in
grapheme clusters, where every URL its extractor finds counts as
``characters_reserved_per_url`` and ``@user@domain`` counts as ``@user``.
URLs are found with twitter-text's ``valid_url`` regex as Mastodon patches it
(``config/initializers/twitter_regex.rb``), and only with a protocol
(``extract_url_without_protocol: false``).  One liberty: twitter-text matches
the top-level domain against its list of TLDs; we accept any alphabetic TLD
(or ``xn--`` punycode), so a URL under a made-up TLD counts as 23 here while
Mastodon counts it in full.  Hosts without a TLD (``localhost``, IP
addresses) are not URLs for either and count in full.

Pleroma/Akkoma count the raw text (CW included) in graphemes: pass
``characters_reserved_per_url=None`` for that.

Bluesky: at most 300 graphemes and 3000 UTF-8 bytes of ``text``.

Python's ``len`` counts code points, which is wrong for all of these: a
family emoji is 7 code points and one grapheme, a flag is 2.

These are the servers' rules, so they sit with the API clients: the Bluesky
client refuses an over-long record with them, and ``veille.share`` (the
composer counter, the destinations), which sits above the clients, reads them
from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import regex

__all__ = [
    "BLUESKY_MAX_BYTES",
    "BLUESKY_MAX_GRAPHEMES",
    "BlueskyLimits",
    "LengthCheck",
    "MastodonLimits",
    "bluesky_bytes",
    "bluesky_length",
    "check",
    "graphemes",
    "limits_from_instance",
    "mastodon_countable_text",
    "mastodon_length",
]

BLUESKY_MAX_GRAPHEMES = 300
BLUESKY_MAX_BYTES = 3000
MAX_URL_LENGTH = 4096  # twitter-text: longer "URLs" are not URLs
MAX_TCO_SLUG_LENGTH = 40

_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> int:
    """Extended grapheme clusters (UAX #29), as Ruby's each_grapheme_cluster."""
    return len(_GRAPHEME.findall(text))


# --- twitter-text's valid_url, with Mastodon's overrides -------------------

_PUNCT = r"""!"#$%&'()*+,\-./:;<=>?@\[\]^_`{|}~"""
_SPACE = r" \t\n\x0B\f\r"
_CTRL = r"\x00-\x1F\x7F"
_INVALID = r"\uFFFE\uFEFF\uFFFF\u202A-\u202E"
_USPACES = r"\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_D = f"[^{_PUNCT}{_SPACE}{_CTRL}{_INVALID}{_USPACES}]"  # DOMAIN_VALID_CHARS
# twitter-text's labels are (?:D(?:[_-]|D)*)?D\. -- the same language, written
# possessively so a run like "a.a.a.a..." cannot make the engine backtrack.
_SUBDOMAIN = rf"(?:{_D}(?:[_-]*+{_D})*+\.)"
_DOMAIN_NAME = rf"(?:{_D}(?:-*+{_D})*+\.)"
# Generic stand-in for twitter-text's TLD list (see module docstring).
# ASCII and non-ASCII TLDs are kept apart so "example.comです" ends at "com".
_TLD = (
    r"(?:xn--[0-9a-z]+|(?:[a-z]{2,63}|(?:(?![a-z])\p{L})(?:(?![a-z])[\p{L}\p{M}])+)"
    r"(?=[^0-9a-z@]|$))"
)
_DOMAIN = rf"(?:{_SUBDOMAIN}*{_DOMAIN_NAME}{_TLD})"
_UCHARS = (
    r"\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF\U00010000-\U0001FFFD\U00020000-\U0002FFFD"
    r"\U00030000-\U0003FFFD\U00040000-\U0004FFFD\U00050000-\U0005FFFD\U00060000-\U0006FFFD"
    r"\U00070000-\U0007FFFD\U00080000-\U0008FFFD\U00090000-\U0009FFFD\U000A0000-\U000AFFFD"
    r"\U000B0000-\U000BFFFD\U000C0000-\U000CFFFD\U000D0000-\U000DFFFD\U000E1000-\U000EFFFD"
    r"\uE000-\uF8FF\U000F0000-\U000FFFFD\U00100000-\U0010FFFD"
)
_PATH_CHAR = r"[^\p{White_Space}<>()?]"
_PARENS = rf"(?:\((?:{_PATH_CHAR}+|(?:{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*))\))"
_PATH_END = rf"""(?:[^\p{{White_Space}}()?!*"'「」<>;:=,.$%\[\]~&|@]|{_PARENS})"""
_PATH = rf"(?:(?:{_PATH_CHAR}*(?:{_PARENS}{_PATH_CHAR}*)*{_PATH_END})|(?:{_PATH_CHAR}+/))"
_QUERY_CHAR = rf"[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@\^{_UCHARS}]"
_QUERY_END = rf"[a-z0-9_&=#/\-{_UCHARS}]"
_NOT_PRECEDING = regex.compile(r"[A-Z0-9@＠$#＃\uFFFE\uFEFF\uFFFF\u202A-\u202E]", regex.I)
_PROTOCOL = regex.compile(r"(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://", regex.I)

# valid_url from the protocol on (Mastodon drops matches without one).
VALID_URL = regex.compile(
    rf"{_PROTOCOL.pattern}(?P<domain>{_DOMAIN})(?::[0-9]+)?"
    rf"(?:/{_PATH}*)?(?:\?{_QUERY_CHAR}*{_QUERY_END})?",
    regex.IGNORECASE,
)
_TCO = regex.compile(r"^https?://t\.co/([a-z0-9]+)", regex.IGNORECASE)

# Account::MENTION_RE; [[:word:]] in Ruby is Letter, Mark, Decimal_Number, Pc.
_W = r"[\p{L}\p{M}\p{Nd}\p{Pc}]"
MENTION = regex.compile(
    rf"(?<![=/\p{{L}}\p{{M}}\p{{Nd}}\p{{Pc}}])@"
    rf"((?i:[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@{_W}+(?:[.-]+{_W}+)*)?)"
)
_LATIN_ACCENTS = (
    r"\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u00FF\u0100-\u024F\u0253-\u0254\u0256-\u0257"
    r"\u0259\u025B\u0263\u0268\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_END_MENTION = regex.compile(rf"(?:[@＠]|[{_LATIN_ACCENTS}]+|://)")
_BLANK = regex.compile(r"[\p{White_Space}]*")


def _valid_domain(url: str, domain: str) -> bool:
    """twitter-text's is_valid_domain: the IDNA-encoded URL fits 4096 chars."""
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(url) + max(0, len(encoded) - len(domain)) <= MAX_URL_LENGTH


def _extract_urls(text: str) -> list[tuple[int, int, str]]:
    """URLs with a protocol, as (start, end, "url").

    twitter-text scans with the protocol optional and drops the matches
    without one; we try the regex only where a protocol starts.  The two
    differ only when a protocol-less match would swallow a URL after it
    (``site.org/x,https://...``), which Mastodon then does not count as one.
    """
    if ":" not in text:
        return []
    found: list[tuple[int, int, str]] = []
    done = 0
    for p in _PROTOCOL.finditer(text):
        start = p.start()
        if start < done or (start and _NOT_PRECEDING.match(text[start - 1])):
            continue
        m = VALID_URL.match(text, start)
        if not m:
            continue
        end = m.end()
        url = m.group(0)
        tco = _TCO.match(url)
        if tco:
            if len(tco.group(1)) > MAX_TCO_SLUG_LENGTH:
                continue
            url = tco.group(0)
            end = start + len(url)
        if not _valid_domain(url, m.group("domain")):
            continue
        found.append((start, end, "url"))
        done = end
    return found


def _extract_mentions(text: str) -> list[tuple[int, int, str]]:
    if "@" not in text and "＠" not in text:
        return []
    found: list[tuple[int, int, str]] = []
    for m in MENTION.finditer(text):
        if _END_MENTION.match(text, m.end()):
            continue
        found.append((m.start(1) - 1, m.end(1), "@" + m.group(1).split("@")[0]))
    return found


def mastodon_countable_text(text: str, url_length: int = 23) -> str:
    """Mastodon's countable_text: URLs as ``url_length`` x's, mentions as @user."""
    if _BLANK.fullmatch(text):
        return ""
    entities = sorted(_extract_urls(text) + _extract_mentions(text), key=lambda e: e[0])
    out: list[str] = []
    pos = 0
    for start, end, what in entities:
        if start < pos:
            continue  # overlaps the previous entity: twitter-text drops it
        out.append(text[pos:start])
        out.append("x" * url_length if what == "url" else what)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mastodon_length(text: str, *, url_length: int | None = 23, spoiler_text: str = "") -> int:
    """Length as Mastodon validates it; ``url_length=None`` counts raw (Pleroma)."""
    if url_length is None:
        return graphemes(spoiler_text + text)
    return graphemes(spoiler_text + mastodon_countable_text(text, url_length))


def bluesky_length(text: str) -> int:
    """Graphemes, as the Bluesky app and PDS count ``text`` (limit 300)."""
    return graphemes(text)


def bluesky_bytes(text: str) -> int:
    """UTF-8 bytes of ``text`` (limit 3000)."""
    return len(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class MastodonLimits:
    """Per-instance limits; ``characters_reserved_per_url=None``: URLs count in full."""

    max_characters: int = 500
    characters_reserved_per_url: int | None = 23


@dataclass(frozen=True)
class BlueskyLimits:
    max_graphemes: int = BLUESKY_MAX_GRAPHEMES
    max_bytes: int = BLUESKY_MAX_BYTES


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and value > 0:
        return value
    return None


def limits_from_instance(instance: dict[str, Any]) -> MastodonLimits:
    """Limits from ``/api/v2/instance`` (or v1): ``configuration.statuses``.

    Pleroma and Akkoma give ``max_toot_chars`` in v1 and count URLs in full,
    so without ``characters_reserved_per_url`` that is what we assume there.
    Anything missing or malformed falls back to Mastodon's defaults.
    """
    config = instance.get("configuration") if isinstance(instance, dict) else None
    statuses = config.get("statuses") if isinstance(config, dict) else None
    statuses = statuses if isinstance(statuses, dict) else {}
    max_chars = _positive_int(statuses.get("max_characters"))
    if max_chars is None and isinstance(instance, dict):
        max_chars = _positive_int(instance.get("max_toot_chars"))
    per_url_raw = statuses.get("characters_reserved_per_url")
    per_url = _positive_int(per_url_raw)
    if per_url is None:
        pleroma = isinstance(instance, dict) and (
            "max_toot_chars" in instance or "pleroma" in instance
        )
        per_url = None if pleroma else 23
    return MastodonLimits(max_characters=max_chars or 500, characters_reserved_per_url=per_url)


@dataclass(frozen=True)
class LengthCheck:
    count: int
    limit: int | None
    ok: bool
    reason: str  # one line for the composer counter


_NAMES = {"mastodon": "Mastodon", "bluesky": "Bluesky"}


def _verdict(count: int, limit: int, unit: str, who: str) -> LengthCheck:
    if count <= limit:
        return LengthCheck(count, limit, True, f"{count}/{limit} {unit}")
    reason = f"{count}/{limit} {unit}: {count - limit} over {who}'s limit"
    return LengthCheck(count, limit, False, reason)


def check(
    text: str,
    kind: str,
    limits: MastodonLimits | BlueskyLimits | None = None,
    *,
    spoiler_text: str = "",
) -> LengthCheck:
    """How long ``text`` is for a destination of ``kind``, and whether it fits."""
    if kind == "mastodon":
        lim = limits if isinstance(limits, MastodonLimits) else MastodonLimits()
        count = mastodon_length(
            text, url_length=lim.characters_reserved_per_url, spoiler_text=spoiler_text
        )
        return _verdict(count, lim.max_characters, "characters", "Mastodon")
    if kind == "bluesky":
        lim_b = limits if isinstance(limits, BlueskyLimits) else BlueskyLimits()
        count = bluesky_length(text)
        by_chars = _verdict(count, lim_b.max_graphemes, "characters", "Bluesky")
        if not by_chars.ok:
            return by_chars
        size = bluesky_bytes(text)
        if size > lim_b.max_bytes:
            over = size - lim_b.max_bytes
            reason = f"{size}/{lim_b.max_bytes} bytes: {over} over Bluesky's limit"
            return LengthCheck(size, lim_b.max_bytes, False, reason)
        return by_chars
    count = graphemes(text)
    return LengthCheck(count, None, True, f"{count} characters")
