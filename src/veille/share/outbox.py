"""The outbox: a share is on disk before any network call, then each delivery is sent,
retried with back-off, or stopped with the server's reason.

Crash safety: a delivery is marked ``sending`` (durably) before its request.  One
found ``sending`` at start was interrupted mid-request.  Mastodon (Idempotency-Key)
and Bluesky (a record key derived from the share) make a retry safe, and the Atom
feed is only a file; for Micropub and commands, which have no such guard, the
delivery is failed with a note to check by hand rather than risk a double post.
"""

from __future__ import annotations

import secrets as _secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from veille.accounts.config import ATOM, Account, default_destinations, load_accounts
from veille.accounts.secrets import SecretStore
from veille.config import Config
from veille.domain.share import Delivery, Share
from veille.share import length
from veille.share.compose import make_via, render_text, suggest_hashtags
from veille.share.destinations import DeliveryError, send
from veille.store.lock import ProcessLock
from veille.util.dates import parse_iso

MAX_ATTEMPTS = 8
BACKOFF_BASE = 30.0  # seconds, doubled per attempt
BACKOFF_CAP = 3600.0
RETRY_SAFE = {"mastodon", "bluesky", ATOM}
INTERRUPTED = "interrupted while sending: check the destination, then `veille share --retry`"


class OutboxError(Exception):
    """Bad input (unknown item or destination); the message is one line."""


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def data_dir(store: Any) -> Path:
    """``<data>``: the store lives in ``<data>/store``."""
    return Path(store.root).parent


def _accounts(store: Any, config: Config, accounts: dict[str, Account] | None) -> dict:
    return accounts if accounts is not None else load_accounts(config, data_dir(store))


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: 30 s × 2^(n-1), capped at 1 h, never before Retry-After."""
    delay = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)
    return max(delay, retry_after or 0.0)


def limits_for(account: Account) -> length.MastodonLimits | length.BlueskyLimits | None:
    """The limits known without a network call (Mastodon's cached at `account add`)."""
    if account.type == "mastodon":
        return length.MastodonLimits(
            account.max_characters or 500,
            account.url_length if account.url_length is not None else 23,
        )
    if account.type == "bluesky":
        return length.BlueskyLimits()
    return None


def length_check(share: Share, delivery: Delivery, account: Account) -> length.LengthCheck:
    kind = account.type if account.type in ("mastodon", "bluesky") else "other"
    spoiler = share.content_warning if kind == "mastodon" else ""
    return length.check(delivery.text, kind, limits_for(account), spoiler_text=spoiler)


def render(share: Share, config: Config, accounts: dict[str, Account]) -> None:
    """(Re-)render the text of every unsent delivery; fail at once the ones too long."""
    for d in share.deliveries.values():
        if d.status == "sent":
            continue
        d.text = render_text(share, config["share.template"], kind=d.kind)
        account = accounts.get(d.destination)
        if account is None:
            continue
        verdict = length_check(share, d, account)
        if not verdict.ok:
            d.status, d.error, d.next_try = "failed", verdict.reason, None


def build_share(
    store: Any,
    config: Config,
    item_id: str,
    comment: str,
    *,
    to: list[str] | None,
    hashtags: list[str] | None = None,
    content_warning: str = "",
    language: str | None = None,
    accounts: dict[str, Account] | None = None,
    now: datetime | None = None,
) -> Share:
    """The share with its rendered, length-checked deliveries; nothing saved, nothing sent."""
    accounts = _accounts(store, config, accounts)
    try:
        iid = store.resolve_id(item_id)
    except Exception as exc:  # StoreError: unknown or ambiguous
        raise OutboxError(str(exc)) from None
    item = store.get_item(iid)
    if item is None:
        raise OutboxError(f"unknown item id '{item_id}'")
    feed = store.get_feed(item.feed)
    names = list(dict.fromkeys(to or default_destinations(config, accounts)))
    unknown = [n for n in names if n not in accounts]
    if unknown:
        known = ", ".join(accounts)
        raise OutboxError(f"unknown destination '{unknown[0]}' (known: {known})")
    source = feed.name if feed else ""
    share = Share(
        id=_secrets.token_hex(6),
        item_id=iid,
        comment=comment,
        created=_iso(now or datetime.now(UTC)),
        title=item.title,
        link=item.link,
        source=source,
        source_url=feed.url if feed else "",
        author=item.author,
        published=item.published,
        via=make_via(source, author=item.author),
        hashtags=list(hashtags)
        if hashtags is not None
        else suggest_hashtags(list(item.categories)),
        language=language or None,
        content_warning=content_warning,
    )
    for name in names:
        share.add_delivery(name, accounts[name].type)
    render(share, config, accounts)
    return share


def create_share(
    store: Any,
    config: Config,
    item_id: str,
    comment: str,
    *,
    to: list[str] | None,
    hashtags: list[str] | None = None,
    content_warning: str = "",
    language: str | None = None,
    accounts: dict[str, Account] | None = None,
) -> Share:
    """Build the share and write it to disk (durably) before anything is sent."""
    share = build_share(
        store,
        config,
        item_id,
        comment,
        to=to,
        hashtags=hashtags,
        content_warning=content_warning,
        language=language,
        accounts=accounts,
    )
    store.put_share(share, durable=True)
    return share


def _due(d: Delivery, now: datetime) -> bool:
    if d.status == "sending":
        return True
    if d.status != "queued":
        return False
    when = parse_iso(d.next_try)
    return when is None or when <= now


async def send_pending(
    store: Any,
    config: Config,
    secrets: SecretStore,
    *,
    share_ids: list[str] | None = None,
    now: datetime | None = None,
    accounts: dict[str, Account] | None = None,
) -> list[tuple[str, str, Delivery]]:
    """Send every due delivery; returns (share id, destination, delivery) for each handled.

    One process at a time (a lock beside the store), so a cron `veille send` and
    the app never both take the same ``sending`` delivery for a crashed one.
    """
    accounts = _accounts(store, config, accounts)
    done: list[tuple[str, str, Delivery]] = []
    with ProcessLock(Path(store.root) / ".outbox.lock"):
        listed = store.shares()
        wanted = set(share_ids) if share_ids is not None else None
        for listed_share in listed:
            if wanted is not None and listed_share.id not in wanted:
                continue
            share = store.get_share(listed_share.id) or listed_share  # freshest copy
            for name in list(share.deliveries):
                d = share.deliveries[name]
                if not _due(d, now or datetime.now(UTC)):
                    continue
                await _send_one(store, config, secrets, share, d, accounts.get(name))
                done.append((share.id, name, d))
    return done


def _save(store: Any, share: Share) -> None:
    store.put_share(share, durable=True)


async def _send_one(
    store: Any,
    config: Config,
    secrets: SecretStore,
    share: Share,
    d: Delivery,
    account: Account | None,
) -> None:
    if account is None:
        d.status, d.next_try = "failed", None
        d.error = f"no destination named '{d.destination}' any more (see `veille account list`)"
        _save(store, share)
        return
    if d.status == "sending" and account.type not in RETRY_SAFE:
        d.status, d.error, d.next_try = "failed", INTERRUPTED, None
        _save(store, share)
        return
    d.status, d.next_try = "sending", None
    d.attempts += 1
    _save(store, share)  # on disk before the request: a crash now is seen on restart
    try:
        result = await send(d, share, account, secrets, store=store, config=config)
    except DeliveryError as exc:
        _failed(d, exc)
    except Exception as exc:  # a bug or an odd server must not leave it "sending"
        _failed(d, DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False))
    else:
        d.status, d.url, d.remote_id = "sent", result.url, result.remote_id
        d.error, d.next_try = None, None
        d.sent_at = _iso(datetime.now(UTC))
    _save(store, share)


