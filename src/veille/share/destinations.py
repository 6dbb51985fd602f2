"""Send one delivery of a share to one destination; every failure becomes a DeliveryError.

The outbox owns status, retries and back-off; each sender here only posts and
says how it went.  Senders are safe to call again after a crash where the
network allows it: Mastodon gets the delivery's Idempotency-Key, Bluesky a
record key derived from the share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from veille import USER_AGENT
from veille.accounts.config import ATOM, Account
from veille.accounts.secrets import SecretStore
from veille.clients.bluesky import MAX_BLOB_BYTES, BlueskyClient, rkey_for
from veille.clients.errors import RemoteError
from veille.clients.mastodon import MastodonClient
from veille.clients.micropub import post_bookmark
from veille.config import Config
from veille.domain.records import Item
from veille.domain.share import Delivery, Share
from veille.net.httputil import clean_message
from veille.share import length
from veille.share.atomfeed import write_atom
from veille.share.compose import clean_text

COMMAND_TIMEOUT = 60.0
THUMB_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DESCRIPTION_MAX = 300


@dataclass(frozen=True)
class SendResult:
    url: str | None
    remote_id: str | None = None


class DeliveryError(Exception):
    """A failed send: ``permanent`` means trying again cannot help."""

    def __init__(self, message: str, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


def _from_remote(exc: RemoteError) -> DeliveryError:
    return DeliveryError(str(exc), exc.permanent, exc.retry_after)


def _secret(secrets: SecretStore, account: Account, key: str) -> str:
    value = secrets.get(account.secret(key))
    if not value:
        raise DeliveryError(
            f"no {key.replace('_', ' ')} saved for '{account.name}': "
            f"run `veille account remove {account.name}` then `veille account add` again",
            permanent=True,
        )
    return value


# ----------------------------------------------------------------- mastodon
async def _mastodon(
    delivery: Delivery, share: Share, account: Account, secrets: SecretStore
) -> SendResult:
    token = _secret(secrets, account, "token")
    async with MastodonClient(account.instance, token) as client:
        chars, per_url = await client.limits()
        verdict = length.check(
            delivery.text,
            "mastodon",
            length.MastodonLimits(chars, per_url),
            spoiler_text=share.content_warning,
        )
        if not verdict.ok:
            raise DeliveryError(verdict.reason, permanent=True)
        status = await client.post_status(
            delivery.text,
            idempotency_key=delivery.idempotency_key,
            visibility=account.visibility or share.visibility or "public",
            language=share.language or account.language or None,
            spoiler_text=share.content_warning,
            sensitive=bool(share.content_warning),
        )
    url = status.get("url") or status.get("uri")
    return SendResult(str(url) if url else None, str(status.get("id")))


# ------------------------------------------------------------------ bluesky
async def fetch_thumb(url: str) -> tuple[bytes, str] | None:
    """The item's image for a link card, or None on any trouble (it is only decoration)."""
    if not url.startswith(("http://", "https://")):
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


async def _link_card(share: Share, item: Item | None) -> dict[str, Any] | None:
    if not share.link.startswith(("http://", "https://")):
        return None
    summary = clean_text(item.summary if item else "", multiline=False)
    if len(summary) > DESCRIPTION_MAX:
        summary = summary[: DESCRIPTION_MAX - 1].rstrip() + "…"
    card: dict[str, Any] = {
        "uri": share.link,
        "title": clean_text(share.title, multiline=False),
        "description": summary,
    }
    image = item.image if item else ""
    if image:
        thumb = await fetch_thumb(image)
        if thumb is not None:
            card["thumb"], card["thumb_mime"] = thumb
    return card


def _load_session(secrets: SecretStore, account: Account) -> dict[str, Any] | None:
    raw = secrets.get(account.secret("session"))
    try:
        session = json.loads(raw) if raw else None
    except ValueError:
        return None
    return session if isinstance(session, dict) else None


