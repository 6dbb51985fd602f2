"""Names of social sources (``mastodon:home``, ``bluesky:@alice.bsky.social``...) and
the "paste any URL" step of ``veille add``.

A social source is stored as a Feed whose ``url`` is its name, so the name is
the whole description of what to read: it is parsed here, once, with a one-line
reason for anything malformed (the CLI shows that line as is).

``resolve_url`` turns a URL people copy from their browser into what veille can
subscribe to: a Mastodon or Bluesky profile becomes a source name, a YouTube
channel, GitHub repository, subreddit or Hacker News page becomes the feed URL
those sites publish but never link visibly, each with a sentence saying which.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from veille.domain.errors import VeilleError
from veille.util.urls import is_safe_link

__all__ = [
    "BLUESKY_VIEWS",
    "MASTODON_VIEWS",
    "Getter",
    "Resolved",
    "SourceName",
    "SourceNameError",
    "channel_id_from_page",
    "instance_url",
    "is_did",
    "is_handle",
    "looks_like_source_name",
    "parse_at_uri",
    "parse_source_name",
    "resolve_url",
]

#: What a Mastodon source can read, and whether it needs your account.
MASTODON_VIEWS = {"home": True, "list": True, "tag": True, "account": False}
#: What a Bluesky source can read, and whether it needs your account.
BLUESKY_VIEWS = {"following": True, "account": False, "timeline": True, "feed": True}

# https://atproto.com/specs/handle, did, nsid, record-key
_HANDLE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_NSID = re.compile(
    r"[a-zA-Z]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?)+"
    r"(\.[a-zA-Z]([a-zA-Z0-9]{0,62})?)"
)
_RKEY = re.compile(r"[a-zA-Z0-9_~.:-]{1,512}")
_MASTODON_USER = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_HOST = re.compile(
    r"(([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z][a-zA-Z0-9-]*"
    r"|localhost|\d{1,3}(\.\d{1,3}){3})(:\d{1,5})?"
)
_LIST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TAG = re.compile(r"[\w\u00b7\u200c]{1,100}")

FEED_GENERATOR = "app.bsky.feed.generator"
GRAPH_LIST = "app.bsky.graph.list"


class SourceNameError(VeilleError):
    """A malformed source name; the message is one line saying what to write."""


def is_handle(text: str) -> bool:
    """atproto handle syntax (not whether it resolves)."""
    return len(text) <= 253 and _HANDLE.fullmatch(text) is not None


def is_did(text: str) -> bool:
    """atproto DID syntax (not whether it resolves)."""
    return len(text) <= 2048 and _DID.fullmatch(text) is not None


def parse_at_uri(uri: str) -> tuple[str, str, str] | None:
    """``at://AUTHORITY/COLLECTION/RKEY`` → (authority, collection, rkey), else None."""
    if not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3:
        return None
    authority, collection, rkey = parts
    if not (is_did(authority) or is_handle(authority)):
        return None
    if len(collection) > 317 or _NSID.fullmatch(collection) is None:
        return None
    if _RKEY.fullmatch(rkey) is None or rkey in (".", ".."):
        return None
    return authority, collection, rkey


@dataclass(frozen=True, slots=True)
class SourceName:
    """A parsed source name.  ``str()`` gives it back in its canonical spelling."""

    kind: str  # "mastodon" | "bluesky"
    view: str  # see MASTODON_VIEWS / BLUESKY_VIEWS
    arg: str = ""  # list id, tag, "user@instance", handle or DID, feed AT-URI

    def __str__(self) -> str:
        if self.view == "account":
            return f"{self.kind}:@{self.arg}"
        if self.arg:
            return f"{self.kind}:{self.view}/{self.arg}"
        return f"{self.kind}:{self.view}"

    @property
    def needs_account(self) -> bool:
        """Whether reading it needs one of your accounts (else it is public)."""
        views = MASTODON_VIEWS if self.kind == "mastodon" else BLUESKY_VIEWS
        return views[self.view]

    @property
    def instance(self) -> str:
        """For ``mastodon:@user@instance``: the instance's host."""
        return self.arg.split("@", 1)[1] if self.view == "account" and "@" in self.arg else ""


def looks_like_source_name(text: str) -> bool:
    """Whether ``text`` is meant as a source name rather than a URL."""
    return text.strip().lower().startswith(("mastodon:", "bluesky:"))


