"""One article, one key: canonical URLs, so a link seen in a feed and in three posts
becomes one item with four sightings.

Two functions, because a key and a link to open are not the same thing:

* :func:`strip_tracking` gives the link to keep and open: tracking parameters and
  AMP wrappers out, everything else as the sharer gave it (a gift code stays, or
  the reader would hit the paywall the sharer paid to lift).
* :func:`canonical_url` gives the identity key to match on: also case, default
  ports, ``www.``, a trailing slash, the fragment, parameter order, ``http`` vs
  ``https``, AMP variants, mobile hosts and the known gift/share codes.  It is
  never shown nor opened, so it may lose what a browser would need.

What is dropped is listed below, each with the platform that adds it; parameters
that name content (``id``, ``p``, ``v``, ``q``, ``page``...) are never dropped, and
anything unknown is kept: a missed duplicate costs a line in the stream, a wrongly
merged article costs the article.

Pure: no I/O, nothing of veille imported.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = [
    "GIFT_PARAMS",
    "HOST_GIFT_PARAMS",
    "HOST_TRACKING_PARAMS",
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "canonical_url",
    "is_http_url",
    "strip_tracking",
]

#: Parameter-name prefixes that are always tracking.
TRACKING_PREFIXES = (
    "utm_",  # Google Analytics (Urchin) campaign tags: utm_source, utm_medium...
    "mc_",  # Mailchimp: mc_cid, mc_eid
    "pk_",  # Matomo/Piwik campaigns: pk_campaign, pk_kwd
    "mtm_",  # Matomo campaigns (new names)
    "hsa_",  # HubSpot ads
    "__hs",  # HubSpot: __hssc, __hstc, __hsfp
    "_hs",  # HubSpot: _hsenc, _hsmi
    "ga_",  # Google Analytics experiments
    "at_",  # AT Internet (Piano): at_medium, at_campaign
    "oly_",  # Omeda Olytics: oly_anon_id, oly_enc_id
    "vero_",  # Vero emails: vero_id, vero_conv
    "itm_",  # internal campaign tags (itm_source...)
)

#: Exact parameter names (lower case) that are tracking wherever they appear.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",  # Facebook click id
        "gclid",  # Google Ads click id
        "gclsrc",  # Google Ads
        "dclid",  # DoubleClick
        "gbraid",  # Google Ads (iOS)
        "wbraid",  # Google Ads (iOS)
        "srsltid",  # Google Shopping result id
        "msclkid",  # Microsoft Ads
        "yclid",  # Yandex
        "twclid",  # X/Twitter ads
        "ttclid",  # TikTok ads
        "li_fat_id",  # LinkedIn ads
        "igshid",  # Instagram share id
        "igsh",  # Instagram share id (newer)
        "rdt_cid",  # Reddit ads
        "epik",  # Pinterest
        "mkt_tok",  # Marketo emails
        "_openstat",  # Openstat
        "_ga",  # Google Analytics cross-domain linker
        "_gl",  # Google Analytics cross-domain linker
        "s_cid",  # Adobe
        "s_kwcid",  # Adobe
        "wt_mc",  # Webtrekk (heise.de's ?wt_mc=rss.... on every feed link)
        "wt.mc_id",  # Webtrekk
        "wprss",  # Washington Post feeds (?wprss=rss_wellness)
        "ref_src",  # X/Twitter embeds (?ref_src=twsrc^tfw)
        "ref_url",  # X/Twitter embeds
        "cmpid",  # campaign ids (Spiegel, ...)
        "ncid",  # Yahoo, Engadget
        "ocid",  # MSN
        "sr_share",  # Slashdot/share buttons
        "soc_src",  # Yahoo social
        "soc_trk",  # Yahoo social
        "guccounter",  # Yahoo consent redirect
        "guce_referrer",  # Yahoo consent redirect
        "guce_referrer_sig",  # Yahoo consent redirect
        "__twitter_impression",  # X/Twitter
        "fb_action_ids",  # Facebook
        "fb_action_types",  # Facebook
        "fb_ref",  # Facebook
        "fb_source",  # Facebook
        "action_object_map",  # Facebook
        "action_type_map",  # Facebook
        "action_ref_map",  # Facebook
        "spm",  # Alibaba/Aliexpress
        "ito",  # BBC internal
        "cvid",  # Bing
        "tblci",  # Taboola
        "dicbo",  # Outbrain
        "rb_clickid",  # various ad networks
        "trk",  # LinkedIn
        "trkcampaign",  # LinkedIn
        "trackingid",  # LinkedIn
        "lipi",  # LinkedIn
        "amp",  # AMP switch (?amp, ?amp=1): the same article, AMP-rendered
        "outputtype",  # ?outputType=amp (Washington Post, ...)
    }
)

#: Parameters that are tracking on some hosts only, where the name means content
#: elsewhere.  Keys are registrable hosts (without ``www.``); a host matches its
#: subdomains too.
HOST_TRACKING_PARAMS: dict[str, frozenset[str]] = {
    "medium.com": frozenset({"source", "sk"}),  # ?source=rss----...; sk: friend link
    "youtube.com": frozenset({"si", "feature", "pp", "ab_channel"}),  # share/session ids
    "youtu.be": frozenset({"si", "feature"}),
    "open.spotify.com": frozenset({"si", "context"}),
    "music.apple.com": frozenset({"ls", "uo"}),
    "x.com": frozenset({"s", "t"}),  # ?s=20&t=...: share-sheet ids
    "twitter.com": frozenset({"s", "t"}),
    "instagram.com": frozenset({"hl", "img_index"}),
    "reddit.com": frozenset({"share_id", "utm_name", "rdt"}),
    "nytimes.com": frozenset({"smid", "smtyp", "sgrp", "partner", "emc", "campaign_id"}),
    "theguardian.com": frozenset({"cmp"}),  # ?CMP=share_btn_tw
    "bbc.co.uk": frozenset({"ocid", "at_link_id", "at_ptr_name"}),
    "bbc.com": frozenset({"ocid", "at_link_id", "at_ptr_name"}),
    "biorxiv.org": frozenset({"rss"}),  # HighWire feeds add ?rss=1
    "medrxiv.org": frozenset({"rss"}),
    "sciencemag.org": frozenset({"rss"}),
    "amazon.com": frozenset({"ref", "ref_", "tag", "linkcode", "camp", "creative", "psc"}),
    "substack.com": frozenset({"r", "triedredirect", "showwelcomeonshare"}),  # r: referrer
}

#: Per-sharer gift and share codes: they unlock the same article for whoever
#: follows that sharer's link, so two sharers' links are one article.  They go
#: from the key only (canonical_url); the link to open keeps them.
GIFT_PARAMS = frozenset(
    {
        "unlocked_article_code",  # New York Times gift articles
        "pwapi_token",  # Washington Post gift articles
        "gift",  # The Atlantic, Wired, The New Yorker (?gift=...)
        "giftcode",  # various
        "gift_id",  # various
        "giftlink",  # various
        "share_code",  # various
    }
)

#: Gift codes with names too plain to drop everywhere: on these hosts only.
HOST_GIFT_PARAMS: dict[str, frozenset[str]] = {
    "wsj.com": frozenset({"st", "reflink"}),  # ?st=<token>&reflink=desktopwebshare_permalink
    "bloomberg.com": frozenset({"accesstoken", "leadsource"}),  # gift articles
    "ft.com": frozenset({"accesstoken", "sharetype", "token"}),  # ?sharetype=gift&token=...
    "economist.com": frozenset({"giftid"}),
}

_DEFAULT_PORTS = {"http": 80, "https": 443}
_AMP_CACHE = re.compile(r"(?:^|\.)cdn\.ampproject\.org$")
_AMP_PATH = re.compile(r"/amp(?:\.html?)?/?$", re.I)  # /article/amp, /article/amp.html
_AMP_SUFFIX = re.compile(r"\.amp(\.html?)$", re.I)  # /article.amp.html
_MOBILE_HOSTS = {"m.youtube.com": "youtube.com", "mobile.twitter.com": "twitter.com"}
_OPEN_SUBSTACK = re.compile(r"^/pub/([A-Za-z0-9-]+)/p/([^/]+)/?$")
_WIKI_MOBILE = re.compile(r"^([a-z-]+)\.m\.(wiki[a-z]+\.org)$")
# Characters that need no escaping in a path or query (RFC 3986 unreserved + sub-delims).
_SAFE_PATH = "/:@!$&'()*+,;=-._~"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_http_url(url: object) -> bool:
    """Whether a link may be opened or followed: an absolute http(s) URL with a host.

    Only http(s) links are ever opened or fetched; feed text is data, so
    ``javascript:``, ``file:``, ``data:`` and the like never are, nor a URL with
    control characters (``urlsplit`` would silently drop a tab or a newline).
    The one implementation: :func:`veille.util.urls.is_safe_link` is this
    function, under the name the rest of veille uses; it lives here because the
    domain (which imports nothing else of veille) needs it for its keys.
    """
    if not isinstance(url, str) or _CONTROL.search(url):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _host_matches(host: str, table: dict[str, frozenset[str]]) -> frozenset[str]:
    """The host-specific names for ``host`` or any parent domain of it."""
    host = host.removeprefix("www.")
    while host:
        names = table.get(host)
        if names is not None:
            return names
        _, dot, host = host.partition(".")
        if not dot:
            break
    return frozenset()


def _is_tracking(name: str, host_names: frozenset[str]) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES) or low in host_names


def _unwrap_amp_cache(parts: tuple[str, str, str, str, str]) -> tuple[str, str, str, str, str]:
    """``https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a`` and
    ``https://www.google.com/amp/s/example.com/a`` point at ``https://www.example.com/a``."""
    _scheme, netloc, path, query, fragment = parts
    host = netloc.lower().rsplit("@", 1)[-1].split(":", 1)[0]
    inner = ""
    if _AMP_CACHE.search(host):
        # /c/s/HOST/PATH (s = https), /v/s/..., /i/s/... for images; without /s/: http
        m = re.match(r"^/[cvi]/(s/)?(.+)$", path)
        if m:
            inner = ("https://" if m.group(1) else "http://") + m.group(2)
    elif re.fullmatch(r"(?:www\.)?google\.[a-z.]+", host):
        m = re.match(r"^/amp/(s/)?(.+)$", path)
        if m:
            inner = ("https://" if m.group(1) else "http://") + m.group(2)
    if not inner:
        return parts
    try:
        unwrapped = urlsplit(inner)
    except ValueError:
        return parts
    return (
        unwrapped.scheme,
        unwrapped.netloc,
        unwrapped.path,
        unwrapped.query or query,
        unwrapped.fragment or fragment,
    )


