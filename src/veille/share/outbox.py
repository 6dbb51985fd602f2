"""The outbox: a share is on disk before any network call, then each delivery is sent,
retried with back-off, or stopped with the server's reason.

Crash safety: a delivery is marked ``sending`` (durably) before its request.  One
found ``sending`` at start was interrupted mid-request.  A destination that is
``retry_safe`` (Mastodon's Idempotency-Key, Bluesky's record key derived from
the share, the Atom file) is simply sent again; for the others (Micropub,
commands) the delivery is failed with a note to check by hand rather than risk
a double post.

The outbox only knows the Destination protocol (``veille.share.destinations``).
A failure's reason is the destination's, with the account's secrets taken out
(``veille.accounts.redact``) before it is stored, logged or shown, and it is
never overwritten by veille's own remarks (those go in ``Delivery.notice``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets as _secrets
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from veille.accounts.config import Account, fresh_config, load_accounts
from veille.accounts.redact import redactor_for
from veille.accounts.secrets import SecretStore
from veille.clients import length
from veille.clients.errors import RemoteError
from veille.config import Config
from veille.domain.errors import VeilleError
from veille.domain.share import Delivery, PostRef, Share
from veille.share.compose import credit_via, make_via, render_text, suggest_hashtags
from veille.share.destinations import Destination, Limits, SendContext, destination_for
from veille.share.plan import plan_destinations
from veille.store.lock import ProcessLock
from veille.util.dates import iso, parse_iso

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = 30.0  # seconds, doubled per attempt
BACKOFF_CAP = 3600.0
INTERRUPTED = "interrupted while sending: check the destination, then `veille share --retry`"
LOCK_NAME = ".outbox.lock"


class OutboxError(VeilleError):
    """Bad input (unknown item or destination); the message is one line."""


def _accounts(
    store: Any, config: Config, accounts: dict[str, Account] | None
) -> dict[str, Account]:
    """The accounts given, else config.toml's as it is now (an app's config may be old)."""
    if accounts is not None:
        return accounts
    return load_accounts(fresh_config(config), store.data_dir)


def _lookup(name: str, accounts: dict[str, Account], store: Any, config: Config) -> Account | None:
    """``name``'s account; one missing from ``accounts`` is looked up in config.toml as
    it is now, since a running app may hold accounts read before `account add`."""
    account = accounts.get(name)
    if account is None and config.path is not None:
        try:
            account = load_accounts(fresh_config(config), store.data_dir).get(name)
        except VeilleError:
            account = None
    return account


def gone_notice(name: str) -> str:
    return f"the destination '{name}' is not configured any more (see `veille account list`)"


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: 30 s × 2^(n-1), capped at 1 h, never before Retry-After."""
    delay = min(BACKOFF_BASE * float(2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    return max(delay, retry_after or 0.0)


def limits_for(account: Account) -> Limits | None:
    """The limits known without a network call (Mastodon's: override, cache, defaults)."""
    return destination_for(account).limits()


def length_check(share: Share, delivery: Delivery, account: Account) -> length.LengthCheck:
    """How ``delivery``'s text measures against ``account``'s destination."""
    dest = destination_for(account)
    return dest.check(delivery.text, content_warning=share.content_warning)


def render(share: Share, config: Config, accounts: dict[str, Account]) -> None:
    """(Re-)render the text of every unsent delivery; fail at once the ones too long,
    and the ones that cannot carry the share (a reply goes to its network only)."""
    for d in share.deliveries.values():
        if d.status == "sent":
            continue
        account = accounts.get(d.destination)
        plan = destination_for(account).answer(share) if account is not None else None
        native = plan.native if plan is not None else True
        d.text = render_text(share, config["share.template"], kind=d.kind, native=native)
        if account is None or plan is None:
            continue
        if not plan.ok:
            d.status, d.error, d.next_try = "failed", plan.note, None
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
    post: PostRef | None = None,
    answer: str = "",
) -> Share:
    """The share with its rendered, length-checked deliveries; nothing saved, nothing sent.

    ``post``: the post of someone you follow that the share credits ("via
    @alice@instance" in ``{via}``), or that it replies to / quotes (``answer``
    "reply" / "quote")."""
    accounts = _accounts(store, config, accounts)
    try:
        iid = store.resolve_id(item_id)
    except VeilleError as exc:  # StoreError: unknown or ambiguous (a bug is no message)
        raise OutboxError(str(exc)) from None
    item = store.get_item(iid)
    if item is None:
        raise OutboxError(f"unknown item id '{item_id}'")
    feed = store.get_feed(item.feed)
    plan = plan_destinations(config, accounts, to)
    if plan.unknown:
        known = ", ".join(accounts)
        raise OutboxError(f"unknown destination '{plan.unknown[0]}' (known: {known})")
    source = feed.name if feed else ""
    share = Share(
        id=_secrets.token_hex(6),
        item_id=iid,
        comment=comment,
        created=iso(now or datetime.now(UTC), precise=True),
        title=item.title,
        link=item.link,
        source=source,
        source_url=feed.url if feed else "",
        source_site=feed.site_url if feed else "",
        author=item.author,
        published=item.published,
        via=(credit_via(post) if post is not None else "") or make_via(source, author=item.author),
        hashtags=list(hashtags)
        if hashtags is not None
        else suggest_hashtags(list(item.categories)),
        language=language or None,
        content_warning=content_warning,
        answer=answer if answer in ("reply", "quote") and post is not None else "",
        post=post,
    )
    for name in plan.names:
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
    post: PostRef | None = None,
    answer: str = "",
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
        post=post,
        answer=answer,
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


def outbox_busy(store: Any) -> bool:
    """Whether some process is sending right now (holds the outbox lock).

    A delivery seen ``sending`` while nobody is was cut off by a crash or a
    kill: ``veille send`` finishes it.
    """
    try:
        fd = os.open(Path(store.root) / LOCK_NAME, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


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
    with ProcessLock(Path(store.root) / LOCK_NAME):
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
                account = _lookup(name, accounts, store, config)
                await _send_one(store, config, secrets, share, d, account)
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
        # The reason it failed before (if any) stays: it is what the user must see.
        d.status, d.next_try = "failed", None
        d.notice = gone_notice(d.destination)
        _save(store, share)
        return
    dest: Destination = destination_for(account)
    if d.status == "sending" and not dest.retry_safe:
        d.status, d.error, d.next_try = "failed", INTERRUPTED, None
        _save(store, share)
        return
    d.status, d.next_try, d.notice = "sending", None, None
    d.attempts += 1
    _save(store, share)  # on disk before the request: a crash now is seen on restart
    redact = redactor_for(secrets, account.name)
    ctx = SendContext(secrets=secrets, config=fresh_config(config), store=store, redact=redact)
    try:
        result = await dest.send(d, share, ctx)
    except RemoteError as exc:
        _failed(d, exc.redacted(redact))
        log.info("share %s to %s: %s", share.id, d.destination, d.error)
    except Exception as exc:  # a bug or an odd server must not leave it "sending"
        log.error(
            "share %s to %s failed unexpectedly:\n%s",
            share.id,
            d.destination,
            redact(traceback.format_exc()),
        )
        _failed(d, RemoteError(redact(f"{type(exc).__name__}: {exc}"), permanent=False))
    else:
        d.status, d.url, d.remote_id = "sent", result.url, result.remote_id
        d.error, d.next_try = None, None
        d.sent_at = iso(datetime.now(UTC), precise=True)
    _save(store, share)


def _failed(d: Delivery, exc: RemoteError) -> None:
    reason = str(exc)
    if exc.permanent:
        d.status, d.error, d.next_try = "failed", reason, None
    elif d.attempts >= MAX_ATTEMPTS:
        d.status, d.next_try = "failed", None
        d.error = f"gave up after {d.attempts} attempts: {reason}"
    else:
        wait = backoff(d.attempts, exc.retry_after)
        d.status, d.error = "queued", reason
        d.next_try = iso(datetime.now(UTC) + timedelta(seconds=wait), precise=True)


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
    A delivery whose destination is gone is left failed with its reason, and
    ``notice`` says the destination is gone.
    """
    accounts = dict(_accounts(store, config, accounts))
    try:
        sid = store.resolve_share_id(share_id)
    except VeilleError as exc:  # StoreError: unknown or ambiguous (a bug is no message)
        raise OutboxError(str(exc)) from None
    share: Share | None = store.get_share(sid)
    if share is None:
        raise OutboxError(f"unknown share id '{share_id}'")
    names = destinations or [n for n, d in share.deliveries.items() if d.status != "sent"]
    for name in names:
        account = _lookup(name, accounts, store, config)
        if account is not None:
            accounts[name] = account
        if name not in share.deliveries:
            if account is None:
                raise OutboxError(f"unknown destination '{name}'")
            share.add_delivery(name, account.type)
    if comment is not None:
        share.comment = comment
    for name in names:
        d = share.deliveries[name]
        if name not in accounts:
            d.status, d.next_try, d.notice = "failed", None, gone_notice(name)
            continue
        if d.status in ("failed", "queued"):
            d.status, d.error, d.next_try, d.attempts = "queued", None, None, 0
            d.notice = None
    render(share, config, accounts)
    _save(store, share)
    return share