def _failed(d: Delivery, exc: DeliveryError) -> None:
    if exc.permanent:
        d.status, d.error, d.next_try = "failed", exc.message, None
    elif d.attempts >= MAX_ATTEMPTS:
        d.status, d.next_try = "failed", None
        d.error = f"gave up after {d.attempts} attempts: {exc.message}"
    else:
        wait = backoff(d.attempts, exc.retry_after)
        d.status, d.error = "queued", exc.message
        d.next_try = _iso(datetime.now(UTC) + timedelta(seconds=wait))


def retry(
    store: Any,
    config: Config,
    share_id: str,
    destinations: list[str] | None = None,
    comment: str | None = None,
    *,
    accounts: dict[str, Account] | None = None,
) -> Share:
    """Re-queue a share's failed (or waiting) deliveries, optionally with a new comment.

    A new comment re-renders every unsent text; sent ones keep the text as posted.
    """
    accounts = _accounts(store, config, accounts)
    try:
        sid = store.resolve_share_id(share_id)
    except Exception as exc:
        raise OutboxError(str(exc)) from None
    share = store.get_share(sid)
    if share is None:
        raise OutboxError(f"unknown share id '{share_id}'")
    names = destinations or [n for n, d in share.deliveries.items() if d.status != "sent"]
    for name in names:
        if name not in share.deliveries:
            if name not in accounts:
                raise OutboxError(f"unknown destination '{name}'")
            share.add_delivery(name, accounts[name].type)
    if comment is not None:
        share.comment = comment
    for name in names:
        d = share.deliveries[name]
        if d.status in ("failed", "queued"):
            d.status, d.error, d.next_try, d.attempts = "queued", None, None, 0
    render(share, config, accounts)
    _save(store, share)
    return share