def _filtered_query(
    query: str, drop: frozenset[str], host_names: frozenset[str]
) -> list[tuple[str, str]]:
    pairs = parse_qsl(query, keep_blank_values=True)
    return [(k, v) for k, v in pairs if not _is_tracking(k, host_names) and k.lower() not in drop]


def strip_tracking(url: str) -> str:
    """The link to keep and open: tracking parameters and AMP caches removed.

    Everything else stays as given (host, ``www.``, path, fragment, gift codes).
    A URL that does not parse, or is not http(s), comes back unchanged.
    """
    url = url.strip()
    if not is_http_url(url):
        return url
    parts = _unwrap_amp_cache(tuple(urlsplit(url)))  # type: ignore[arg-type]
    scheme, netloc, path, query, fragment = parts
    host = (urlsplit(f"//{netloc}").hostname or "").lower()
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = _filtered_query(query, frozenset(), _host_matches(host, HOST_TRACKING_PARAMS))
        if len(kept) != len(pairs):
            query = urlencode(kept, quote_via=quote, safe="/:@!$'()*,;")
    if fragment and fragment.lower().startswith(("utm_", "xtor=")):
        fragment = ""  # a few sites put the campaign in the fragment
    return urlunsplit((scheme, netloc, path, query, fragment))


def _normal_path(path: str) -> str:
    """Decode what needs no escaping, re-escape the rest with upper-case hex.

    An escaped slash stays escaped: ``a%2Fb`` is one path segment, ``a/b`` two.
    """
    segments = re.split(r"%2[fF]", path)
    return "%2F".join(quote(unquote(seg), safe=_SAFE_PATH) for seg in segments) or "/"