def _mastodon(rest: str, original: str) -> SourceName:
    if rest == "home":
        return SourceName("mastodon", "home")
    if rest.startswith("list/"):
        list_id = rest[5:]
        if not _LIST_ID.fullmatch(list_id):
            raise SourceNameError(
                f"{original!r}: a list is named by its id, e.g. mastodon:list/42 "
                "(the number at the end of the list's web address)"
            )
        return SourceName("mastodon", "list", list_id)
    if rest.startswith("tag/"):
        tag = rest[4:].lstrip("#")
        if not _TAG.fullmatch(tag) or tag.isdigit():
            raise SourceNameError(
                f"{original!r}: a hashtag is letters, digits and _, e.g. mastodon:tag/rss"
            )
        return SourceName("mastodon", "tag", tag)
    if rest.startswith("@"):
        user, at, instance = rest[1:].partition("@")
        if not at or not instance:
            raise SourceNameError(
                f"{original!r}: say which instance, e.g. mastodon:@{user or 'user'}@mastodon.social"
            )
        if not _MASTODON_USER.fullmatch(user):
            raise SourceNameError(f"{original!r}: {user!r} is not a Mastodon user name")
        instance = instance.lower().rstrip("/")
        if not _HOST.fullmatch(instance):
            raise SourceNameError(f"{original!r}: {instance!r} is not an instance's host name")
        return SourceName("mastodon", "account", f"{user}@{instance}")
    raise SourceNameError(
        f"{original!r}: use mastodon:home, mastodon:list/ID, mastodon:tag/NAME "
        "or mastodon:@user@instance"
    )


def _bluesky(rest: str, original: str) -> SourceName:
    if rest in ("following", "timeline"):
        return SourceName("bluesky", rest)
    if rest.startswith("@"):
        actor = rest[1:]
        if is_did(actor):
            return SourceName("bluesky", "account", actor)
        handle = actor.lower()
        if not is_handle(handle):
            raise SourceNameError(
                f"{original!r}: {actor!r} is not a Bluesky handle (like alice.bsky.social) "
                "nor a DID"
            )
        return SourceName("bluesky", "account", handle)
    if rest.startswith("feed/"):
        uri = rest[5:]
        parsed = parse_at_uri(uri)
        if parsed is None or parsed[1] not in (FEED_GENERATOR, GRAPH_LIST):
            raise SourceNameError(
                f"{original!r}: a feed is an AT-URI like "
                f"bluesky:feed/at://did:plc:.../{FEED_GENERATOR}/NAME "
                "(or paste the feed's bsky.app address)"
            )
        return SourceName("bluesky", "feed", uri)
    raise SourceNameError(
        f"{original!r}: use bluesky:following, bluesky:@handle, bluesky:timeline "
        "or bluesky:feed/AT-URI"
    )


def parse_source_name(text: str) -> SourceName:
    """Parse and check a source name; raises SourceNameError with a one-line reason."""
    original = text.strip()
    kind, colon, rest = original.partition(":")
    kind = kind.lower()
    if not colon or kind not in ("mastodon", "bluesky"):
        raise SourceNameError(f"{original!r}: a social source starts with mastodon: or bluesky:")
    if any(c.isspace() for c in rest) or not rest:
        raise SourceNameError(f"{original!r}: nothing after '{kind}:' (or spaces in it)")
    return _mastodon(rest, original) if kind == "mastodon" else _bluesky(rest, original)


# --- URLs people paste --------------------------------------------------------------

#: ``get(url) -> (status, content_type, body, final_url)``; status None: no answer.
#: The same shape as ``sources.feed.discover.Getter``: the CLI passes its Fetcher.
Getter = Callable[[str], Awaitable[tuple[int | None, str, bytes | None, str]]]


@dataclass(frozen=True, slots=True)
class Resolved:
    """What to subscribe to for a pasted URL, and a sentence saying what it is."""

    url: str  # a source name ("mastodon:@user@host") or a feed URL
    kind: str  # "mastodon" | "bluesky" | "feed"
    note: str  # one sentence for the user
    alternatives: tuple[tuple[str, str], ...] = ()  # (url, what it gives)


YOUTUBE_FEED = "https://www.youtube.com/feeds/videos.xml"
_YOUTUBE_HOSTS = {"youtube.com", "m.youtube.com", "music.youtube.com"}
_CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]{22}")
_CHANNEL_PATTERNS = (
    re.compile(r"feeds/videos\.xml\?channel_id=(UC[A-Za-z0-9_-]{22})"),
    re.compile(r"<link[^>]+rel=\"canonical\"[^>]+/channel/(UC[A-Za-z0-9_-]{22})"),
    re.compile(r"<meta[^>]+itemprop=\"(?:identifier|channelId)\"[^>]+content=\"(UC[\w-]{22})\""),
    re.compile(r"\"(?:externalId|channelId|browseId)\"\s*:\s*\"(UC[A-Za-z0-9_-]{22})\""),
)
# First path segments of github.com that are not user names.
_GITHUB_RESERVED = {
    "about", "apps", "collections", "contact", "customer-stories", "enterprise", "events",
    "explore", "features", "issues", "login", "marketplace", "new", "notifications", "orgs",
    "organizations", "pricing", "pulls", "search", "settings", "signup", "site", "sponsors",
    "topics", "trending", "security", "codespaces", "team", "readme",
}  # fmt: skip
# Hosts whose /@name pages are not Mastodon profiles.
_NOT_MASTODON = {
    "youtube.com", "m.youtube.com", "medium.com", "tiktok.com", "threads.net",
    "threads.com", "github.com", "bsky.app", "substack.com", "vimeo.com",
}  # fmt: skip


