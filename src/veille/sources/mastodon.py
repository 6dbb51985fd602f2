"""Mastodon timelines as a source: ``mastodon:home``, ``mastodon:list/ID``,
``mastodon:tag/NAME`` (through your account) and ``mastodon:@user@instance``
(public posts, read from the account's own instance without logging in).

A post becomes an entry about what it links to ("one item per link, seen via
every sharer"): the link of its preview card, else the first link in its text,
else the post itself.  A boost is an entry of kind "repost" by the booster.

Polling goes forward with ``min_id`` (``since_id`` returns the newest page and
leaves a gap behind it), at most ``max_posts`` per poll: a long backlog is read
oldest-first in slices, ``PollResult.more`` saying that more is waiting, the
position kept in ``Feed.cursor``.  Rate limits are read on every answer:
paging stops early when the window is nearly spent, and a 429 comes back as
"throttled" with the server's wait.

``mastodon:home`` also reads your notifications (only when ``PollContext.sent``
holds posts veille sent): favourites, boosts, replies and quotes of those come
back as ``PollResult.responses``; a reply is also an entry of kind "reply".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from html import unescape
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from veille.accounts.config import Account
from veille.clients.mastodon import MastodonClient, MastodonError, Page
from veille.domain.entries import ParsedEntry
from veille.domain.records import Feed
from veille.render.hygiene import clean_line, clean_text, html_to_text
from veille.sources.base import PollContext, PollResult, Response
from veille.sources.names import SourceName, SourceNameError, instance_url, parse_source_name
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

log = logging.getLogger(__name__)

MAX_POSTS = 200  # per poll; the rest comes with the next one
PAGE_SIZE = 40  # Mastodon's maximum for timelines
NOTIFICATIONS_PAGE = 80  # Mastodon's maximum for notifications
MAX_NOTIFICATIONS = 400
RATE_FLOOR = 10  # stop paging when fewer requests are left in the window
RESPONSE_TYPES = {"favourite": "like", "reblog": "repost", "mention": "reply", "quote": "quote"}


# --- posts → entries -------------------------------------------------------------------


def _id_key(value: str) -> tuple[int, str]:
    """Mastodon ids are numbers in strings of growing length; snac's are fixed-width."""
    return (len(value), value)


def _newest(ids: list[str]) -> str:
    return max(ids, key=_id_key)


def handle_of(account: dict[str, Any], instance: str = "") -> str:
    """``@user@domain`` for an account; a local ``acct`` gets its server's domain."""
    acct = str(account.get("acct") or account.get("username") or "").lstrip("@")
    if not acct:
        return ""
    if "@" not in acct:
        host = urlsplit(str(account.get("url") or "")).netloc or urlsplit(instance).netloc
        acct = f"{acct}@{host}" if host else acct
    return "@" + clean_line(acct)


def _name_of(account: dict[str, Any]) -> str:
    return clean_line(str(account.get("display_name") or account.get("username") or ""))


_ANCHOR = re.compile(r"<a\s([^>]*)>", re.I)
_ATTR = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_QUOTE_INLINE = re.compile(r'<span class="quote-inline">.*?</span>(?=\s*</p>|\s*$)', re.S)


def content_links(html: str) -> list[str]:
    """The http(s) links of a post's HTML, in order: mentions, hashtags and the "RE:
    ..." fallback of a quote left out.

    Regular expressions rather than an HTML parser: this runs for every post of every
    poll, Mastodon writes this HTML itself (plain ``<a href=...>`` tags), and it is
    twice as fast (see benchmarks/social_bench.py).
    """
    out = []
    for anchor in _ANCHOR.finditer(_QUOTE_INLINE.sub("", html)):
        attrs = {
            m.group(1).lower(): unescape(m.group(2) or m.group(3) or m.group(4) or "")
            for m in _ATTR.finditer(anchor.group(1))
        }
        classes = attrs.get("class", "").split()
        if "mention" in classes or "hashtag" in classes or "tag" in attrs.get("rel", "").split():
            continue
        link = web_link(attrs.get("href", ""))
        if link:
            out.append(link)
    return out


_INVISIBLE = re.compile(r'<span class="invisible">[^<]*</span>')
_ELLIPSIS = re.compile(r'(<span class="ellipsis">[^<]*)(</span>)')


