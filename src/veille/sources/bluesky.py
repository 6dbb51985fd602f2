"""Bluesky as a source, with or without an AppView.

``bluesky:following`` and ``bluesky:@handle`` need no AppView: your follows are
records in your own repository; each followed DID is resolved to the server that
holds its repository (PLC directory, or the domain of a did:web), and its posts
and reposts are read straight from there (``com.atproto.repo.listRecords``; a
reposted post with ``getRecord``).  This is what works against the reference PDS
and any self-hosted one.  Every repository read is public: your account is only
needed to know whose follows to read and, where there is an AppView, for
notifications.

Incremental without gaps: a repository's ``rev`` (``sync.getLatestCommit``) tells
whether anything changed since the last poll, so an idle account costs one
request; new records are then read oldest-first *after* the last record key
seen (``listRecords`` with ``reverse``: the reference PDS pages by ``rkey >
cursor``).  At most ``per_account`` records per collection per poll: a long
backlog comes in slices (``PollResult.more``).  DID documents, display names and
positions live in ``Feed.cursor`` (``dids``), refreshed after ``DID_TTL``, so a
poll does not resolve 300 DIDs every time.

``bluesky:timeline`` and ``bluesky:feed/AT-URI`` read ``getTimeline`` /
``getFeed`` (``getListFeed`` for a list) through the account's service when it
has an AppView.

A post is an entry about what it links to: its external embed (the card), else
its first link facet, else what the post it quotes links to, else the quoted
post, else itself.  Its HTML is built from the text and facets (UTF-8 byte
offsets); its words are its text.  Likes, reposts, replies and quotes of your
sent posts (``PollContext.sent``) come back as ``PollResult.responses``: found in
the repositories you read, plus ``listNotifications`` where an AppView answers.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from veille.accounts.config import Account
from veille.clients import bluesky as bsky
from veille.clients.bluesky import BlueskyClient, BlueskyError
from veille.domain.entries import ParsedEntry
from veille.domain.records import Feed
from veille.render.hygiene import clean_line, clean_text
from veille.sources.base import PollContext, PollResult, Response
from veille.sources.names import (
    SourceName,
    SourceNameError,
    is_did,
    parse_at_uri,
    parse_source_name,
)
from veille.sources.social import (
    StopPoll,
    describe_network,
    failure,
    http_client,
    iso_time,
    matches,
    relogin,
    resolve_short_links,
    summary_of,
    title_of,
    web_link,
)
from veille.util.dates import iso, now, parse_iso

log = logging.getLogger(__name__)

PER_ACCOUNT = 50  # records per collection per account per poll
FIRST_POLL = 10  # the newest records of an account read on its first poll
# ...but fewer reposts: each costs a getRecord (and maybe a DID) on another server.
FIRST_POLL_REPOSTS = 5
PAGE = 100  # listRecords' maximum
CONCURRENCY = 8  # repositories read at once
MAX_FOLLOWS = 5000
MAX_TIMELINE = 200  # AppView posts per poll
TIMELINE_PAGE = 100
MAX_NOTIFICATIONS = 200
DID_TTL = timedelta(hours=24)
APPVIEW_RETRY = timedelta(hours=24)  # after "no AppView here", ask again this late
SEEN_KEYS = 200
WEB = "https://bsky.app"
PUBLIC_RESOLVER = "https://public.api.bsky.app"
# Answers that mean "this service has no AppView to proxy to".
_NO_APPVIEW = ("No service configured", "XRPCNotSupported", "MethodNotImplemented")
# Repository answers that mean the account is not there any more.
_REPO_GONE = {
    "RepoNotFound": "not found (deleted?)",
    "RepoTakendown": "taken down",
    "RepoSuspended": "suspended",
    "RepoDeactivated": "deactivated",
}


# --- records → entries -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Author:
    did: str
    handle: str = ""
    name: str = ""
    pds: str = ""  # where blobs are served; "" when read through an AppView

    @property
    def at_handle(self) -> str:
        return f"@{self.handle}" if self.handle else self.did

    @property
    def profile_url(self) -> str:
        return f"{WEB}/profile/{self.handle or self.did}"


def post_url(author: Author, uri: str) -> str:
    """The post's page on bsky.app."""
    parsed = parse_at_uri(uri)
    rkey = parsed[2] if parsed else uri.rsplit("/", 1)[-1]
    return f"{WEB}/profile/{author.handle or author.did}/post/{rkey}"


def _boundary(data: bytes, index: int) -> bool:
    """Whether a byte offset falls between two UTF-8 characters."""
    return index == len(data) or (0 <= index < len(data) and data[index] & 0xC0 != 0x80)


def _facet_spans(data: bytes, facets: Any) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, value) of well-formed facets, in order, without overlaps."""
    spans = []
    for facet in facets if isinstance(facets, list) else ():
        if not isinstance(facet, dict):
            continue
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
            continue
        if not (_boundary(data, start) and _boundary(data, end)) or end > len(data):
            continue
        for feature in facet.get("features") or ():
            if not isinstance(feature, dict):
                continue
            kind = str(feature.get("$type") or "")
            if kind == "app.bsky.richtext.facet#link" and isinstance(feature.get("uri"), str):
                spans.append((start, end, "link", feature["uri"]))
            elif kind == "app.bsky.richtext.facet#mention" and isinstance(feature.get("did"), str):
                spans.append((start, end, "mention", feature["did"]))
            elif kind == "app.bsky.richtext.facet#tag" and isinstance(feature.get("tag"), str):
                spans.append((start, end, "tag", feature["tag"]))
            else:
                continue
            break
    spans.sort()
    kept: list[tuple[int, int, str, str]] = []
    for span in spans:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _escape(text: str) -> str:
    return html.escape(clean_text(text), quote=False).replace("\n", "<br>")


def text_html(text: str, facets: Any) -> str:
    """A post's text as HTML: facets become links (offsets are UTF-8 bytes)."""
    data = text.encode("utf-8")
    out = []
    pos = 0
    for start, end, kind, value in _facet_spans(data, facets):
        out.append(_escape(data[pos:start].decode("utf-8")))
        label = _escape(data[start:end].decode("utf-8"))
        if kind == "link":
            href = web_link(value)
        elif kind == "mention":
            href = f"{WEB}/profile/{value}" if is_did(value) else ""
        else:
            href = f"{WEB}/hashtag/{quote(value, safe='')}" if value else ""
        if href:
            out.append(f'<a href="{html.escape(href)}">{label}</a>')
        else:
            out.append(label)
        pos = end
    out.append(_escape(data[pos:].decode("utf-8")))
    return f"<p>{''.join(out)}</p>"


