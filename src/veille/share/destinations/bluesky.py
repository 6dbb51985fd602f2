"""Bluesky (any atproto PDS): a post with a link card, sent through the saved session.

Retry-safe: the record key is derived from the share (``rkey_for``), so a post
sent again after a lost answer finds its record already there.

A reply to a Bluesky post carries ``reply: {root, parent}`` and a quote an
``app.bsky.embed.record``, each with the post's uri and cid read from the
server that holds it (its DID document says which).  The session
(JWTs) is kept in the secret store for next time, never in the store.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx

from veille import USER_AGENT
from veille.clients import length
from veille.clients.bluesky import (
    MAX_BLOB_BYTES,
    BlueskyClient,
    BlueskyError,
    post_uri_from_url,
    rkey_for,
)
from veille.clients.errors import RemoteError
from veille.clients.length import BlueskyLimits, LengthCheck
from veille.domain.records import Item
from veille.domain.share import Delivery, Share
from veille.render.hygiene import clean_line
from veille.share.destinations.base import (
    AnswerPlan,
    BaseDestination,
    SendContext,
    SendResult,
)
from veille.util.urls import is_safe_link

THUMB_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DESCRIPTION_MAX = 300


async def fetch_thumb(url: str) -> tuple[bytes, str] | None:
    """The item's image for a link card, or None on any trouble (it is only decoration)."""
    if not is_safe_link(url):
        return None
    try:
        async with (
            httpx.AsyncClient(
                timeout=THUMB_TIMEOUT, follow_redirects=True, headers={"User-Agent": USER_AGENT}
            ) as http,
            http.stream("GET", url) as response,
        ):
            mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code != 200 or not mime.startswith("image/"):
                return None
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_BLOB_BYTES:
                    return None
    except (httpx.HTTPError, ValueError):
        return None
    return (bytes(data), mime) if data else None


async def link_card(share: Share, item: Item | None) -> dict[str, Any] | None:
    """The external embed for the share's link: title, summary, and a thumbnail if any."""
    if not is_safe_link(share.link):
        return None
    summary = item.summary if item else ""
    card: dict[str, Any] = {
        "uri": share.link,
        "title": clean_line(share.title, strip_bom=True),
        "description": clean_line(summary, limit=DESCRIPTION_MAX, strip_bom=True),
    }
    image = item.image if item else ""
    if image:
        thumb = await fetch_thumb(image)
        if thumb is not None:
            card["thumb"], card["thumb_mime"] = thumb
    return card


class BlueskyDestination(BaseDestination):
    kind: ClassVar[str] = "bluesky"
    retry_safe: ClassVar[bool] = True

    def limits(self) -> BlueskyLimits:
        return BlueskyLimits()

    def check(self, text: str, *, content_warning: str = "") -> LengthCheck:
        del content_warning  # Bluesky has labels, not content warnings
        return length.check(text, "bluesky", self.limits())

    def answer(self, share: Share) -> AnswerPlan:
        """Replies to and quotes of Bluesky posts are real ones here."""
        post = share.post
        if not share.answer or post is None or post.network != "bluesky":
            return super().answer(share)
        handle = clean_line(post.handle) or "the author"
        what = "a reply to" if share.answer == "reply" else "quotes"
        return AnswerPlan(note=f"{what} {handle}'s post")

    async def _answer_refs(
        self, client: BlueskyClient, share: Share
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(reply refs, quoted strong ref) for ``share``, read from the network."""
        post = share.post
        if not share.answer or post is None or post.network != "bluesky":
            return None, None
        uri = post.uri if post.uri.startswith("at://") else post_uri_from_url(post.url)
        if not uri:
            raise BlueskyError(f"not a Bluesky post: {clean_line(post.url)}", permanent=True)
        if share.answer == "reply":
            return await client.reply_refs(uri), None
        found = await client.get_any_post(uri)
        return None, {"uri": found["uri"], "cid": found["cid"]}

    def _session(self, ctx: SendContext) -> dict[str, Any] | None:
        raw = ctx.secrets.get(self.account.secret("session"))
        try:
            session = json.loads(raw) if raw else None
        except ValueError:
            return None
        return session if isinstance(session, dict) else None

    async def send(self, delivery: Delivery, share: Share, ctx: SendContext) -> SendResult:
        account = self.account
        plan = self.answer(share)
        if not plan.ok:
            raise RemoteError(plan.note, permanent=True)
        password = self.secret(ctx, "app_password")
        before = self._session(ctx)
        item = ctx.store.get_item(share.item_id) if ctx.store is not None else None
        client = BlueskyClient(account.service, account.handle, password, session=before)
        try:
            reply, quote = await self._answer_refs(client, share)
            card = None if (reply or quote) else await link_card(share, item)
            if card and "thumb" in card:
                try:  # only decoration: a thumbnail the server refuses must not sink the post
                    card["thumb"] = await client.upload_blob(card["thumb"], card.pop("thumb_mime"))
                except RemoteError:
                    card.pop("thumb", None)
            lang = share.language or account.language
            uri, web = await client.post(
                delivery.text,
                rkey=rkey_for(share.id, share.created),
                link_card=card,
                langs=[lang] if lang else None,
                created_at=share.created,
                reply=reply,
                quote=quote,
            )
        finally:
            after = client.session
            if after and after != before:
                ctx.secrets.set(account.secret("session"), json.dumps(after))
            await client.aclose()
        return SendResult(clean_line(web) or None, uri)