def channel_id_from_page(html: str) -> str | None:
    """A YouTube channel id (``UC`` + 22 characters) from a channel or video page."""
    for pattern in _CHANNEL_PATTERNS:
        m = pattern.search(html)
        if m:
            return m.group(1)
    return None


def _youtube_feed(channel_id: str) -> str:
    return f"{YOUTUBE_FEED}?channel_id={channel_id}"


async def _youtube(
    url: str, path: list[str], query: dict[str, list[str]], get: Getter | None
) -> Resolved:
    if path[:1] == ["channel"] and len(path) > 1 and _CHANNEL_ID.fullmatch(path[1]):
        return Resolved(_youtube_feed(path[1]), "feed", "The YouTube channel's videos feed.")
    if path[:1] == ["user"] and len(path) > 1:
        return Resolved(
            f"{YOUTUBE_FEED}?user={quote(path[1])}", "feed", "The YouTube user's videos feed."
        )
    if path[:1] == ["playlist"] and query.get("list"):
        playlist = query["list"][0]
        return Resolved(
            f"{YOUTUBE_FEED}?playlist_id={quote(playlist)}",
            "feed",
            "The YouTube playlist's feed.",
        )
    # /@handle, /c/name, a video: the channel id is only in the page itself.
    if get is None:
        raise SourceNameError(
            f"{url}: the channel's feed needs its id, found on the page: paste the "
            "channel's /channel/UC... address instead"
        )
    status, _ctype, body, _final = await get(url)
    if status != 200 or not body:
        reason = f"HTTP {status}" if status else "no answer"
        raise SourceNameError(f"{url}: could not read the page to find its channel ({reason})")
    channel = channel_id_from_page(body[:2_000_000].decode("utf-8", "replace"))
    if channel is None:
        raise SourceNameError(f"{url}: no YouTube channel id on that page")
    what = "this video's channel" if path[:1] in (["watch"], ["shorts"]) else "the channel"
    return Resolved(_youtube_feed(channel), "feed", f"The videos feed of {what} (YouTube).")


def _github(owner: str, repo: str, rest: list[str]) -> Resolved:
    base = f"https://github.com/{owner}/{repo}"
    commits = (f"{base}/commits.atom", "every commit on the default branch")
    tags = (f"{base}/tags.atom", "every new tag")
    if rest[:1] == ["commits"] and len(rest) > 1:
        branch = "/".join(rest[1:])
        return Resolved(
            f"{base}/commits/{branch}.atom",
            "feed",
            f"GitHub's feed of the commits on {branch}.",
            ((f"{base}/releases.atom", "releases instead"),),
        )
    if rest[:1] == ["tags"]:
        return Resolved(f"{base}/tags.atom", "feed", "GitHub's feed of the repository's tags.")
    return Resolved(
        f"{base}/releases.atom",
        "feed",
        "GitHub's feed of the repository's releases (for every commit, use commits.atom).",
        (commits, tags),
    )


def instance_url(host: str) -> str:
    """The base URL of an instance named by its host.  Instances speak https; a
    loopback host (a development server, or the tests') speaks plain http."""
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    scheme = "http" if bare in ("localhost", "127.0.0.1") else "https"
    return f"{scheme}://{host}"


async def _mastodon_profile(
    origin: str, host: str, user: str, get: Getter | None, *, post: bool
) -> Resolved | None:
    user, _, other = user.partition("@")
    instance = (other or host).lower()
    if not _MASTODON_USER.fullmatch(user) or not _HOST.fullmatch(instance):
        return None
    if get is not None:
        # Only a Mastodon-API server answers this; a blog with /@author pages does not.
        acct = f"{user}@{other}" if other else user
        status, _ctype, body, _final = await get(
            f"{origin}/api/v1/accounts/lookup?acct={quote(acct)}"
        )
        try:
            found = json.loads(body or b"") if status == 200 else None
        except ValueError:
            found = None
        if not isinstance(found, dict) or "id" not in found:
            return None
    what = "the author of this post" if post else "this account"
    return Resolved(
        f"mastodon:@{user}@{instance}",
        "mastodon",
        f"The public posts of {what} on Mastodon (no login needed).",
        ((f"{instance_url(instance)}/@{user}.rss", "the account's RSS feed"),),
    )