def facet_links(record: dict[str, Any]) -> list[str]:
    text = record.get("text")
    if not isinstance(text, str):
        return []
    spans = _facet_spans(text.encode("utf-8"), record.get("facets"))
    return [link for _, _, kind, value in spans if kind == "link" and (link := web_link(value))]


def _blob_cid(blob: Any) -> tuple[str, str]:
    """(cid, mime) of a blob reference, in its current or legacy shape."""
    if not isinstance(blob, dict):
        return "", ""
    ref = blob.get("ref")
    cid = ref.get("$link") if isinstance(ref, dict) else blob.get("cid")
    return (cid if isinstance(cid, str) else ""), str(blob.get("mimeType") or "")


def _embed_parts(embed: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(external, media embed, quoted record URI) of a record's embed."""
    if not isinstance(embed, dict):
        return {}, {}, ""
    kind = str(embed.get("$type") or "")
    if kind.startswith("app.bsky.embed.external"):
        external = embed.get("external")
        return (external if isinstance(external, dict) else {}), {}, ""
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        inner = embed.get("record")
        quoted = inner.get("record") if isinstance(inner, dict) else None
        uri = quoted.get("uri") if isinstance(quoted, dict) else None
        media = embed.get("media")
        external, _, _ = _embed_parts(media)
        return (
            external,
            media if isinstance(media, dict) else {},
            uri if isinstance(uri, str) else "",
        )
    if kind.startswith("app.bsky.embed.record"):
        record = embed.get("record")
        uri = record.get("uri") if isinstance(record, dict) else None
        return {}, {}, uri if isinstance(uri, str) else ""
    if kind.startswith(("app.bsky.embed.images", "app.bsky.embed.video")):
        return {}, embed, ""
    return {}, {}, ""


def _media(media: dict[str, Any], author: Author) -> list[dict[str, Any]]:
    """Images and video of a record's embed, as enclosures served by the author's PDS."""
    out: list[dict[str, Any]] = []
    if not author.pds:
        return out
    kind = str(media.get("$type") or "")
    blobs = []
    if kind.startswith("app.bsky.embed.images"):
        blobs = [i.get("image") for i in media.get("images") or () if isinstance(i, dict)]
    elif kind.startswith("app.bsky.embed.video"):
        blobs = [media.get("video")]
    for blob in blobs:
        cid, mime = _blob_cid(blob)
        if cid:
            url = bsky.blob_url(author.pds, author.did, cid)
            out.append({"url": url, "type": mime, "length": None})
    return out


def _view_media(view: Any) -> tuple[list[dict[str, Any]], str]:
    """Enclosures and card thumbnail from an AppView embed view (CDN URLs)."""
    if not isinstance(view, dict):
        return [], ""
    kind = str(view.get("$type") or "")
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        return _view_media(view.get("media"))
    if kind.startswith("app.bsky.embed.images"):
        out = [
            {"url": url, "type": "image/jpeg", "length": None}
            for i in view.get("images") or ()
            if isinstance(i, dict) and (url := web_link(i.get("fullsize")))
        ]
        return out, ""
    if kind.startswith("app.bsky.embed.external"):
        external = view.get("external")
        return [], web_link(external.get("thumb")) if isinstance(external, dict) else ""
    if kind.startswith("app.bsky.embed.video"):
        url = web_link(view.get("playlist"))
        return ([{"url": url, "type": "application/x-mpegURL", "length": None}] if url else []), ""
    return [], ""


def quoted_uri(record: dict[str, Any]) -> str:
    """The AT-URI of the post a record quotes, or ""."""
    uri = _embed_parts(record.get("embed"))[2]
    parsed = parse_at_uri(uri) if uri else None
    return uri if parsed and parsed[1] == bsky.POST_COLLECTION else ""


_BARE_URL = re.compile(r"https?://[^\s<>\"']+")


def text_links(text: str) -> list[str]:
    """Full URLs written in a post's text: some clients and bots post them without a
    link facet.  A shortened one ("example.org/long…") is not a URL and is left."""
    out = []
    for match in _BARE_URL.finditer(text):
        url = match.group().rstrip(".,;:!?)]}'\"")
        if url.endswith(("…", "...")):
            continue
        if link := web_link(url):
            out.append(link)
    return out


def article_of(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(link, external embed) a post is about, from the record alone."""
    external, _, _ = _embed_parts(record.get("embed"))
    link = web_link(external.get("uri")) if external else ""
    if link:
        return link, external
    links = facet_links(record) or text_links(str(record.get("text") or ""))
    return (links[0], {}) if links else ("", {})


def _labels(record: dict[str, Any]) -> str:
    labels = record.get("labels")
    values = labels.get("values") if isinstance(labels, dict) else None
    found = [
        clean_line(str(v.get("val")))
        for v in values or ()
        if isinstance(v, dict) and isinstance(v.get("val"), str)
    ]
    return ", ".join(found)


def post_entry(
    uri: str,
    record: Any,
    author: Author,
    *,
    sent: Collection[str] = (),
    quoted: tuple[str, dict[str, Any], Author] | None = None,
    view: Any = None,
) -> ParsedEntry | None:
    """A post record as an entry; None when it is not a post (or is malformed).

    ``quoted``: (uri, record, author) of the post it quotes, when known; ``view``:
    the AppView's embed view (CDN image URLs) when read through an AppView.
    """
    if not isinstance(record, dict) or record.get("$type", bsky.POST_COLLECTION) != (
        bsky.POST_COLLECTION
    ):
        return None
    text = record.get("text")
    if not isinstance(text, str):
        return None
    words = clean_text(text).strip()
    own_url = post_url(author, uri)
    link, external = article_of(record)
    kind = "post"
    quote_uri = quoted_uri(record)
    if quote_uri:
        kind = "quote"
        quoted_url = post_url(quoted[2], quote_uri) if quoted else ""
        if link == quoted_url:
            link = ""
        if not link and quoted is not None:
            link, external = article_of(quoted[1])
            link = link or quoted_url
        if not link:
            parsed = parse_at_uri(quote_uri)
            link = f"{WEB}/profile/{parsed[0]}/post/{parsed[2]}" if parsed else ""
    _, media_embed, _ = _embed_parts(record.get("embed"))
    enclosures = _media(media_embed, author)
    view_enclosures, view_thumb = _view_media(view)
    if view_enclosures and not enclosures:
        enclosures = view_enclosures
    image = view_thumb
    thumb_cid, _ = _blob_cid(external.get("thumb")) if external else ("", "")
    if not image and thumb_cid and author.pds and not quote_uri:
        image = bsky.blob_url(author.pds, author.did, thumb_cid)
    if not image:
        image = next((e["url"] for e in enclosures if str(e["type"]).startswith("image")), "")
    tags = [
        clean_line(value)
        for _, _, k, value in _facet_spans(text.encode("utf-8"), record.get("facets"))
        if k == "tag"
    ]
    tags += [clean_line(t) for t in record.get("tags") or () if isinstance(t, str)]
    entry = ParsedEntry(
        key=uri,
        link=link or own_url,
        author=author.name or author.handle,
        published=iso_time(record.get("createdAt")),
        content=text_html(text, record.get("facets")),
        content_type="html",
        categories=list(dict.fromkeys(t for t in tags if t)),
        enclosures=enclosures,
        image=image,
        base=WEB,
        kind=kind,
        handle=author.at_handle,
        post_url=own_url,
        post_text=words,
        content_warning=_labels(record),
    )
    if external:
        entry.title = clean_line(str(external.get("title") or "")) or title_of(words)
        entry.summary = summary_of(str(external.get("description") or "")) or summary_of(words)
    else:
        entry.title = "" if link else title_of(words)
        entry.summary = summary_of(words)
    if not entry.title and not link:
        entry.title = title_of(entry.content_warning) or entry.handle
    parent = _reply_parent(record)
    reply_to = matches(sent, parent)
    if reply_to:
        entry.kind = "reply"
        entry.reply_to = reply_to
        entry.link = own_url
        entry.title = title_of(words) or entry.title
    return entry


def _reply_parent(record: dict[str, Any]) -> str:
    reply = record.get("reply")
    parent = reply.get("parent") if isinstance(reply, dict) else None
    uri = parent.get("uri") if isinstance(parent, dict) else None
    return uri if isinstance(uri, str) else ""


def _subject(record: dict[str, Any]) -> str:
    subject = record.get("subject")
    uri = subject.get("uri") if isinstance(subject, dict) else None
    return uri if isinstance(uri, str) else ""


def record_responses(
    uri: str, record: dict[str, Any], author: Author, sent: Collection[str]
) -> list[Response]:
    """What a record of someone else says about your sent posts."""
    if not sent or not isinstance(record, dict):
        return []
    kind = str(record.get("$type") or "")
    at = iso_time(record.get("createdAt"))
    name = author.name or author.handle

    def response(what: str, target: str, text: str, url: str) -> Response:
        return Response(what, target, name, author.at_handle, text, url, at, key=uri)

    if kind in (bsky.LIKE_COLLECTION, bsky.REPOST_COLLECTION):
        target = matches(sent, _subject(record))
        if not target:
            return []
        what = "like" if kind == bsky.LIKE_COLLECTION else "repost"
        return [response(what, target, "", author.profile_url)]
    if kind != bsky.POST_COLLECTION:
        return []
    text = clean_text(str(record.get("text") or "")).strip()
    out = []
    parent = matches(sent, _reply_parent(record))
    if parent:
        out.append(response("reply", parent, text, post_url(author, uri)))
    quoted = matches(sent, quoted_uri(record))
    if quoted:
        out.append(response("quote", quoted, text, post_url(author, uri)))
    return out


def notification_response(item: dict[str, Any], sent: Collection[str]) -> Response | None:
    """An AppView notification about one of your sent posts, as a Response."""
    reason = item.get("reason")
    record = item.get("record")
    author_view = item.get("author")
    uri = item.get("uri")
    if (
        not isinstance(record, dict)
        or not isinstance(author_view, dict)
        or not isinstance(uri, str)
    ):
        return None
    author = Author(
        did=str(author_view.get("did") or ""),
        handle=clean_line(str(author_view.get("handle") or "")),
        name=clean_line(str(author_view.get("displayName") or "")),
    )
    if reason in ("like", "repost"):
        target = matches(sent, item.get("reasonSubject"), _subject(record))
        kind = str(reason)
    elif reason == "reply":
        target, kind = matches(sent, _reply_parent(record)), "reply"
    elif reason == "quote":
        target, kind = matches(sent, item.get("reasonSubject"), quoted_uri(record)), "quote"
    else:
        return None
    if not target:
        return None
    text = clean_text(str(record.get("text") or "")).strip() if kind in ("reply", "quote") else ""
    url = post_url(author, uri) if kind in ("reply", "quote") else author.profile_url
    return Response(
        kind,
        target,
        author=author.name or author.handle,
        handle=author.at_handle,
        text=text,
        url=url,
        at=iso_time(record.get("createdAt")) or iso_time(item.get("indexedAt")),
        key=uri,
    )


def _view_author(view: Any) -> Author:
    if not isinstance(view, dict):
        return Author(did="")
    return Author(
        did=str(view.get("did") or ""),
        handle=clean_line(str(view.get("handle") or "")).lower(),
        name=clean_line(str(view.get("displayName") or "")),
    )


def feed_item_entry(item: Any, sent: Collection[str] = ()) -> ParsedEntry | None:
    """A ``FeedViewPost`` of the AppView (getTimeline, getFeed) as an entry."""
    if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
        return None
    post = item["post"]
    uri = post.get("uri")
    if not isinstance(uri, str):
        return None
    author = _view_author(post.get("author"))
    view = post.get("embed")
    quoted = None
    record_view = view.get("record") if isinstance(view, dict) else None
    if isinstance(record_view, dict) and isinstance(record_view.get("record"), dict):
        record_view = record_view["record"]  # recordWithMedia#view
    if isinstance(record_view, dict) and isinstance(record_view.get("value"), dict):
        quoted = (
            str(record_view.get("uri") or ""),
            record_view["value"],
            _view_author(record_view.get("author")),
        )
    entry = post_entry(uri, post.get("record"), author, sent=sent, quoted=quoted, view=view)
    if entry is None:
        return None
    reason = item.get("reason")
    if isinstance(reason, dict) and "reasonRepost" in str(reason.get("$type") or ""):
        booster = _view_author(reason.get("by"))
        entry.kind = "repost"
        entry.reposter = booster.at_handle
        entry.key = str(reason.get("uri") or f"{uri}#repost:{booster.did}")
        entry.published = iso_time(reason.get("indexedAt")) or entry.published
    return entry


# --- polling ------------------------------------------------------------------------------


@dataclass
class _Harvest:
    """What the repositories read in one poll gave."""

    entries: list[ParsedEntry] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # error_kind of each problem
    failed: int = 0
    throttled: float | None = None
    more: bool = False


def _fresh(state: Mapping[str, Any], ttl: timedelta) -> bool:
    checked = parse_iso(state.get("checked") if isinstance(state.get("checked"), str) else None)
    return checked is not None and now() - checked < ttl


def _gone_reason(exc: BlueskyError) -> str | None:
    if exc.error in _REPO_GONE:
        return _REPO_GONE[exc.error]
    if exc.status == 400 and exc.message.startswith("Could not find repo"):
        return _REPO_GONE["RepoNotFound"]
    return None


class _Crawl:
    """One poll's reading of repositories: shared DID cache, bounded concurrency."""

    def __init__(
        self,
        source: BlueskySource,
        http: httpx.AsyncClient,
        ctx: PollContext,
        dids: dict[str, dict[str, Any]],
    ) -> None:
        self.source = source
        self.http = http
        self.ctx = ctx
        self.dids = dids
        self.plc = bsky.plc_url()
        self.semaphore = asyncio.Semaphore(source.concurrency)
        self._resolving: dict[str, asyncio.Future[Author]] = {}
        self.requests = 0
        # Servers that did not answer in this poll: their other accounts are skipped
        # rather than each waiting for its own time-out.
        self.down: set[str] = set()

    async def author(self, did: str) -> Author:
        """DID → Author (PDS, handle, display name), from the cache when fresh."""
        state = self.dids.setdefault(did, {})
        if state.get("pds") and _fresh(state, DID_TTL):
            state["used"] = iso(now())
            return Author(did, state.get("handle", ""), state.get("name", ""), state["pds"])
        pending = self._resolving.get(did)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Author] = asyncio.get_running_loop().create_future()
        self._resolving[did] = future
        try:
            author = await self._resolve(did, state)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            self._resolving.pop(did, None)
        future.set_result(author)
        return author

    async def _resolve(self, did: str, state: dict[str, Any]) -> Author:
        try:
            self.requests += 1
            doc = await bsky.resolve_did(self.http, did, self.plc)
        except BlueskyError as exc:
            if not exc.permanent and state.get("pds"):
                # The directory is unreachable: yesterday's answer beats none.
                log.info("resolving %s: %s; using the cached server", did, exc)
                state["used"] = iso(now())
                return Author(did, state.get("handle", ""), state.get("name", ""), state["pds"])
            raise
        name = ""
        try:
            self.requests += 1
            profile = await bsky.get_record(
                self.http, doc.pds, did, bsky.PROFILE_COLLECTION, "self"
            )
            value = profile.get("value") if profile else None
            if isinstance(value, dict):
                name = clean_line(str(value.get("displayName") or ""))
        except BlueskyError as exc:
            log.info("profile of %s: %s", did, exc)
        state.update(
            pds=doc.pds,
            handle=clean_line(doc.handle),
            name=name,
            checked=iso(now()),
            used=iso(now()),
        )
        return Author(did, state["handle"], name, doc.pds)

    async def post(self, uri: str) -> tuple[dict[str, Any], Author] | None:
        """A post by its AT-URI (a reposted or quoted one): (record, author), or None."""
        parsed = parse_at_uri(uri)
        if parsed is None or not is_did(parsed[0]) or parsed[1] != bsky.POST_COLLECTION:
            return None
        author = await self.author(parsed[0])
        self.requests += 1
        found = await bsky.get_record(self.http, author.pds, parsed[0], parsed[1], parsed[2])
        if found is None:
            return None
        return found["value"], author

    async def records(
        self, author: Author, collection: str, state: dict[str, Any], *, first: bool
    ) -> tuple[list[dict[str, Any]], bool]:
        """New records of one collection, oldest first; (records, more waiting)."""
        key = collection.rsplit(".", 1)[-1]
        top = state.get(key)
        if first or not isinstance(top, str):
            self.requests += 1
            limit = self.source.first_poll
            if collection == bsky.REPOST_COLLECTION:
                limit = min(limit, FIRST_POLL_REPOSTS)
            found, _ = await bsky.list_records(
                self.http, author.pds, author.did, collection, limit=limit
            )
            found.sort(key=_rkey)
            state[key] = _rkey(found[-1]) if found else ""
            return found, False
        out: list[dict[str, Any]] = []
        cursor = top or None
        limit = min(PAGE, self.source.per_account)
        while True:
            self.requests += 1
            page, next_cursor = await bsky.list_records(
                self.http, author.pds, author.did, collection, limit=limit, cursor=cursor,
                reverse=True,
            )  # fmt: skip
            # Only what is after the last key, in order, whatever the server did.
            page = sorted((r for r in page if not top or _rkey(r) > top), key=_rkey)
            out.extend(page)
            if page:
                state[key] = top = _rkey(page[-1])
            if len(page) < limit or not next_cursor:
                return out, False
            if len(out) >= self.source.per_account:
                return out, True
            cursor = next_cursor

    async def account(self, did: str, harvest: _Harvest) -> None:
        """Read one followed account's new posts, reposts (and likes, when you have
        sent posts to match them against) into ``harvest``; never raises."""
        async with self.semaphore:
            try:
                await self._account(did, harvest)
            except BlueskyError as exc:
                self._problem(did, exc, harvest)
            except Exception:
                log.exception("reading the repository of %s failed", did)
                harvest.failed += 1
                harvest.problems.append(f"{self._name(did)}: unexpected error (see the log)")
                harvest.kinds.append("other")

    def _name(self, did: str) -> str:
        handle = self.dids.get(did, {}).get("handle")
        return f"@{handle}" if handle else did

    def _problem(self, did: str, exc: BlueskyError, harvest: _Harvest) -> None:
        harvest.failed += 1
        gone = _gone_reason(exc)
        if exc.status == 429:
            wait = exc.retry_after
            harvest.throttled = max(harvest.throttled or 0.0, wait or 0.0)
            harvest.problems.append(f"{self._name(did)}: rate-limited by its server")
            harvest.kinds.append("throttled")
        elif gone:
            harvest.problems.append(f"{self._name(did)}: account {gone}")
            harvest.kinds.append("not_found")
        else:
            harvest.problems.append(f"{self._name(did)}: {exc.message}")
            if exc.error == bsky.INVALID:
                harvest.kinds.append("parse")
            elif exc.status is None:
                harvest.kinds.append(describe_network(exc.message))
            else:
                harvest.kinds.append("not_found" if exc.status in (404, 410) else "http")
        if gone or (exc.permanent and exc.status in (None, 404)):
            # Moved or gone: resolve it again next time.
            self.dids.get(did, {}).pop("checked", None)

    async def _account(self, did: str, harvest: _Harvest) -> None:
        author = await self.author(did)
        state = self.dids[did]
        if author.pds in self.down:
            raise BlueskyError(f"{author.pds} did not answer", permanent=False)
        self.requests += 1
        try:
            rev = await bsky.latest_commit(self.http, author.pds, did)
        except BlueskyError as exc:
            if exc.status is None and exc.error != bsky.INVALID:
                self.down.add(author.pds)
            raise
        first = "post" not in state
        want_likes = bool(self.ctx.sent)
        unchanged = rev is not None and rev == state.get("rev") and not state.get("more")
        if unchanged and not (want_likes and "like" not in state):
            return  # nothing changed in that repository since the last poll
        posts, more_posts = await self.records(author, bsky.POST_COLLECTION, state, first=first)
        reposts, more_reposts = await self.records(
            author, bsky.REPOST_COLLECTION, state, first=first
        )
        likes: list[dict[str, Any]] = []
        more_likes = False
        if want_likes:
            likes, more_likes = await self.records(
                author, bsky.LIKE_COLLECTION, state, first="like" not in state
            )
        more = more_posts or more_reposts or more_likes
        state["more"] = more
        if rev is not None:
            state["rev"] = rev
        harvest.more = harvest.more or more
        sent = self.ctx.sent
        for item in posts:
            record = item.get("value")
            if not isinstance(record, dict):
                continue
            uri = item["uri"]
            quoted = None
            quote = quoted_uri(record)
            if quote and not article_of(record)[0]:
                try:
                    found = await self.post(quote)
                except BlueskyError as exc:
                    log.info("quoted post %s: %s", quote, exc)
                    found = None
                if found is not None:
                    quoted = (quote, found[0], found[1])
            entry = post_entry(uri, record, author, sent=sent, quoted=quoted)
            if entry is not None:
                harvest.entries.append(entry)
            harvest.responses.extend(record_responses(uri, record, author, sent))
        for item in reposts:
            record = item.get("value")
            if not isinstance(record, dict):
                continue
            harvest.responses.extend(record_responses(item["uri"], record, author, sent))
            subject = _subject(record)
            try:
                found = await self.post(subject) if subject else None
            except BlueskyError as exc:
                log.info("reposted post %s: %s", subject, exc)
                found = None
            if found is None:
                continue  # deleted since, or not a post
            entry = post_entry(subject, found[0], found[1], sent=sent)
            if entry is None:
                continue
            entry.kind = "repost"
            entry.reposter = author.at_handle
            entry.key = item["uri"]
            entry.published = iso_time(record.get("createdAt")) or entry.published
            harvest.entries.append(entry)
        for item in likes:
            record = item.get("value")
            if isinstance(record, dict):
                harvest.responses.extend(record_responses(item["uri"], record, author, sent))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rkey(record: Mapping[str, Any]) -> str:
    return str(record.get("uri") or "").rsplit("/", 1)[-1]


class BlueskySource:
    """The ``bluesky`` kind of source."""

    kind: ClassVar[str] = "bluesky"

    def __init__(
        self,
        *,
        per_account: int = PER_ACCOUNT,
        first_poll: int = FIRST_POLL,
        concurrency: int = CONCURRENCY,
        max_posts: int = MAX_TIMELINE,
    ) -> None:
        self.per_account = max(1, per_account)
        self.first_poll = max(1, min(first_poll, PAGE))
        self.concurrency = max(1, concurrency)
        self.max_posts = max(1, max_posts)

    async def poll(self, feed: Feed, ctx: PollContext) -> PollResult:
        """Never raises: every failure is a PollResult with a one-line ``error``."""
        try:
            name = parse_source_name(feed.url)
            if name.kind != "bluesky":
                raise SourceNameError(f"{feed.url!r} is not a Bluesky source")
            async with http_client(ctx) as http:
                if name.view in ("following", "account"):
                    result = await self._repos(feed, name, ctx, http)
                else:
                    result = await self._appview(feed, name, ctx, http)
            await resolve_short_links(result.entries, ctx)
            return result
        except SourceNameError as exc:
            return failure(str(exc), "url")
        except StopPoll as stop:
            return stop.result
        except Exception:  # a bug: to the log with its traceback, one line for the user
            log.exception("polling %s failed", feed.url)
            return failure(f"{feed.url}: unexpected error (details in the log)", "other")

    # -- accounts ------------------------------------------------------------------------

    def _account(self, feed: Feed, ctx: PollContext, *, required: bool) -> Account | None:
        accounts = {
            n: a for n, a in (ctx.accounts or {}).items() if getattr(a, "type", "") == "bluesky"
        }
        account = accounts.get(feed.account) if feed.account else None
        if account is None and not feed.account and len(accounts) == 1:
            account = next(iter(accounts.values()))
        if account is None and required:
            wanted = f"the account '{feed.account}'" if feed.account else "a Bluesky account"
            raise StopPoll(
                failure(
                    f"{feed.url} needs {wanted}: add it with `veille account add bluesky HANDLE`",
                    "auth",
                )
            )
        return account

    def _client(self, account: Account, ctx: PollContext, http: httpx.AsyncClient) -> BlueskyClient:
        secrets = ctx.secrets
        password = secrets.get(account.secret("app_password")) if secrets is not None else None
        if not password:
            raise StopPoll(
                failure(
                    f"no app password saved for '{account.name}': "
                    + relogin("bluesky", account.name, account.handle),
                    "auth",
                )
            )
        session = None
        raw = secrets.get(account.secret("session"))
        try:
            session = json.loads(raw) if raw else None
        except ValueError:
            session = None
        return BlueskyClient(
            account.service,
            account.handle,
            password,
            client=http,
            session=session if isinstance(session, dict) else None,
        )

    @staticmethod
    def _keep_session(client: BlueskyClient, account: Account, ctx: PollContext) -> None:
        after = client.session
        if after and ctx.secrets is not None:
            raw = ctx.secrets.get(account.secret("session"))
            if raw != json.dumps(after):
                ctx.secrets.set(account.secret("session"), json.dumps(after))

    async def _resolve(self, http: httpx.AsyncClient, handle: str, account: Account | None) -> str:
        service = account.service if account is not None else PUBLIC_RESOLVER
        try:
            did = await bsky.resolve_handle(http, service, handle)
        except BlueskyError as exc:
            raise StopPoll(
                failure(
                    f"could not resolve @{handle}: {exc.message}", describe_network(exc.message)
                )
            ) from None
        if did is None or not is_did(did):
            raise StopPoll(failure(f"@{handle} does not resolve to an account", "not_found"))
        return did

    # -- reading repositories (no AppView needed) ---------------------------------------------

    async def _repos(
        self, feed: Feed, name: SourceName, ctx: PollContext, http: httpx.AsyncClient
    ) -> PollResult:
        cursor: dict[str, Any] = dict(feed.cursor or {})
        dids: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in (cursor.get("dids") or {}).items() if isinstance(v, dict)
        }
        account = self._account(feed, ctx, required=name.view == "following")
        crawl = _Crawl(self, http, ctx, dids)
        if name.view == "account":
            subject = name.arg
            did = subject if is_did(subject) else cursor.get("did")
            if not (isinstance(did, str) and did) or cursor.get("actor") != subject:
                did = subject if is_did(subject) else await self._resolve(http, subject, account)
                cursor.update(actor=subject, did=did)
            follows = [did]
        else:
            assert account is not None
            follows = await self._follows(crawl, account, cursor)
        harvest = _Harvest()
        await asyncio.gather(*(crawl.account(did, harvest) for did in follows))
        if follows and harvest.failed == len(follows):
            first = harvest.problems[0] if harvest.problems else "no repository could be read"
            kind = harvest.kinds[0] if harvest.kinds else "other"
            if harvest.throttled is not None:
                return failure(
                    first, "throttled", status="throttled", retry_after=harvest.throttled
                )
            # One account that is gone is a gone source; a following list never is.
            gone = name.view == "account" and kind == "not_found"
            return failure(first, kind, status="gone" if gone else "error")
        responses = harvest.responses
        warning = ""
        if name.view == "following" and ctx.sent and account is not None:
            extra, note = await self._notifications(account, ctx, http, cursor)
            responses = _unique(responses + extra)
            warning = note
        if harvest.problems:
            shown = "; ".join(harvest.problems[:3])
            more = f" (+{len(harvest.problems) - 3} more)" if len(harvest.problems) > 3 else ""
            warning = clean_line(
                f"{harvest.failed} of {len(follows)} accounts not read: {shown}{more}"
                + (f"; {warning}" if warning else "")
            )
        cursor["dids"] = _prune(dids, set(follows))
        title = ""
        if name.view == "account":
            state = dids.get(follows[0], {})
            handle = state.get("handle") or name.arg
            title = f"{state.get('name') or handle} (@{handle})" if handle else name.arg
        else:
            assert account is not None
            title = f"Following · @{account.handle}"
        entries = _unique_entries(harvest.entries)
        entries.sort(key=lambda e: (e.published or "", e.key), reverse=True)
        log.debug("%s: %d requests", feed.url, crawl.requests)
        return PollResult(
            status="ok",
            entries=entries,
            title=title,
            site_url=WEB,
            cursor=cursor,
            more=harvest.more,
            responses=responses,
            warning=warning,
            retry_after=harvest.throttled,
        )

    async def _follows(self, crawl: _Crawl, account: Account, cursor: dict[str, Any]) -> list[str]:
        """The DIDs you follow: your follow records, re-read only when your repo changed."""
        http = crawl.http
        me = _dict(cursor.get("self"))
        did = me.get("did") if me.get("handle") == account.handle else None
        if not isinstance(did, str) or not did:
            did = await self._resolve(http, account.handle, account)
            me = {"did": did, "handle": account.handle}
        try:
            author = await crawl.author(did)
            crawl.requests += 1
            rev = await bsky.latest_commit(http, author.pds, did)
            follows = me.get("follows")
            if rev is None or rev != me.get("rev") or not isinstance(follows, list):
                follows = []
                page_cursor = None
                while len(follows) < MAX_FOLLOWS:
                    crawl.requests += 1
                    records, page_cursor = await bsky.list_records(
                        http, author.pds, did, bsky.FOLLOW_COLLECTION, limit=PAGE,
                        cursor=page_cursor,
                    )  # fmt: skip
                    for record in records:
                        subject = (record.get("value") or {}).get("subject")
                        if isinstance(subject, str) and is_did(subject):
                            follows.append(subject)
                    if len(records) < PAGE or not page_cursor:
                        break
                follows = list(dict.fromkeys(follows))
                me.update(rev=rev, follows=follows)
        except BlueskyError as exc:
            where = f"your repository (@{account.handle})"
            if exc.status == 429:
                raise StopPoll(
                    failure(
                        f"{where}: rate-limited",
                        "throttled",
                        status="throttled",
                        retry_after=exc.retry_after,
                    )
                ) from None
            gone = _gone_reason(exc)
            message = f"{where}: account {gone}" if gone else f"{where}: {exc.message}"
            kind = (
                "not_found"
                if gone
                else (describe_network(exc.message) if exc.status is None else "http")
            )
            raise StopPoll(failure(message, kind, http_status=exc.status)) from None
        cursor["self"] = me
        return [f for f in follows if isinstance(f, str)]

    async def _notifications(
        self, account: Account, ctx: PollContext, http: httpx.AsyncClient, cursor: dict[str, Any]
    ) -> tuple[list[Response], str]:
        """listNotifications where the service has an AppView: (responses, note)."""
        state = _dict(cursor.get("appview"))
        until = parse_iso(state.get("absent_until"))
        if until is not None and now() < until:
            return [], ""
        secrets = ctx.secrets
        if secrets is None or not secrets.get(account.secret("app_password")):
            return [], ""
        client = self._client(account, ctx, http)
        try:
            responses, newest = await self._read_notifications(client, ctx.sent, state)
        except BlueskyError as exc:
            if any(marker in exc.message or marker == exc.error for marker in _NO_APPVIEW) or (
                exc.status in (404, 501)
            ):
                cursor["appview"] = {"absent_until": iso(now() + APPVIEW_RETRY)}
                return [], ""
            if exc.status in (400, 401) and exc.error in (
                "AuthenticationRequired",
                "InvalidToken",
                "ExpiredToken",
                "AuthFactorTokenRequired",
            ):
                return [], "notifications not read: " + relogin(
                    "bluesky", account.name, account.handle
                )
            return [], f"notifications not read: {exc.message}"
        finally:
            self._keep_session(client, account, ctx)
        if newest:
            state = {"seen": newest}
        cursor["appview"] = state
        return responses, ""

    async def _read_notifications(
        self, client: BlueskyClient, sent: Collection[str], state: Mapping[str, Any]
    ) -> tuple[list[Response], str]:
        seen = str(state.get("seen") or "")
        responses: list[Response] = []
        newest = seen
        page_cursor = None
        count = 0
        while count < MAX_NOTIFICATIONS:
            body = await client.list_notifications(cursor=page_cursor, limit=50)
            items = body.get("notifications")
            if not isinstance(items, list):
                raise BlueskyError(
                    "listNotifications: no notifications list", permanent=True, error=bsky.INVALID
                )
            done = False
            for item in items:
                if not isinstance(item, dict):
                    continue
                indexed = str(item.get("indexedAt") or "")
                if seen and indexed and indexed <= seen:
                    done = True
                    break
                newest = max(newest, indexed)
                response = notification_response(item, sent)
                if response is not None:
                    responses.append(response)
            count += len(items)
            page_cursor = body.get("cursor")
            if done or not seen or not items or not isinstance(page_cursor, str):
                break  # the first time, the newest page is enough
        return responses, newest

    # -- through the AppView ---------------------------------------------------------------

    async def _appview(
        self, feed: Feed, name: SourceName, ctx: PollContext, http: httpx.AsyncClient
    ) -> PollResult:
        account = self._account(feed, ctx, required=True)
        assert account is not None
        cursor: dict[str, Any] = dict(feed.cursor or {})
        client = self._client(account, ctx, http)
        try:
            items, more = await self._read_timeline(client, name, cursor)
        except BlueskyError as exc:
            return self._appview_failed(exc, name, account)
        finally:
            self._keep_session(client, account, ctx)
        entries = []
        for item in items:
            try:
                entry = feed_item_entry(item, ctx.sent)
            except Exception:
                log.exception("could not read a feed item of %s", feed.url)
                entry = None
            if entry is not None:
                entries.append(entry)
        responses = _unique([r for e in entries if e.kind == "reply" for r in _reply_response(e)])
        if name.view == "timeline":
            title = f"Timeline · @{account.handle}"
        else:
            title = str(cursor.get("title") or name.arg.rsplit("/", 1)[-1])
        return PollResult(
            entries=_unique_entries(entries),
            title=title,
            site_url=WEB,
            cursor=cursor,
            more=more,
            responses=responses,
        )

    async def _read_timeline(
        self, client: BlueskyClient, name: SourceName, cursor: dict[str, Any]
    ) -> tuple[list[Any], bool]:
        """Newest first until a post seen last time (the timeline), or one page of
        ``max_posts`` (a custom feed: not chronological, so nothing to resume)."""
        seen = set(cursor.get("seen") or ())
        items: list[Any] = []
        page_cursor: str | None = None
        more = False
        feed_uri = name.arg
        parsed = parse_at_uri(feed_uri) if name.view == "feed" else None
        if parsed is not None and not is_did(parsed[0]):
            # getFeed wants the generator's DID; a pasted bsky.app URL names a handle.
            did = cursor.get("feed_did")
            if not isinstance(did, str):
                did = await client.resolve_handle(parsed[0])
                if did is None:
                    raise BlueskyError(f"@{parsed[0]} does not resolve", permanent=True)
                cursor["feed_did"] = did
            feed_uri = f"at://{did}/{parsed[1]}/{parsed[2]}"
        while len(items) < self.max_posts:
            limit = min(TIMELINE_PAGE, self.max_posts - len(items))
            if name.view == "timeline":
                body = await client.get_timeline(cursor=page_cursor, limit=limit)
            else:
                body = await client.get_feed(feed_uri, cursor=page_cursor, limit=limit)
            page = body.get("feed")
            if not isinstance(page, list):
                raise BlueskyError(
                    "the AppView's answer has no feed list", permanent=True, error=bsky.INVALID
                )
            stop = False
            for item in page:
                key = _item_key(item)
                if name.view == "timeline" and key in seen:
                    stop = True
                    break
                items.append(item)
            page_cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            if stop or not page or page_cursor is None or name.view == "feed":
                break
        else:
            more = name.view == "timeline" and bool(seen)
        keys = [k for k in (_item_key(i) for i in items) if k]
        cursor["seen"] = (keys + [k for k in cursor.get("seen") or () if k not in keys])[:SEEN_KEYS]
        return items, more

    def _appview_failed(self, exc: BlueskyError, name: SourceName, account: Account) -> PollResult:
        if any(marker in exc.message or marker == exc.error for marker in _NO_APPVIEW):
            return failure(
                f"{account.service} has no AppView for {name}: use bluesky:following "
                "(read from the repositories) instead",
                "http",
                http_status=exc.status,
            )
        if exc.status == 401 or exc.error in ("AuthenticationRequired", "InvalidToken"):
            return failure(
                f"{account.service} refused the login of '{account.name}' (app password "
                "revoked?): " + relogin("bluesky", account.name, account.handle),
                "auth",
                http_status=exc.status,
            )
        if exc.status == 429:
            return failure(
                f"rate-limited by {account.service}",
                "throttled",
                status="throttled",
                http_status=429,
                retry_after=exc.retry_after,
            )
        if exc.error == bsky.INVALID:
            return failure(f"{account.service}: {exc.message}", "parse", http_status=exc.status)
        if exc.status is None:
            return failure(f"{account.service}: {exc.message}", describe_network(exc.message))
        if exc.status == 400 and exc.error in ("UnknownFeed", "NotFound", "UnknownList"):
            return failure(f"{name}: {exc.message}", "not_found", status="gone")
        return failure(f"{account.service}: {exc.message}", "http", http_status=exc.status)


