"""Mastodon and servers of its API (snac, Pleroma, Akkoma, GoToSocial).

Limits are learnt one way only (``fetch_limits``): ``/api/v2/instance``, then
``/api/v1/instance`` for what v2 does not say (older servers, snac, and
Pleroma's ``max_toot_chars``, which also means URLs count in full).  They are
cached per account in ``<cache>/mastodon-limits.json``, so the composer's
counter needs no network; the send refreshes them when a day old, and checks
the text against them before posting.  ``max_characters`` / ``url_length`` in
the account's table override what the instance says.

Whether the instance takes quote posts (``api_versions.mastodon`` ≥ 7 in
``/api/v2/instance``) is learnt with the limits and kept beside them: the
composer's preview then shows a quote as the instance will post it.

A reply or a quote names the post by its address (``Share.post``); the
instance's own id for it comes from its search (``find_status``), which fetches
a post of another server when need be.

A send is retry-safe: the delivery's Idempotency-Key makes Mastodon answer a
repeated post with the first status instead of a second one.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx

from veille import USER_AGENT
from veille.accounts.config import Account
from veille.clients import length
from veille.clients.errors import RemoteError
from veille.clients.length import LengthCheck, MastodonLimits
from veille.clients.mastodon import (
    MastodonClient,
    MastodonError,
    normalize_instance,
    quotes_supported,
)
from veille.domain.share import Delivery, Share
from veille.render.hygiene import clean_line
from veille.share.destinations.base import (
    AnswerPlan,
    BaseDestination,
    SendContext,
    SendResult,
)
from veille.util.atomicfile import write_atomic
from veille.util.dates import iso, parse_iso

log = logging.getLogger(__name__)

LIMITS_FILE = "mastodon-limits.json"
LIMITS_MAX_AGE = timedelta(days=1)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _default_cache_dir() -> Path:
    from veille.paths import get_paths

    return get_paths().cache


_PARSED: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}


class LimitsCache:
    """Learnt limits per account name, with the instance they came from and when.

    A small JSON file replaced atomically; unreadable or stale entries are
    simply not there (the defaults stand until the next send learns them).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, Any]:
        """The file's entries; parsed again only when it changed (the composer's counter
        asks on every keystroke)."""
        try:
            st = self.path.stat()
        except OSError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        known = _PARSED.get(self.path)
        if known is not None and known[0] == stamp:
            return dict(known[1])
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        data = data if isinstance(data, dict) else {}
        _PARSED[self.path] = (stamp, data)
        return dict(data)

    def get(self, account: Account) -> tuple[MastodonLimits, datetime] | None:
        entry = self._load().get(account.name)
        if not isinstance(entry, dict):
            return None
        if entry.get("instance") != normalize_instance(account.instance):
            return None  # the account points elsewhere now
        chars, per_url = entry.get("max_characters"), entry.get("url_length")
        if not isinstance(chars, int) or chars <= 0:
            return None
        if per_url is not None and (not isinstance(per_url, int) or per_url < 0):
            return None
        when = parse_iso(entry.get("learnt")) or datetime.fromtimestamp(0, UTC)
        return MastodonLimits(chars, per_url), when

    def quotes(self, account: Account) -> bool | None:
        """Whether the account's instance takes quote posts; None: not learnt."""
        entry = self._load().get(account.name)
        if not isinstance(entry, dict):
            return None
        if entry.get("instance") != normalize_instance(account.instance):
            return None
        quotes = entry.get("quotes")
        return quotes if isinstance(quotes, bool) else None

    def put(self, account: Account, limits: MastodonLimits, quotes: bool | None = None) -> None:
        data = self._load()
        data[account.name] = {
            "instance": normalize_instance(account.instance),
            "max_characters": limits.max_characters,
            "url_length": limits.characters_reserved_per_url,
            "learnt": iso(datetime.now(UTC)),
        }
        if quotes is not None:
            data[account.name]["quotes"] = quotes
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True).encode())
        except OSError as exc:  # only a cache: the next send asks again
            log.warning("cannot write %s: %s", self.path, exc)

    def forget(self, name: str) -> None:
        data = self._load()
        if data.pop(name, None) is not None:
            try:
                write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True).encode())
            except OSError as exc:
                log.warning("cannot write %s: %s", self.path, exc)


async def _instance(http: httpx.AsyncClient, url: str) -> tuple[dict[str, Any] | None, bool]:
    """(the JSON object at ``url`` or None, whether the server answered at all)."""
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError:
        return None, False
    if response.status_code != 200:
        return None, response.status_code < 500
    try:
        body = response.json()
    except ValueError:
        return None, True
    return (body if isinstance(body, dict) else None), True


def _statuses(info: dict[str, Any] | None) -> dict[str, Any]:
    config = (info or {}).get("configuration")
    statuses = config.get("statuses") if isinstance(config, dict) else None
    return statuses if isinstance(statuses, dict) else {}


async def fetch_limits(
    instance: str, *, client: httpx.AsyncClient | None = None
) -> MastodonLimits | None:
    """The instance's limits, or None when it could not be asked (network, 5xx).

    v2's ``configuration.statuses`` when it gives both numbers; else v1 fills
    in: its own ``configuration`` (Mastodon 3.x, snac) or Pleroma's
    ``max_toot_chars`` (then URLs count in full).  A server that publishes
    nothing gets Mastodon's defaults (500, 23).
    """
    return (await fetch_instance(instance, client=client))[0]


