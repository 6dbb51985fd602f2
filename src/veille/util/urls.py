"""The one place that decides what an http(s) URL is, how it is written, and when two
feed URLs are the same subscription.

Everything a user or a file hands veille as a URL (``veille add``, an OPML ``xmlUrl``,
a discovered ``<link>``, a redirect target) goes through :func:`http_url`, so a bad value
becomes one line naming it ("port 99999 is out of range") instead of an exception from
deep inside urllib, httpx or the idna codec.  Validity is judged the way the fetcher will
use the URL (httpx parses it, httpx and anyio encode the host with IDNA 2008), so a URL
accepted here never fails later for being malformed.

Canonicalising *article* links for merging (tracking parameters, AMP) is a different job:
see :mod:`veille.domain.links`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from urllib.parse import urljoin, urlsplit, urlunsplit

from veille.domain.errors import VeilleError
from veille.domain.links import is_http_url
from veille.domain.text import clean_line

__all__ = [
    "WEB_SCHEMES",
    "UrlError",
    "http_url",
    "is_safe_link",
    "resolve_link",
    "same_feed_url",
    "shown",
    "url_key",
]

SHOWN_MAX = 120
MAX_LENGTH = 65536  # httpx refuses longer URLs
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_CHARS = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$")
_WEB_SCHEMES = ("http", "https")
WEB_SCHEMES = frozenset(_WEB_SCHEMES)


class UrlError(VeilleError, ValueError):
    """Not a usable http(s) URL; ``str()`` is one line naming the value and the reason.

    A ValueError too, so callers that already caught ValueError keep working.
    """

    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason
        what = shown(value)
        super().__init__(f"not a usable URL: {what} ({reason})" if what else f"no URL ({reason})")


def shown(value: object, limit: int = SHOWN_MAX) -> str:
    """A user-supplied value made safe to print in a one-line message.

    Bytes that were not UTF-8 (a command-line argument arrives with them as lone
    surrogates) are shown as ``\\xff``, so printing the message can never raise
    UnicodeEncodeError; control characters and escape sequences go.
    """
    text = value if isinstance(value, str) else repr(value)
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # lone surrogates that surrogateescape did not make
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = clean_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def http_url(text: str, *, bare: bool = True) -> str:
    """``text`` as an absolute http(s) URL, checked and lightly normalised.

    Accepted: ``https://host/x``; a bare ``example.com/feed`` (taken as https, as a
    browser's address bar does); the browser-era ``feed://host/x`` (http),
    ``feed:https://host/x`` and ``feed:host/x`` aliases.  Normalised: surrounding spaces
    go, scheme and host are lower-cased; the rest is kept as written (paths are
    case-sensitive).
    ``bare=False`` refuses a URL without a scheme: in a file (an OPML ``xmlUrl``) one is a
    relative path or a command (``|~/bin/fetch.sh``), not a host someone typed.

    Raises :class:`UrlError` with a one-line reason for anything else: another scheme,
    no host, an unbalanced IPv6 literal, a port outside 1-65535, a host name that is not
    valid (IDNA), control characters, text that was not UTF-8.
    """
    if not isinstance(text, str):
        raise UrlError(repr(text), "not text")
    original = text
    s = text.strip()
    if not s:
        raise UrlError(original, "empty")
    if len(s) > MAX_LENGTH:
        raise UrlError(original, f"longer than {MAX_LENGTH} characters")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise UrlError(original, "it contains bytes that are not UTF-8") from None
    if _CONTROL.search(s):
        raise UrlError(original, "it contains control characters")
    s = _unalias(s, original, bare)
    try:
        parts = urlsplit(s)
        port = parts.port
    except ValueError as exc:
        raise UrlError(original, _urllib_reason(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in _WEB_SCHEMES:
        raise UrlError(original, f"only http and https are supported, not {scheme or 'none'}")
    host = parts.hostname or ""
    if not host:
        raise UrlError(original, "no host name")
    if port is not None and port == 0:
        raise UrlError(original, "port 0 is not a port one can connect to")
    _check_host(host, original)
    netloc = parts.netloc
    at = netloc.rfind("@") + 1
    userinfo, hostport = netloc[:at], netloc[at:]
    return urlunsplit(
        (scheme, userinfo + hostport.lower(), parts.path, parts.query, parts.fragment)
    )


def _unalias(s: str, original: str, bare: bool) -> str:
    """Rewrite ``feed:`` aliases and add https:// to a bare host; refuse other schemes."""
    low = s.lower()
    if low.startswith("feed:"):
        rest = s[5:]
        if rest.lower().startswith(("http://", "https://")):
            return rest
        if rest.startswith("//"):
            return "http:" + rest  # feed://x meant http://x
        s = rest  # "feed:example.com/rss": a bare host, below
    m = _SCHEME.match(s)
    # "localhost:8080/feed" is a host and a port; "mailto:x" and "javascript:x" are schemes
    # (http_url then refuses them); "example.com/x?u=http://y" has none.
    if m and not s[m.end() : m.end() + 1].isdigit():
        return s
    if not bare:
        raise UrlError(original, "no http:// or https://")
    return "https://" + s.lstrip("/")