def _bluesky_profile(path: list[str]) -> Resolved | None:
    if len(path) < 2 or path[0] != "profile":
        return None
    actor = path[1]
    if not (is_did(actor) or is_handle(actor)):
        return None
    if len(path) >= 4 and path[2] in ("feed", "lists"):
        collection = FEED_GENERATOR if path[2] == "feed" else GRAPH_LIST
        what = "custom feed" if path[2] == "feed" else "list's feed"
        return Resolved(
            f"bluesky:feed/at://{actor}/{collection}/{path[3]}",
            "bluesky",
            f"This Bluesky {what} (needs a Bluesky account with an AppView).",
        )
    what = "the author of this post" if path[2:3] == ["post"] else "this account"
    return Resolved(
        f"bluesky:@{actor.lower() if is_handle(actor) else actor}",
        "bluesky",
        f"The posts and reposts of {what}, read from their own Bluesky server.",
    )


async def resolve_url(url: str, get: Getter | None = None) -> Resolved | None:
    """What to subscribe to for ``url``, or None when it is none of the known sites
    (then ordinary feed discovery applies).

    ``get`` fetches a page; it is only used where the answer is in the page (a
    YouTube /@handle) or to check that a ``/@user`` page is a Mastodon server.
    Raises SourceNameError (one line) when it is a known site but cannot be resolved.
    """
    text = url.strip()
    if text.startswith("@") and text.count("@") == 2:  # @user@instance, as people write it
        return Resolved(
            str(parse_source_name(f"mastodon:{text}")),
            "mastodon",
            "The public posts of this account on Mastodon (no login needed).",
        )
    if not is_safe_link(text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port  # raises for a port out of range
    except ValueError:
        return None
    host = (parts.hostname or "").lower().rstrip(".")
    bare = host.removeprefix("www.")
    path = [p for p in parts.path.split("/") if p]
    query = parse_qs(parts.query)

    if bare in _YOUTUBE_HOSTS:
        return await _youtube(text, path, query, get)
    if bare == "youtu.be" and path:
        return await _youtube(f"https://www.youtube.com/watch?v={path[0]}", ["watch"], {}, get)
    if bare == "github.com" and path and path[0].lower() not in _GITHUB_RESERVED:
        if len(path) == 1:
            return Resolved(
                f"https://github.com/{path[0]}.atom",
                "feed",
                "GitHub's feed of this user's activity.",
            )
        repo = path[1].removesuffix(".git")
        return _github(path[0], repo, path[2:])
    if bare in ("reddit.com", "old.reddit.com", "new.reddit.com", "np.reddit.com"):
        if len(path) >= 2 and path[0] == "r":
            feed = f"https://www.reddit.com/r/{path[1]}/.rss"
            alternatives: tuple[tuple[str, str], ...] = ()
            if len(path) >= 4 and path[2] == "comments":
                thread = "/".join(path[:5])
                alternatives = (
                    (f"https://www.reddit.com/{thread}/.rss", "this thread's comments"),
                )
            return Resolved(feed, "feed", f"The subreddit r/{path[1]}'s feed.", alternatives)
        if len(path) >= 2 and path[0] in ("u", "user"):
            return Resolved(
                f"https://www.reddit.com/user/{path[1]}/.rss",
                "feed",
                f"The feed of u/{path[1]}'s posts and comments.",
            )
        return None
    if bare == "news.ycombinator.com":
        return Resolved(
            "https://news.ycombinator.com/rss",
            "feed",
            "Hacker News's front page feed.",
            (("https://hnrss.org/newest", "every new story (hnrss.org)"),),
        )
    if bare == "bsky.app":
        return _bluesky_profile(path)
    if bare == "medium.com" and path and path[0].startswith("@"):
        return Resolved(f"https://medium.com/feed/{path[0]}", "feed", "The Medium author's feed.")
    if bare not in _NOT_MASTODON and path:
        origin = f"{parts.scheme}://{parts.netloc}"
        netloc = host if port is None else f"{host}:{port}"
        if path[0].startswith("@") and len(path[0]) > 1:
            post = len(path) >= 2 and path[1].isdigit()
            return await _mastodon_profile(origin, netloc, path[0][1:], get, post=post)
        if path[0] == "users" and len(path) >= 2:
            post = len(path) >= 4 and path[2] == "statuses"
            return await _mastodon_profile(origin, netloc, path[1], get, post=post)
    return None