def post_text(html: str) -> str:
    """The words of a post as people see them: Mastodon shortens long links in its
    HTML (the hidden parts are ``span.invisible``, a cut one ends ``span.ellipsis``)."""
    html = _QUOTE_INLINE.sub("", html)
    html = _INVISIBLE.sub("", html)
    html = _ELLIPSIS.sub(r"\1…\2", html)
    return clean_text(html_to_text(html)).strip()


def _media(status: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    enclosures: list[dict[str, Any]] = []
    image = ""
    for media in status.get("media_attachments") or ():
        if not isinstance(media, dict):
            continue
        url = web_link(media.get("url") or media.get("remote_url"))
        if not url:
            continue
        kind = str(media.get("type") or "")
        mime = {"image": "image/*", "gifv": "video/*", "video": "video/*", "audio": "audio/*"}
        enclosures.append({"url": url, "type": mime.get(kind, ""), "length": None})
        if not image and kind == "image":
            image = web_link(media.get("preview_url")) or url
    return enclosures, image


def _article(status: dict[str, Any], exclude: Collection[str]) -> tuple[str, dict[str, Any]]:
    """(link, card) of what a status is about: its card's link, else its first link."""
    card = status.get("card") if isinstance(status.get("card"), dict) else None
    if card is not None:
        link = web_link(card.get("url"))
        if link and link not in exclude:
            return link, card
    for link in content_links(str(status.get("content") or "")):
        if link not in exclude:
            return link, {}
    return "", {}


def _quoted(status: dict[str, Any]) -> dict[str, Any] | None:
    """The quoted status of a quote post (Mastodon 4.5 ``quote.quoted_status``)."""
    quote_ = status.get("quote")
    if isinstance(quote_, dict):
        inner = quote_.get("quoted_status")
        if isinstance(inner, dict):
            return inner
    return None


def status_entry(
    status: dict[str, Any], *, instance: str = "", sent: Collection[str] = ()
) -> ParsedEntry | None:
    """A status as an entry (see the module's docstring); None when it is not one."""
    reblog = status.get("reblog")
    if isinstance(reblog, dict):
        entry = status_entry(reblog, instance=instance, sent=sent)
        booster = status.get("account")
        if entry is None or not isinstance(booster, dict):
            return entry
        entry.kind = "repost"
        entry.reposter = handle_of(booster, instance)
        entry.key = str(status.get("uri") or status.get("id") or entry.key)
        entry.published = iso_time(status.get("created_at")) or entry.published
        return entry
    account = status.get("account")
    uri = status.get("uri") or status.get("url")
    if not isinstance(account, dict) or not isinstance(uri, str) or not uri:
        return None
    post_url = web_link(status.get("url")) or web_link(uri)
    html = str(status.get("content") or "")
    words = post_text(html)
    quoted = _quoted(status)
    exclude = {post_url}
    if quoted is not None:
        exclude |= {web_link(quoted.get("url")), web_link(quoted.get("uri"))}
    link, card = _article(status, exclude)
    kind = "post"
    if quoted is not None:
        kind = "quote"
        if not link:
            link, card = _article(quoted, {web_link(quoted.get("url"))})
            link = link or web_link(quoted.get("url")) or web_link(quoted.get("uri"))
    enclosures, media_image = _media(status)
    entry = ParsedEntry(
        key=clean_line(uri),
        link=link or post_url,
        author=_name_of(account),
        published=iso_time(status.get("created_at")),
        updated=iso_time(status.get("edited_at")),
        content=clean_text(html),
        content_type="html",
        categories=[
            clean_line(str(t.get("name")))
            for t in status.get("tags") or ()
            if isinstance(t, dict) and t.get("name")
        ],
        enclosures=enclosures,
        image=web_link(card.get("image")) or media_image,
        base=instance,
        kind=kind,
        handle=handle_of(account, instance),
        post_url=post_url,
        post_text=words,
        content_warning=clean_line(str(status.get("spoiler_text") or "")),
    )
    if card:
        entry.title = clean_line(str(card.get("title") or "")) or title_of(words)
        entry.summary = summary_of(str(card.get("description") or "")) or summary_of(words)
    else:
        entry.title = title_of(words) if not link else ""
        entry.summary = summary_of(words)
    if not entry.title and not link:
        entry.title = title_of(entry.content_warning) or entry.handle
    reply_to = matches(sent, status.get("in_reply_to_id"))
    if reply_to:
        entry.kind = "reply"
        entry.reply_to = reply_to
        entry.link = post_url
        entry.title = title_of(words) or entry.title
    return entry


def notification_response(
    notification: dict[str, Any], *, instance: str = "", sent: Collection[str] = ()
) -> Response | None:
    """A notification about one of your sent posts, as a Response; else None."""
    kind = RESPONSE_TYPES.get(str(notification.get("type") or ""))
    status = notification.get("status")
    account = notification.get("account")
    if kind is None or not isinstance(status, dict) or not isinstance(account, dict):
        return None
    if kind in ("like", "repost"):
        target = matches(sent, status.get("id"), status.get("uri"), status.get("url"))
    elif kind == "reply":
        target = matches(sent, status.get("in_reply_to_id"))
    else:
        quoted = _quoted(status) or {}
        target = matches(sent, quoted.get("id"), quoted.get("uri"), quoted.get("url"))
    if not target:
        return None
    handle = handle_of(account, instance)
    at = iso_time(notification.get("created_at")) or iso_time(status.get("created_at"))
    if kind in ("like", "repost"):
        return Response(
            kind=kind,
            target=target,
            author=_name_of(account),
            handle=handle,
            url=web_link(account.get("url")),
            at=at,
            key=f"{kind}:{handle}:{target}",
        )
    return Response(
        kind=kind,
        target=target,
        author=_name_of(account),
        handle=handle,
        text=post_text(str(status.get("content") or "")),
        url=web_link(status.get("url")) or web_link(status.get("uri")),
        at=at,
        key=clean_line(str(status.get("uri") or status.get("url") or "")),
    )


# --- the source ---------------------------------------------------------------------------


class MastodonSource:
    """The ``mastodon`` kind of source."""

    kind: ClassVar[str] = "mastodon"

    def __init__(self, *, max_posts: int = MAX_POSTS, page_size: int = PAGE_SIZE) -> None:
        self.max_posts = max(1, max_posts)
        self.page_size = max(1, min(page_size, PAGE_SIZE))

    async def poll(self, feed: Feed, ctx: PollContext) -> PollResult:
        """Never raises: every failure is a PollResult with a one-line ``error``."""
        try:
            name = parse_source_name(feed.url)
            if name.kind != "mastodon":
                raise SourceNameError(f"{feed.url!r} is not a Mastodon source")
            return await self._poll(feed, name, ctx)
        except SourceNameError as exc:
            return failure(str(exc), "url")
        except StopPoll as stop:
            return stop.result
        except Exception:  # a bug: to the log with its traceback, one line for the user
            log.exception("polling %s failed", feed.url)
            return failure(f"{feed.url}: unexpected error (details in the log)", "other")

    # -- account and endpoint ------------------------------------------------------------

    def _account(self, feed: Feed, name: SourceName, ctx: PollContext) -> tuple[Account, str]:
        accounts = {
            n: a for n, a in (ctx.accounts or {}).items() if getattr(a, "type", "") == "mastodon"
        }
        account = accounts.get(feed.account) if feed.account else None
        if account is None and not feed.account and len(accounts) == 1:
            account = next(iter(accounts.values()))
        if account is None:
            wanted = f"the account '{feed.account}'" if feed.account else "a Mastodon account"
            raise StopPoll(
                failure(
                    f"{name} needs {wanted}: add it with `veille account add mastodon INSTANCE`",
                    "auth",
                )
            )
        token = ctx.secrets.get(account.secret("token")) if ctx.secrets is not None else None
        if not token:
            raise StopPoll(
                failure(
                    f"no token saved for '{account.name}': "
                    + relogin("mastodon", account.name, account.instance),
                    "auth",
                )
            )
        return account, token

    async def _endpoint(
        self, name: SourceName, client: MastodonClient, cursor: dict[str, Any]
    ) -> tuple[str, dict[str, str], str]:
        """(path, extra params, title) of the timeline to read."""
        host = urlsplit(client.instance).netloc
        if name.view == "home":
            return "/api/v1/timelines/home", {}, f"Home · {host}"
        if name.view == "list":
            title = str(cursor.get("title") or "")
            if not title:
                try:
                    info = await client.get_json(f"/api/v1/lists/{quote(name.arg)}")
                    if isinstance(info, dict):
                        title = clean_line(str(info.get("title") or ""))
                except MastodonError as exc:
                    if exc.status in (404, 410):
                        raise
                    title = ""
                cursor["title"] = title
            return (
                f"/api/v1/timelines/list/{quote(name.arg)}",
                {},
                f"{title or 'List ' + name.arg} · {host}",
            )
        if name.view == "tag":
            return f"/api/v1/timelines/tag/{quote(name.arg)}", {}, f"#{name.arg} · {host}"
        user = name.arg.split("@", 1)[0]
        account_id = cursor.get("account_id") if cursor.get("acct") == name.arg else None
        title = str(cursor.get("title") or "")
        if not account_id:
            found = await client.lookup(user)
            if found.get("suspended") or found.get("moved"):
                why = "suspended" if found.get("suspended") else "moved to another server"
                raise StopPoll(failure(f"@{name.arg} was {why}", "not_found", status="gone"))
            account_id = str(found["id"])
            title = f"{_name_of(found) or user} (@{name.arg})"
            cursor.update(acct=name.arg, account_id=account_id, title=title)
        params = {"exclude_replies": "true"}
        return f"/api/v1/accounts/{quote(str(account_id))}/statuses", params, title

    # -- the poll ------------------------------------------------------------------------

    async def _poll(self, feed: Feed, name: SourceName, ctx: PollContext) -> PollResult:
        if name.view == "account":
            base, token, account = instance_url(name.instance), "", None
        else:
            account, token = self._account(feed, name, ctx)
            base = account.instance
        cursor: dict[str, Any] = dict(feed.cursor or {})
        async with http_client(ctx) as http, MastodonClient(base, token, client=http) as client:
            try:
                path, params, title = await self._endpoint(name, client, cursor)
                statuses, more, retry_after = await self._statuses(client, path, params, cursor)
            except MastodonError as exc:
                return self._failed(exc, name, account)
            result = PollResult(title=title, site_url=client.instance, more=more)
            result.retry_after = retry_after
            entries = []
            skipped = 0
            for status in statuses:
                if not isinstance(status, dict):
                    skipped += 1
                    continue
                try:
                    entry = status_entry(status, instance=client.instance, sent=ctx.sent)
                except Exception:
                    log.exception("could not read a status from %s", client.instance)
                    entry = None
                if entry is None:
                    skipped += 1
                    continue
                entries.append(entry)
            if name.view == "home" and ctx.sent:
                try:
                    responses, replies = await self._notifications(client, cursor, ctx.sent)
                except MastodonError as exc:
                    log.info("notifications of %s: %s", client.instance, exc)
                    result.warning = f"notifications not read: {exc.message}"
                else:
                    result.responses = responses
                    keys = {e.key for e in entries}
                    entries.extend(r for r in replies if r.key not in keys)
        await resolve_short_links(entries, ctx)
        result.entries = entries
        result.cursor = cursor
        if skipped:
            log.info("%s: %d statuses skipped (not statuses, or unreadable)", feed.url, skipped)
        return result

    async def _statuses(
        self,
        client: MastodonClient,
        path: str,
        params: dict[str, str],
        cursor: dict[str, Any],
    ) -> tuple[list[Any], bool, float | None]:
        """Read forward from ``cursor['min_id']``; first poll: the newest page only."""
        limit = str(self.page_size)
        min_id = cursor.get("min_id")
        if not isinstance(min_id, str) or not min_id:
            page = await client.get_page(path, {**params, "limit": limit})
            ids = _ids(page)
            if ids:
                cursor["min_id"] = _newest(ids)
            wait = page.reset_after if _low(page) else None
            return page.items[: self.max_posts], False, wait
        statuses: list[Any] = []
        seen: set[str] = set()
        url: str | None = None
        request = {**params, "min_id": min_id, "limit": limit}
        more = False
        retry: float | None = None
        while True:
            page = await (client.get_page(url=url) if url else client.get_page(path, request))
            ids = [i for i in _ids(page) if i not in seen]
            if not ids or _id_key(_newest(ids)) <= _id_key(min_id):
                break  # caught up (or a server that ignores min_id)
            seen.update(ids)
            statuses.extend(page.items)
            min_id = _newest(ids)
            cursor["min_id"] = min_id
            if len(page.items) < self.page_size:
                break
            if len(statuses) >= self.max_posts:
                more = True
                break
            if _low(page):
                more, retry = True, page.reset_after
                break
            prev = page.links.get("prev", "")
            # Mastodon's rel=prev of a min_id page is ?min_id=<newest>: the next slice.
            # snac's says since_id, which would skip a gap: build our own then.
            url = prev if "min_id=" in prev else None
            request = {**params, "min_id": min_id, "limit": limit}
        return statuses, more, retry

    async def _notifications(
        self, client: MastodonClient, cursor: dict[str, Any], sent: Collection[str]
    ) -> tuple[list[Response], list[ParsedEntry]]:
        """Responses to your posts since the last poll, and replies as entries."""
        params: list[tuple[str, str]] = [("limit", str(NOTIFICATIONS_PAGE))]
        params += [("types[]", t) for t in RESPONSE_TYPES]
        min_id = cursor.get("notifications_min_id")
        items: list[Any] = []
        if isinstance(min_id, str) and min_id:
            while len(items) < MAX_NOTIFICATIONS:
                page = await client.get_page("/api/v1/notifications", [*params, ("min_id", min_id)])
                ids = _ids(page)
                if not ids or _id_key(_newest(ids)) <= _id_key(min_id):
                    break
                items.extend(page.items)
                min_id = _newest(ids)
                if len(page.items) < NOTIFICATIONS_PAGE or _low(page):
                    break
        else:
            page = await client.get_page("/api/v1/notifications", params)
            items = page.items
            ids = _ids(page)
            min_id = _newest(ids) if ids else None
        if min_id:
            cursor["notifications_min_id"] = min_id
        responses: list[Response] = []
        replies: list[ParsedEntry] = []
        for notification in items:
            if not isinstance(notification, dict):
                continue
            response = notification_response(notification, instance=client.instance, sent=sent)
            if response is None:
                continue
            responses.append(response)
            status = notification.get("status")
            if response.kind == "reply" and isinstance(status, dict):
                entry = status_entry(status, instance=client.instance, sent=sent)
                if entry is not None:
                    replies.append(entry)
        return responses, replies

    def _failed(self, exc: MastodonError, name: SourceName, account: Account | None) -> PollResult:
        status = exc.status
        where = urlsplit(account.instance).netloc if account else name.instance
        if status == 401:
            if account is None:
                return failure(f"{where} wants a login to show @{name.arg}'s posts", "auth")
            return failure(
                f"{where} refused the token of '{account.name}' (expired or revoked): "
                + relogin("mastodon", account.name, account.instance),
                "auth",
                http_status=401,
            )
        if status == 403:
            why = f"{where} refused to show {name}: {exc.message}"
            return failure(why, "auth", http_status=403)
        if status in (404, 410):
            what = {
                "list": f"the list {name.arg} is not on {where} (deleted?)",
                "account": f"no account @{name.arg} (deleted, suspended or misspelled)",
            }.get(name.view, f"{name} is not on {where}")
            return failure(what, "not_found", status="gone", http_status=status)
        if status == 429:
            wait = exc.retry_after
            hint = f" (retry in {wait:.0f} s)" if wait is not None else ""
            return failure(
                f"rate-limited by {where}{hint}",
                "throttled",
                status="throttled",
                http_status=429,
                retry_after=wait,
            )
        if status is None:
            return failure(f"{where}: {exc.message}", describe_network(exc.message))
        kind = "parse" if "JSON" in exc.message or "not a list" in exc.message else "http"
        retry = exc.retry_after if not exc.permanent else None
        return failure(
            f"{where}: HTTP {status}: {exc.message}", kind, http_status=status, retry_after=retry
        )


def _ids(page: Page) -> list[str]:
    return [str(item["id"]) for item in page.items if isinstance(item, dict) and "id" in item]


def _low(page: Page) -> bool:
    return page.remaining is not None and page.remaining <= RATE_FLOOR