def _urllib_reason(exc: ValueError) -> str:
    msg = str(exc)
    if "IPv6" in msg:
        return "unbalanced [ ] around an IPv6 address"
    if "out of range" in msg:
        return "port out of range 1-65535"
    if "cast to integer" in msg:
        return "the port is not a number"
    return clean_line(msg) or "malformed"


def _check_host(host: str, original: str) -> None:
    """The host as httpx will send it: an IP literal or a valid IDNA name."""
    if ":" in host:  # urlsplit only lets an IPv6 literal carry colons here
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise UrlError(original, f"{shown(host)} is not a valid IPv6 address") from None
        return
    # The common case (plain ASCII) is checked below without httpx's full parse.
    plain = host.isascii() and "xn--" not in host
    encoded = host if plain else _idna(host, original)
    labels = encoded.rstrip(".").split(".")
    if (
        not _HOST_CHARS.match(encoded)
        or len(encoded) > 253
        or any(not label or len(label) > 63 for label in labels)
    ):
        raise UrlError(original, f"invalid host name {shown(host)}")


def _idna(host: str, original: str) -> str:
    """The ASCII form of an internationalised host, as httpx will send it."""
    import httpx  # here: the store imports this module (atomicfile), and needs no httpx

    try:
        # httpx encodes (IDNA 2008) non-ASCII hosts and decodes xn-- labels: do the same.
        parsed = httpx.URL(f"http://{host}/")
        parsed.host  # noqa: B018 - decoding the xn-- labels is the check
        return parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        reason = clean_line(str(exc)) or type(exc).__name__
        raise UrlError(original, f"invalid host name: {reason}") from None


#: Whether a link may be opened or followed: an absolute http(s) URL with a host.
#: (Implemented in :mod:`veille.domain.links`, whose keys need it.)
is_safe_link = is_http_url


def resolve_link(href: object, base: str = "", schemes: Collection[str] = WEB_SCHEMES) -> str:
    """``href`` as found in a document, made absolute against ``base``; "" unless its
    scheme is one of ``schemes`` (http and https, by default).

    The one way a link read from a feed, a page or a stored share becomes a link to
    keep: cleaned to one line, resolved, its scheme checked, and an http(s) link must
    have a host.  Callers that keep more than web links say which (enclosures may be
    ``ftp:`` or ``magnet:``, an article's links ``mailto:``), never fewer checks.
    """
    if not isinstance(href, str):
        return ""
    link = clean_line(href)
    if not link:
        return ""
    try:
        if base:
            link = urljoin(base, link)
        parts = urlsplit(link)
        scheme = parts.scheme.lower()
        if scheme in _WEB_SCHEMES and not parts.hostname:
            return ""
    except ValueError:  # a malformed IPv6 literal, in the link or the base
        return ""
    return link if scheme in schemes else ""


def url_key(url: str) -> str:
    """What makes two feed URLs one subscription: scheme and a trailing slash ignored,
    host case ignored, the rest (case-sensitive paths and queries: YouTube channel ids)
    kept.  Used to find a subscription by the URL a user types."""
    s = url.strip()
    try:
        parts = urlsplit(s)
    except ValueError:
        return s.rstrip("/")
    if parts.scheme.lower() in _WEB_SCHEMES and parts.netloc:
        netloc = parts.netloc
        at = netloc.rfind("@") + 1
        rest = urlunsplit(("", "", parts.path, parts.query, ""))
        return (netloc[:at] + netloc[at:].lower() + rest).rstrip("/")
    return s.rstrip("/")


def same_feed_url(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name the same feed (see :func:`url_key`)."""
    return a == b or url_key(a) == url_key(b)
