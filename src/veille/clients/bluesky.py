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
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from veille import USER_AGENT
from veille.clients.errors import RemoteError
from veille.net.httputil import clean_message, is_transient, retry_after_seconds
from veille.share.facets import detect_facets, mention_handles, resolve_mentions
from veille.share.length import (
    BLUESKY_MAX_BYTES,
    BLUESKY_MAX_GRAPHEMES,
    bluesky_bytes,
    bluesky_length,
)

__all__ = [
    "MAX_BLOB_BYTES",
    "POST_COLLECTION",
    "BlueskyClient",
    "BlueskyError",
    "is_tid",
    "rkey_for",
    "web_url",
]

POST_COLLECTION = "app.bsky.feed.post"
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
        created_at = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
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


class BlueskyClient:
    """One account on one PDS (`service`, e.g. "https://bsky.social")."""

    def __init__(
        self,
        service: str,
        handle: str,
        app_password: str,
        *,
        client: httpx.AsyncClient | None = None,
        session: dict | None = None,
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
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        url = f"{self.service}/xrpc/{nsid}"
        try:
            response = await self._client.request(
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
                raise BlueskyError(f"{nsid}: the reply is not JSON", permanent=False) from exc
            return body if isinstance(body, dict) else {}
        raise self._error(nsid, response)

    @staticmethod
    def _error(nsid: str, response: httpx.Response) -> BlueskyError:
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
        link_card: dict | None = None,
        langs: list[str] | None = None,
        created_at: str | None = None,
    ) -> tuple[str, str]:
        """Create the post at `rkey`; returns (at:// URI, bsky.app URL).

        `link_card`: {uri, title, description, thumb} where thumb is a blob from
        `upload_blob` or image bytes (with an optional `thumb_mime`).
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
        if link_card:
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

    def _session_did(self) -> str:
        assert self._session is not None
        return self._session["did"]

    def _session_handle(self) -> str:
        return (self._session or {}).get("handle") or self.handle