async def _bluesky(
    delivery: Delivery,
    share: Share,
    account: Account,
    secrets: SecretStore,
    item: Item | None,
) -> SendResult:
    password = _secret(secrets, account, "app_password")
    before = _load_session(secrets, account)
    client = BlueskyClient(account.service, account.handle, password, session=before)
    try:
        card = await _link_card(share, item)
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
        )
    finally:
        after = client.session
        if after and after != before:
            secrets.set(account.secret("session"), json.dumps(after))
        await client.aclose()
    return SendResult(web, uri)


# ----------------------------------------------------------------- micropub
async def _micropub(
    delivery: Delivery, share: Share, account: Account, secrets: SecretStore
) -> SendResult:
    token = _secret(secrets, account, "token")
    location = await post_bookmark(
        account.endpoint,
        token,
        url=share.link,
        comment=clean_text(share.comment).strip(),
        title=clean_text(share.title, multiline=False),
        categories=[t.lstrip("#") for t in share.hashtags],
    )
    return SendResult(location or None)


# ------------------------------------------------------------------ command
def share_json(share: Share, delivery: Delivery) -> bytes:
    """What a command destination reads on stdin."""
    data = share.to_dict()
    data.pop("deliveries", None)
    data["destination"] = delivery.destination
    data["text"] = delivery.text
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


async def _command(delivery: Delivery, share: Share, account: Account) -> SendResult:
    argv = shlex.split(account.command)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise DeliveryError(f"cannot run {argv[0]!r}: {exc.strerror or exc}", True) from None
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(share_json(share, delivery)), COMMAND_TIMEOUT
        )
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise DeliveryError(
            f"the command took more than {COMMAND_TIMEOUT:.0f} s and was stopped", True
        ) from None
    if proc.returncode != 0:
        lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        reason = clean_message(lines[-1]) if lines else "no message"
        raise DeliveryError(f"the command exited with status {proc.returncode}: {reason}", True)
    for line in out.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith(("http://", "https://")):
            return SendResult(clean_message(line))
    return SendResult(None)


# --------------------------------------------------------------------- atom
def atom_shares(shares: list[Share]) -> list[Share]:
    """Shares that go to the Atom feed and have not failed there."""
    out = []
    for share in shares:
        d = share.deliveries.get(ATOM)
        if d is not None and d.status != "failed":
            out.append(share)
    return out


def regenerate_atom(store: Any, config: Config, account: Account) -> Path:
    path = Path(account.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atom(
        path,
        atom_shares(store.shares()),
        title=config["share.atom_title"],
        author=config["share.author"],
        feed_id=path.resolve().as_uri(),
    )
    return path


def _atom(store: Any, config: Config, account: Account) -> SendResult:
    try:
        path = regenerate_atom(store, config, account)
    except OSError as exc:
        raise DeliveryError(f"cannot write {account.path}: {exc.strerror or exc}", False) from None
    return SendResult(path.resolve().as_uri())


# ------------------------------------------------------------------ dispatch
async def send(
    delivery: Delivery,
    share: Share,
    account: Account,
    secrets: SecretStore,
    *,
    store: Any = None,
    config: Config | None = None,
) -> SendResult:
    """Post ``delivery`` of ``share`` through ``account``.

    ``store`` gives the item (Bluesky's link card) and all shares (the Atom feed);
    ``config`` the Atom feed's title and author.
    """
    try:
        if account.type == "mastodon":
            return await _mastodon(delivery, share, account, secrets)
        if account.type == "bluesky":
            item = store.get_item(share.item_id) if store is not None else None
            return await _bluesky(delivery, share, account, secrets, item)
        if account.type == "micropub":
            return await _micropub(delivery, share, account, secrets)
        if account.type == "command":
            return await _command(delivery, share, account)
        if account.type == ATOM:
            if store is None or config is None:
                raise DeliveryError("the Atom feed needs the store and config", True)
            return _atom(store, config, account)
    except RemoteError as exc:
        raise _from_remote(exc) from None
    raise DeliveryError(f"unknown destination type {account.type!r}", True)
