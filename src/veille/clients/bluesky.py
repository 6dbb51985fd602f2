"""Post to Bluesky (any atproto PDS) over XRPC with httpx.

Thin and async on purpose: the outbox owns retries and scheduling, so this module
turns each HTTP outcome into a result or a `BlueskyError` that says whether trying
again can help (`permanent`) and when (`retry_after`).

Sessions: `createSession` with an app password gives an access JWT (~2 h) and a
refresh JWT (~90 d).  The caller persists `session` (never the password) and
passes it back next time; an expired access token is refreshed once, then the
client logs in again.  Tokens travel in headers only: never in a message or repr.

Idempotency: a post's record key is derived from the share (`rkey_for`), so a
retry after a lost response finds the record already there; that counts as
success once the stored record is read back and has the same text.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import httpx

from veille import USER_AGENT
from veille.clients.errors import RemoteError
from veille.clients.facets import detect_facets, mention_handles, resolve_mentions
from veille.clients.length import (
    BLUESKY_MAX_BYTES,
    BLUESKY_MAX_GRAPHEMES,
    bluesky_bytes,
    bluesky_length,
)
from veille.net.httputil import clean_message, is_transient, retry_after_seconds
from veille.util.dates import parse_iso
from veille.util.urls import is_safe_link

__all__ = [
    "DEFAULT_PLC",
    "FOLLOW_COLLECTION",
    "LIKE_COLLECTION",
    "MAX_BLOB_BYTES",
    "POST_COLLECTION",
    "REPOST_COLLECTION",
    "BlueskyClient",
    "BlueskyError",
    "DidDoc",
    "blob_url",
    "get_record",
    "is_tid",
    "latest_commit",
    "list_records",
    "plc_url",
    "post_uri_from_url",
    "resolve_did",
    "resolve_handle",
    "rkey_for",
    "split_at_uri",
    "web_url",
    "xrpc",
]

POST_COLLECTION = "app.bsky.feed.post"
REPOST_COLLECTION = "app.bsky.feed.repost"
LIKE_COLLECTION = "app.bsky.feed.like"
FOLLOW_COLLECTION = "app.bsky.graph.follow"
PROFILE_COLLECTION = "app.bsky.actor.profile"
DEFAULT_PLC = "https://plc.directory"
#: BlueskyError.error for an answer that is not what the protocol says (bad JSON...).
INVALID = "InvalidResponse"
MAX_BLOB_BYTES = 1_000_000  # app.bsky.embed.external#external.thumb maxSize
MAX_LANGS = 3
TIMEOUT = httpx.Timeout(30.0, connect=10.0)

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
# Errors that mean "this access token is no good any more": refresh, then log in.
_EXPIRED = {"ExpiredToken", "InvalidToken"}


class BlueskyError(RemoteError):
    """A failed XRPC call; ``error`` holds the XRPC error name, e.g. "ExpiredToken"."""


def is_tid(value: str) -> bool:
    """Timestamp-identifier syntax (interop-syntax/tid_syntax_*): 13 base32-sortable chars."""
    return _TID.fullmatch(value) is not None


def _tid(value: int) -> str:
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def rkey_for(share_id: str, created_at: datetime | str | None = None) -> str:
    """A post record key (a TID, as `app.bsky.feed.post` requires) derived from a share.

    The same share always gets the same key, so a retried post cannot become a
    second post.  With `created_at` (the share's creation time, stored with it)
    the TID's timestamp is that time and its 10-bit clock id comes from the share
    id, so keys sort like the posts; without it all 63 bits come from a hash.
    """
    digest = int.from_bytes(hashlib.sha256(share_id.encode("utf-8")).digest()[:8], "big")
    if created_at is None:
        return _tid(digest >> 1)  # top bit must be zero
    if isinstance(created_at, str):
        parsed = parse_iso(created_at)
        if parsed is None:
            raise ValueError(f"created_at is not an ISO 8601 time: {created_at!r}")
        created_at = parsed
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    micros = int(created_at.timestamp()) * 1_000_000 + created_at.microsecond
    if not 0 <= micros < 1 << 53:
        raise ValueError(f"created_at out of range for a TID: {created_at.isoformat()}")
    return _tid((micros << 10) | (digest & 0x3FF))


def web_url(handle: str, rkey: str) -> str:
    """Where people see a post in the Bluesky app."""
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def xrpc(
    http: httpx.AsyncClient,
    base: str,
    method: str,
    nsid: str,
    *,
    token: str | None = None,
    params: Mapping[str, Any] | None = None,
    json: dict[str, Any] | None = None,
    content: bytes | None = None,
    content_type: str | None = None,
) -> dict[str, Any]:
    """One XRPC call to the server at ``base``; its JSON object, or a BlueskyError."""
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if content_type:
        headers["Content-Type"] = content_type
    url = f"{base.rstrip('/')}/xrpc/{nsid}"
    try:
        response = await http.request(
            method, url, params=params, json=json, content=content, headers=headers
        )
    except httpx.TimeoutException as exc:
        raise BlueskyError(f"{nsid}: timed out", permanent=False) from exc
    except httpx.TransportError as exc:
        reason = clean_message(str(exc)) or type(exc).__name__
        raise BlueskyError(f"{nsid}: {reason}", permanent=False) from exc
    if response.is_success:
        try:
            body = response.json() if response.content else {}
        except ValueError as exc:
            raise BlueskyError(
                f"{nsid}: the reply is not JSON", permanent=False, error=INVALID
            ) from exc
        return body if isinstance(body, dict) else {}
    raise xrpc_error(nsid, response)


def xrpc_error(nsid: str, response: httpx.Response) -> BlueskyError:
    """The BlueskyError for a failed XRPC answer: ``{"error", "message"}`` when JSON."""
    status = response.status_code
    error = message = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error") if isinstance(body.get("error"), str) else None
        message = body.get("message") if isinstance(body.get("message"), str) else None
    text = clean_message(message or error or response.reason_phrase or "") or f"{nsid} failed"
    transient = is_transient(status)
    return BlueskyError(
        text,
        permanent=not transient,
        status=status,
        error=clean_message(error) if error else None,
        retry_after=retry_after_seconds(response.headers, status=status) if transient else None,
    )


class BlueskyClient:
    """One account on one PDS (`service`, e.g. "https://bsky.social")."""

    def __init__(
        self,
        service: str,
        handle: str,
        app_password: str,
        *,
        client: httpx.AsyncClient | None = None,
        session: dict[str, Any] | None = None,
    ) -> None:
        self.service = service.rstrip("/")
        self.handle = handle.lstrip("@")
        self.__password = app_password
        self._client = client or httpx.AsyncClient(
            timeout=TIMEOUT, headers={"User-Agent": USER_AGENT}
        )
        self._own_client = client is None
        self._session: dict[str, Any] | None = dict(session) if session else None

    def __repr__(self) -> str:
        return f"BlueskyClient({self.service!r}, {self.handle!r})"

    @property
    def session(self) -> dict[str, Any] | None:
        """accessJwt, refreshJwt, did, handle: what to persist between runs."""
        return dict(self._session) if self._session else None

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> BlueskyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- transport ---------------------------------------------------------

    async def _call(
        self,
        method: str,
        nsid: str,
        *,
        token: str | None = None,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        return await xrpc(
            self._client,
            self.service,
            method,
            nsid,
            token=token,
            params=params,
            json=json,
            content=content,
            content_type=content_type,
        )

    _error = staticmethod(xrpc_error)

    @staticmethod
    def _is_expired(exc: BlueskyError) -> bool:
        return exc.status == 401 or (exc.status == 400 and exc.error in _EXPIRED)

    async def _authed(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        """A call with the access token; on an expired one refresh (else log in) once."""
        if not self._session:
            await self.login()
        assert self._session is not None
        try:
            return await self._call(method, nsid, token=self._session["accessJwt"], **kwargs)
        except BlueskyError as exc:
            if not self._is_expired(exc):
                raise
        try:
            await self.refresh()
        except BlueskyError as exc:
            if not exc.permanent:
                raise
            await self.login()
        return await self._call(method, nsid, token=self._session["accessJwt"], **kwargs)

    def _keep(self, body: dict[str, Any]) -> dict[str, Any]:
        if not all(isinstance(body.get(k), str) for k in ("accessJwt", "refreshJwt", "did")):
            raise BlueskyError("the server's session reply lacks tokens", permanent=True)
        self._session = {
            "accessJwt": body["accessJwt"],
            "refreshJwt": body["refreshJwt"],
            "did": body["did"],
            "handle": body.get("handle") or self.handle,
        }
        return dict(self._session)

    # --- sessions ----------------------------------------------------------

    async def login(self) -> dict[str, Any]:
        """`createSession` with the app password; returns the session to persist."""
        body = await self._call(
            "POST",
            "com.atproto.server.createSession",
            json={"identifier": self.handle, "password": self.__password},
        )
        return self._keep(body)

    async def refresh(self) -> dict[str, Any]:
        """`refreshSession` with the refresh JWT; logs in when there is no session yet."""
        if not self._session:
            return await self.login()
        body = await self._call(
            "POST", "com.atproto.server.refreshSession", token=self._session["refreshJwt"]
        )
        return self._keep(body)

    # --- blobs and records -------------------------------------------------

    async def upload_blob(self, data: bytes, mime: str) -> dict[str, Any]:
        """Upload an image; returns the blob reference to put in a record."""
        if len(data) > MAX_BLOB_BYTES:
            raise BlueskyError(
                f"image too large: {len(data):,} bytes (Bluesky takes {MAX_BLOB_BYTES:,})",
                permanent=True,
            )
        body = await self._authed(
            "POST", "com.atproto.repo.uploadBlob", content=data, content_type=mime
        )
        blob = body.get("blob")
        if not isinstance(blob, dict):
            raise BlueskyError("the server's upload reply lacks a blob", permanent=False)
        return blob

    async def resolve_handle(self, handle: str) -> str | None:
        """The DID of `handle`, or None when the server cannot resolve it."""
        try:
            body = await self._call(
                "GET", "com.atproto.identity.resolveHandle", params={"handle": handle}
            )
        except BlueskyError as exc:
            if exc.permanent:
                return None
            raise
        did = body.get("did")
        return did if isinstance(did, str) and did.startswith("did:") else None

    async def get_post(self, rkey: str) -> dict[str, Any] | None:
        """`getRecord` of one of our posts: {uri, cid, value}, or None when absent."""
        repo = self._session["did"] if self._session else self.handle
        try:
            return await self._call(
                "GET",
                "com.atproto.repo.getRecord",
                params={"repo": repo, "collection": POST_COLLECTION, "rkey": rkey},
            )
        except BlueskyError as exc:
            if exc.status in (400, 404) and exc.error in (None, "RecordNotFound", "NotFound"):
                return None
            raise

    def check(self, text: str, *, rkey: str, langs: list[str] | None = None) -> None:
        """Refuse what the server would refuse, before any network call."""
        count = bluesky_length(text)
        if count > BLUESKY_MAX_GRAPHEMES:
            raise BlueskyError(
                f"post too long: {count} characters (Bluesky takes {BLUESKY_MAX_GRAPHEMES})",
                permanent=True,
            )
        size = bluesky_bytes(text)
        if size > BLUESKY_MAX_BYTES:
            raise BlueskyError(
                f"post too long: {size} bytes (Bluesky takes {BLUESKY_MAX_BYTES})",
                permanent=True,
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BlueskyError("post text is not valid Unicode", permanent=True) from exc
        if langs and len(langs) > MAX_LANGS:
            raise BlueskyError(f"at most {MAX_LANGS} languages per post", permanent=True)
        if not is_tid(rkey):
            raise BlueskyError(f"invalid record key {rkey!r}: posts need a TID", permanent=True)

    async def _embed(self, card: Mapping[str, Any]) -> dict[str, Any]:
        uri = card.get("uri")
        if not isinstance(uri, str) or not uri:
            raise BlueskyError("link card without a uri", permanent=True)
        external: dict[str, Any] = {
            "uri": uri,
            "title": str(card.get("title") or ""),
            "description": str(card.get("description") or ""),
        }
        thumb = card.get("thumb")
        if isinstance(thumb, bytes | bytearray):
            mime = card.get("thumb_mime") or _sniff_image(bytes(thumb))
            if not mime or not str(mime).startswith("image/"):
                raise BlueskyError("link card thumbnail is not an image", permanent=True)
            thumb = await self.upload_blob(bytes(thumb), str(mime))
        if isinstance(thumb, dict):
            external["thumb"] = thumb
        return {"$type": "app.bsky.embed.external", "external": external}

    async def _facets(self, text: str) -> list[dict[str, Any]]:
        facets = detect_facets(text)
        dids = {}
        for handle in mention_handles(facets):
            did = await self.resolve_handle(handle)
            if did:
                dids[handle] = did
        return resolve_mentions(facets, dids)

    async def post(
        self,
        text: str,
        *,
        rkey: str,
        link_card: dict[str, Any] | None = None,
        langs: list[str] | None = None,
        created_at: str | None = None,
        reply: dict[str, Any] | None = None,
        quote: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """Create the post at `rkey`; returns (at:// URI, bsky.app URL).

        `link_card`: {uri, title, description, thumb} where thumb is a blob from
        `upload_blob` or image bytes (with an optional `thumb_mime`).
        `reply`: {root, parent}, each a strong ref {uri, cid} (``reply_refs``);
        `quote`: the strong ref of the post quoted (an ``app.bsky.embed.record``,
        which takes the place of the link card: the quoted post carries it).
        """
        self.check(text, rkey=rkey, langs=langs)
        if not self._session:
            await self.login()
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": created_at or _now_iso(),
        }
        facets = await self._facets(text)
        if facets:
            record["facets"] = facets
        if langs:
            record["langs"] = list(langs)
        if reply:
            record["reply"] = {k: _strong_ref(reply.get(k)) for k in ("root", "parent")}
        if quote:
            record["embed"] = {"$type": "app.bsky.embed.record", "record": _strong_ref(quote)}
        elif link_card:
            record["embed"] = await self._embed(link_card)
        try:
            body = await self._authed(
                "POST",
                "com.atproto.repo.createRecord",
                json={
                    "repo": self._session_did(),
                    "collection": POST_COLLECTION,
                    "rkey": rkey,
                    "record": record,
                },
            )
            uri = body.get("uri")
            if not isinstance(uri, str):
                raise BlueskyError("the server's reply lacks the post's URI", permanent=False)
        except BlueskyError as exc:
            if exc.status is None or exc.status in (401, 403, 429):
                raise
            # Already there (a retry after a lost reply)?  0.4 PDSes answer a
            # taken key with a 500, newer ones with RecordAlreadyExists.
            existing = await self.get_post(rkey)
            if existing is None:
                raise
            value = existing.get("value") or {}
            if value.get("text") != text:
                raise BlueskyError(
                    f"record key {rkey} already holds a different post", permanent=True
                ) from exc
            uri = existing.get("uri")
            if not isinstance(uri, str):
                raise
        return uri, web_url(self._session_handle(), rkey)

    async def get_any_post(self, uri: str) -> dict[str, Any]:
        """{uri, cid, value} of anyone's post, read from the server that holds it
        (its DID document says which); BlueskyError when it is gone.

        What a reply or a quote needs: the post's current cid, and for a reply
        the thread's root (``reply_refs``)."""
        parts = split_at_uri(uri)
        if parts is None or parts[1] != POST_COLLECTION:
            raise BlueskyError(f"not a Bluesky post: {uri}", permanent=True)
        authority, collection, rkey = parts
        did = authority
        if not did.startswith("did:"):
            found = await self.resolve_handle(authority)
            if found is None:
                raise BlueskyError(f"cannot find @{authority} on Bluesky", permanent=True)
            did = found
        doc = await resolve_did(self._client, did)
        record = await get_record(self._client, doc.pds, did, collection, rkey)
        if record is None or not isinstance(record.get("cid"), str):
            raise BlueskyError(f"the post is gone: {uri}", permanent=True)
        record["uri"] = f"at://{did}/{collection}/{rkey}"
        return record

    async def reply_refs(self, uri: str) -> dict[str, Any]:
        """{root, parent} strong refs for a reply to the post at ``uri``: the
        parent is that post, the root its thread's first post (itself if none)."""
        parent = await self.get_any_post(uri)
        ref = _strong_ref(parent)
        value = parent.get("value") if isinstance(parent.get("value"), dict) else {}
        thread = value.get("reply") if isinstance(value, dict) else None
        root = thread.get("root") if isinstance(thread, dict) else None
        if isinstance(root, dict) and isinstance(root.get("uri"), str) and root.get("cid"):
            return {"root": _strong_ref(root), "parent": ref}
        return {"root": ref, "parent": ref}

    # --- reading through the AppView (proxied by the PDS) --------------------

    async def did(self) -> str:
        """The account's DID (logs in once if there is no session yet)."""
        if not self._session:
            await self.login()
        return self._session_did()

    async def get_timeline(self, *, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
        """``app.bsky.feed.getTimeline``: {feed: [FeedViewPost], cursor}."""
        params: dict[str, str] = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        return await self._authed("GET", "app.bsky.feed.getTimeline", params=params)

    async def get_feed(
        self, feed: str, *, cursor: str | None = None, limit: int = 50, nsid: str = ""
    ) -> dict[str, Any]:
        """``app.bsky.feed.getFeed`` (or ``getListFeed`` for a list's AT-URI)."""
        is_list = "/app.bsky.graph.list/" in feed
        params: dict[str, str] = {"list" if is_list else "feed": feed, "limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        method = nsid or ("app.bsky.feed.getListFeed" if is_list else "app.bsky.feed.getFeed")
        return await self._authed("GET", method, params=params)

    async def list_notifications(
        self, *, cursor: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """``app.bsky.notification.listNotifications``: {notifications, cursor}."""
        params: dict[str, str] = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        return await self._authed("GET", "app.bsky.notification.listNotifications", params=params)

    def _session_did(self) -> str:
        assert self._session is not None
        return str(self._session["did"])

    def _session_handle(self) -> str:
        return (self._session or {}).get("handle") or self.handle


def _strong_ref(value: Any) -> dict[str, str]:
    """``com.atproto.repo.strongRef``: {uri, cid} and nothing else."""
    if not isinstance(value, dict) or not value.get("uri") or not value.get("cid"):
        raise BlueskyError("a post reference lacks its uri or cid", permanent=True)
    return {"uri": str(value["uri"]), "cid": str(value["cid"])}


def split_at_uri(uri: str) -> tuple[str, str, str] | None:
    """``at://AUTHORITY/COLLECTION/RKEY`` → its three parts (loosely checked:
    ``sources.names.parse_at_uri`` is the strict reader), else None."""
    if not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def post_uri_from_url(url: str) -> str | None:
    """The at:// URI of a post from its bsky.app address (a repost names the post
    by its web address only), with the handle or DID as given there."""
    prefix = "https://bsky.app/profile/"
    if not url.startswith(prefix):
        return None
    parts = url[len(prefix) :].split("?")[0].split("#")[0].strip("/").split("/")
    if len(parts) != 3 or parts[1] != "post" or not parts[0] or not parts[2]:
        return None
    return f"at://{parts[0]}/{POST_COLLECTION}/{parts[2]}"


# --- reading repositories, with no AppView -------------------------------------------
#
# Everything in a repository is public: records are read straight from the PDS
# that hosts it, without logging in.  Which PDS that is comes from the DID
# document (PLC directory for did:plc, the domain itself for did:web).


def plc_url() -> str:
    """The PLC directory: ``VEILLE_PLC_URL`` (tests run their own), else plc.directory."""
    return (os.environ.get("VEILLE_PLC_URL") or DEFAULT_PLC).rstrip("/")


@dataclass(frozen=True, slots=True)
class DidDoc:
    """What veille needs from a DID document: where the repo lives, the handle."""

    did: str
    pds: str  # the AtprotoPersonalDataServer endpoint
    handle: str = ""  # from alsoKnownAs at://HANDLE (as claimed; not verified)


def _did_web_url(did: str) -> str:
    """did:web:example.com[%3A8080] → https://example.com[:8080]/.well-known/did.json.

    As in the reference resolver, ``localhost`` (and 127.0.0.1, here) is plain http:
    a development server.
    """
    host = unquote(did.removeprefix("did:web:"))
    if ":" in host.split("]")[-1] and not host.startswith("["):
        name = host.rsplit(":", 1)[0]
    else:
        name = host
    if "/" in host or not name:
        raise BlueskyError(f"{did}: only host-level did:web is supported", permanent=True)
    scheme = "http" if name in ("localhost", "127.0.0.1") else "https"
    return f"{scheme}://{host}/.well-known/did.json"


def parse_did_doc(did: str, doc: Any) -> DidDoc:
    """The PDS endpoint and handle of a DID document; BlueskyError when absent."""
    if not isinstance(doc, dict) or doc.get("id") != did:
        raise BlueskyError(
            f"{did}: the DID document is not for this DID", permanent=True, error=INVALID
        )
    pds = ""
    for service in doc.get("service") or ():
        if not isinstance(service, dict):
            continue
        sid = str(service.get("id") or "")
        if sid.endswith("#atproto_pds") or service.get("type") == "AtprotoPersonalDataServer":
            endpoint = service.get("serviceEndpoint")
            if isinstance(endpoint, str) and is_safe_link(endpoint):
                pds = endpoint.rstrip("/")
                break
    if not pds:
        raise BlueskyError(
            f"{did}: the DID document names no Bluesky server", permanent=True, error=INVALID
        )
    handle = ""
    for aka in doc.get("alsoKnownAs") or ():
        if isinstance(aka, str) and aka.startswith("at://"):
            handle = aka[5:].strip("/").lower()
            break
    return DidDoc(did, pds, handle)


async def resolve_did(http: httpx.AsyncClient, did: str, plc: str | None = None) -> DidDoc:
    """Where ``did``'s repository lives.  Raises BlueskyError (permanent when the
    DID does not resolve, transient when the directory could not be reached)."""
    if did.startswith("did:plc:"):
        url = f"{(plc or plc_url()).rstrip('/')}/{quote(did, safe=':')}"
    elif did.startswith("did:web:"):
        url = _did_web_url(did)
    else:
        raise BlueskyError(f"{did}: unsupported DID method", permanent=True)
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.TimeoutException as exc:
        raise BlueskyError(f"{did}: resolving it timed out", permanent=False) from exc
    except httpx.TransportError as exc:
        reason = clean_message(str(exc)) or type(exc).__name__
        raise BlueskyError(f"{did}: could not resolve it ({reason})", permanent=False) from exc
    if response.status_code in (404, 410):
        raise BlueskyError(
            f"{did} does not resolve (deleted or never existed)",
            permanent=True,
            status=response.status_code,
        )
    if not response.is_success:
        raise xrpc_error("DID resolution", response)
    try:
        doc = response.json()
    except ValueError as exc:
        raise BlueskyError(
            f"{did}: the DID document is not JSON", permanent=True, error=INVALID
        ) from exc
    return parse_did_doc(did, doc)


async def resolve_handle(http: httpx.AsyncClient, service: str, handle: str) -> str | None:
    """The DID of ``handle`` as ``service`` resolves it, else from the handle's own
    ``/.well-known/atproto-did``; None when neither knows it."""
    try:
        body = await xrpc(
            http, service, "GET", "com.atproto.identity.resolveHandle", params={"handle": handle}
        )
        did = body.get("did")
        if isinstance(did, str) and did.startswith("did:"):
            return did
    except BlueskyError as exc:
        if not exc.permanent:
            raise
    try:
        response = await http.get(f"https://{handle}/.well-known/atproto-did")
    except httpx.HTTPError:
        return None
    text = response.text.strip() if response.is_success else ""
    return text if text.startswith("did:") and len(text) < 2048 and "\n" not in text else None


async def list_records(
    http: httpx.AsyncClient,
    pds: str,
    repo: str,
    collection: str,
    *,
    limit: int = 100,
    cursor: str | None = None,
    reverse: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """``com.atproto.repo.listRecords``: (records, cursor).

    Newest first by record key; with ``reverse`` oldest first, and then ``cursor``
    gives the records *after* it (the reference PDS pages by ``rkey > cursor``):
    exactly "what is new since", with no gap.
    """
    params: dict[str, str] = {"repo": repo, "collection": collection, "limit": str(limit)}
    if cursor:
        params["cursor"] = cursor
    if reverse:
        params["reverse"] = "true"
    body = await xrpc(http, pds, "GET", "com.atproto.repo.listRecords", params=params)
    records = body.get("records")
    if not isinstance(records, list):
        raise BlueskyError(
            "listRecords: the answer has no records list", permanent=True, error=INVALID
        )
    next_cursor = body.get("cursor")
    good = [r for r in records if isinstance(r, dict) and isinstance(r.get("uri"), str)]
    return good, next_cursor if isinstance(next_cursor, str) else None


async def get_record(
    http: httpx.AsyncClient, pds: str, repo: str, collection: str, rkey: str
) -> dict[str, Any] | None:
    """``com.atproto.repo.getRecord``: {uri, cid, value}, or None when it is gone."""
    try:
        body = await xrpc(
            http,
            pds,
            "GET",
            "com.atproto.repo.getRecord",
            params={"repo": repo, "collection": collection, "rkey": rkey},
        )
    except BlueskyError as exc:
        if exc.status in (400, 404) and exc.error in (None, "RecordNotFound", "NotFound"):
            return None
        raise
    return body if isinstance(body.get("value"), dict) else None


async def latest_commit(http: httpx.AsyncClient, pds: str, did: str) -> str | None:
    """The repository's current revision (``com.atproto.sync.getLatestCommit``): when
    it has not changed since the last poll, nothing in it has."""
    body = await xrpc(http, pds, "GET", "com.atproto.sync.getLatestCommit", params={"did": did})
    rev = body.get("rev")
    return rev if isinstance(rev, str) else None


def blob_url(pds: str, did: str, cid: str) -> str:
    """A blob (image, thumbnail) as the PDS that holds it serves it."""
    return f"{pds.rstrip('/')}/xrpc/com.atproto.sync.getBlob?did={quote(did)}&cid={quote(cid)}"