def _idna(host: str) -> str:
    """``bücher.de`` and ``xn--bcher-kva.de`` are one host."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def canonical_url(url: str) -> str:
    """The identity key of an article URL: equal keys mean the same article.

    Not for display or opening (see :func:`strip_tracking`).  Non-http(s) input
    comes back stripped of spaces and otherwise unchanged.
    """
    url = url.strip()
    if not is_http_url(url):
        return url
    try:
        parts = _unwrap_amp_cache(tuple(urlsplit(url)))  # type: ignore[arg-type]
        scheme, netloc, path, query, fragment = parts
        split = urlsplit(f"//{netloc}")
        host = (split.hostname or "").rstrip(".").lower()
        port = split.port
    except ValueError:
        return url
    host = _idna(host).removeprefix("www.")
    if host.startswith("amp."):
        host = host[4:]
    host = _MOBILE_HOSTS.get(host, host)
    m = _WIKI_MOBILE.match(host)
    if m:
        host = f"{m.group(1)}.{m.group(2)}"
    host_names = _host_matches(host, HOST_TRACKING_PARAMS)
    gifts = GIFT_PARAMS | _host_matches(host, HOST_GIFT_PARAMS)
    kept = _filtered_query(query, gifts, host_names)
    m = _OPEN_SUBSTACK.match(path) if host == "open.substack.com" else None
    if m:  # the app's share form of NAME.substack.com/p/SLUG
        host, path = f"{m.group(1).lower()}.substack.com", f"/p/{m.group(2)}"
    if host == "youtu.be" and path.strip("/"):
        # youtu.be/ID is youtube.com/watch?v=ID
        kept.append(("v", path.strip("/").split("/")[0]))
        host, path = "youtube.com", "/watch"
    if port is not None and port != _DEFAULT_PORTS.get(scheme.lower()):
        host = f"{host}:{port}"
    path = _AMP_PATH.sub("", path) or "/"
    path = _AMP_SUFFIX.sub(r"\1", path)
    path = _normal_path(path)
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    kept.sort()
    query = urlencode(kept, quote_via=quote, safe="/:@!$'()*,;")
    # http and https serve the same article: the key does not say which was linked.
    # A fragment names a place in the page, not another page; "#!" routes (old
    # single-page sites) do name content, so they stay.
    fragment = fragment if fragment.startswith("!") else ""
    return urlunsplit(("https", host, path, query, fragment))


def quick_key(link: str) -> str:
    """``canonical_url``'s answer for a plain link, by string slicing alone.

    The store indexes 100,000 stored links when a refresh first needs them;
    canonical_url costs ~18 µs each, this ~0.3 µs.  For a link that is already
    tracking-free, lower-case and without query or fragment the two agree; the
    store keeps canonical_url's answer beside any link where they do not.
    """
    if link.startswith("https://"):
        rest = link[8:]
    elif link.startswith("http://"):
        rest = link[7:]
    else:
        return link
    if rest.startswith("www."):
        rest = rest[4:]
    rest = rest.rstrip("/")
    return "https://" + (rest if "/" in rest else rest + "/")