async def fetch_instance(
    instance: str, *, client: httpx.AsyncClient | None = None
) -> tuple[MastodonLimits | None, bool]:
    """(the limits as ``fetch_limits`` says, whether it takes quote posts)."""
    base = normalize_instance(instance)
    own = client is None
    # No keep-alive: snac closes each connection after one answer without saying so.
    http = client or httpx.AsyncClient(
        timeout=TIMEOUT,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    try:
        v2, answered2 = await _instance(http, f"{base}/api/v2/instance")
        statuses = _statuses(v2)
        quotes = quotes_supported(v2)
        if "max_characters" in statuses and "characters_reserved_per_url" in statuses:
            return length.limits_from_instance(v2 or {}), quotes
        v1, answered1 = await _instance(http, f"{base}/api/v1/instance")
    finally:
        if own:
            await http.aclose()
    if not (answered1 or answered2):
        return None, False
    merged: dict[str, Any] = dict(v1 or {})
    if statuses:
        merged["configuration"] = (v2 or {}).get("configuration")
    for key in ("pleroma", "max_toot_chars"):
        if v2 and key in v2 and key not in merged:
            merged[key] = v2[key]
    return length.limits_from_instance(merged), quotes


class MastodonDestination(BaseDestination):
    kind: ClassVar[str] = "mastodon"
    retry_safe: ClassVar[bool] = True

    @property
    def cache(self) -> LimitsCache:
        return LimitsCache((self.cache_dir or _default_cache_dir()) / LIMITS_FILE)

    def _override(self, learnt: MastodonLimits) -> MastodonLimits:
        a = self.account
        return MastodonLimits(
            a.max_characters or learnt.max_characters,
            a.url_length if a.url_length is not None else learnt.characters_reserved_per_url,
        )

    def limits(self) -> MastodonLimits:
        """The account's override, else the cached limits, else Mastodon's defaults."""
        cached = self.cache.get(self.account)
        return self._override(cached[0] if cached else MastodonLimits())

    async def learn_limits(
        self, *, force: bool = False, client: httpx.AsyncClient | None = None
    ) -> MastodonLimits:
        """Ask the instance when the cache is empty, a day old, or ``force``; cache it."""
        cached = self.cache.get(self.account)
        if cached and not force and datetime.now(UTC) - cached[1] < LIMITS_MAX_AGE:
            return self._override(cached[0])
        found, quotes = await fetch_instance(self.account.instance, client=client)
        if found is None:  # unreachable: what we knew stands, and we ask again next time
            return self._override(cached[0] if cached else MastodonLimits())
        self.cache.put(self.account, found, quotes)
        return self._override(found)

    def check(self, text: str, *, content_warning: str = "") -> LengthCheck:
        return length.check(text, "mastodon", self.limits(), spoiler_text=content_warning)

    def answer(self, share: Share) -> AnswerPlan:
        """A reply to a Mastodon post, a quote where the instance takes them (as
        learnt with its limits); any other quote links to the post."""
        post = share.post
        if not share.answer or post is None:
            return AnswerPlan()
        handle = clean_line(post.handle) or "the author"
        if post.network != "mastodon":
            return super().answer(share)
        if share.answer == "reply":
            return AnswerPlan(note=f"a reply to {handle}'s post")
        quotes = self.cache.quotes(self.account)
        if quotes:
            return AnswerPlan(note=f"quotes {handle}'s post")
        why = "does not take quote posts" if quotes is False else "may not take quote posts"
        return AnswerPlan(native=False, note=f"this instance {why}: the post is linked instead")

    async def _answer_ids(
        self, client: MastodonClient, share: Share, delivery: Delivery
    ) -> tuple[str | None, str | None]:
        """(in_reply_to_id, quoted_status_id) on this instance for ``share``."""
        post = share.post
        if not share.answer or post is None or post.network != "mastodon":
            return None, None
        if share.answer == "quote" and not self.cache.quotes(self.account):
            delivery.notice = "quoted as a link: the instance does not take quote posts"
            return None, None
        status = None
        for address in dict.fromkeys(a for a in (post.uri, post.url) if a):
            status = await client.find_status(address)
            if status is not None:
                break
        if status is None:
            raise MastodonError(
                f"{clean_line(post.handle) or 'the'} post is not found from "
                f"{normalize_instance(self.account.instance)} (deleted, or not public)",
                permanent=True,
            )
        sid = str(status["id"])
        return (sid, None) if share.answer == "reply" else (None, sid)

    async def send(self, delivery: Delivery, share: Share, ctx: SendContext) -> SendResult:
        token = self.secret(ctx, "token")
        limits = await self.learn_limits()
        verdict = length.check(
            delivery.text, "mastodon", limits, spoiler_text=share.content_warning
        )
        if not verdict.ok:
            raise RemoteError(verdict.reason, permanent=True)
        account = self.account
        if not self.answer(share).ok:
            raise RemoteError(self.answer(share).note, permanent=True)
        async with MastodonClient(account.instance, token) as client:
            reply_to, quoted = await self._answer_ids(client, share, delivery)
            status = await client.post_status(
                delivery.text,
                idempotency_key=delivery.idempotency_key,
                visibility=account.visibility or share.visibility or "public",
                language=share.language or account.language or None,
                spoiler_text=share.content_warning,
                sensitive=bool(share.content_warning),
                in_reply_to_id=reply_to,
                quoted_status_id=quoted,
            )
        url = status.get("url") or status.get("uri")
        return SendResult(str(url) if url else None, str(status.get("id")))