def _item_key(item: Any) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
        return ""
    reason = item.get("reason")
    uri = str(item["post"].get("uri") or "")
    if isinstance(reason, dict) and "reasonRepost" in str(reason.get("$type") or ""):
        by = _dict(reason.get("by"))
        return str(reason.get("uri") or f"{uri}#repost:{by.get('did')}")
    return uri


def _reply_response(entry: ParsedEntry) -> list[Response]:
    return [
        Response(
            "reply",
            entry.reply_to,
            author=entry.author,
            handle=entry.handle,
            text=entry.post_text,
            url=entry.post_url,
            at=entry.published,
            key=entry.key,
        )
    ]


def _unique(responses: list[Response]) -> list[Response]:
    """One response per key (the repo crawl and the AppView may both find it)."""
    seen: dict[str, Response] = {}
    for response in responses:
        seen.setdefault(
            response.key or f"{response.kind}:{response.handle}:{response.target}", response
        )
    return list(seen.values())


def _unique_entries(entries: list[ParsedEntry]) -> list[ParsedEntry]:
    seen: dict[str, ParsedEntry] = {}
    for entry in entries:
        seen.setdefault(entry.key, entry)
    return list(seen.values())


def _prune(dids: dict[str, dict[str, Any]], keep: set[str]) -> dict[str, dict[str, Any]]:
    """Followed accounts stay; others (reposted or quoted authors) for a week after
    their last use, so the cursor does not grow without end."""
    week_ago = iso(now() - timedelta(days=7)) or ""
    out = {}
    for did, state in dids.items():
        if did in keep:
            out[did] = state
        elif str(state.get("used") or "") >= week_ago:
            out[did] = {
                k: state[k] for k in ("pds", "handle", "name", "checked", "used") if k in state
            }
    return out
