"""Talk to servers that speak the Mastodon client API (Mastodon, snac, Pleroma,
GoToSocial): post statuses for the outbox, read timelines and notifications for
the social sources.

Thin and async on purpose: the outbox and the sources own retries and scheduling,
so this module only turns each HTTP outcome into either a result or a
`MastodonError` that says whether trying again can help (`permanent`) and when
(`retry_after`).  The access token travels in headers only: it never appears in a
message or a repr, and it is never sent to another server than the instance (a
``Link`` header pointing elsewhere is refused).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from veille import PROJECT_URL, USER_AGENT
from veille.clients.errors import RemoteError
from veille.net.httputil import (
    error_text,
    is_transient,
    parse_rate_limit_reset,
    retry_after_seconds,
)

OOB_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"
DEFAULT_SCOPES = "read write"
# Mastodon's own defaults: what a server that publishes no limits most likely enforces.
TIMEOUT = httpx.Timeout(20.0, connect=10.0)


class MastodonError(RemoteError):
    """A failed Mastodon API call."""


def normalize_instance(instance: str) -> str:
    """`mastodon.social`, `https://mastodon.social/` → `https://mastodon.social`."""
    instance = instance.strip()
    if "://" not in instance:
        instance = "https://" + instance
    return instance.rstrip("/")


def _raise_for(response: httpx.Response) -> None:
    """Map an unsuccessful response to MastodonError: 408/429/5xx may pass, the rest won't."""
    status = response.status_code
    if status < 400:
        return
    transient = is_transient(status)
    raise MastodonError(
        error_text(response),
        permanent=not transient,
        status=status,
        retry_after=retry_after_seconds(response.headers, status=status) if transient else None,
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise MastodonError(
            "the server did not answer JSON (is this a Mastodon-API server?)",
            permanent=True,
            status=response.status_code,
        ) from None


# A kept-alive connection the server already closed fails like this before any answer.
# snac closes every connection after one response without saying `Connection: close`,
# so a pooled client hits it often; one immediate retry on a new connection fixes it.
_STALE = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


async def _send(
    client: httpx.AsyncClient, method: str, url: str, *, retry_stale: bool = True, **kwargs: Any
) -> httpx.Response:
    """One request; network failures become non-permanent errors without the request's headers.

    `retry_stale=False` for requests that must not be sent twice (a single-use OAuth code).
    """
    for attempt in range(2 if retry_stale else 1):
        try:
            response = await client.request(method, url, **kwargs)
            break
        except _STALE as exc:
            if retry_stale and attempt == 0:
                continue
            raise MastodonError(f"network error: {type(exc).__name__}", permanent=False) from None
        except httpx.TimeoutException:
            raise MastodonError("timed out", permanent=False) from None
        except httpx.HTTPError as exc:
            raise MastodonError(f"network error: {type(exc).__name__}", permanent=False) from None
    _raise_for(response)
    return response


@asynccontextmanager
async def open_client(client: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    """Use the caller's client as is, or a short-lived one of our own (closed after)."""
    if client is not None:
        yield client
        return
    async with httpx.AsyncClient(timeout=TIMEOUT, headers={"User-Agent": USER_AGENT}) as own:
        yield own


async def register_app(
    instance: str,
    *,
    client_name: str = "veille",
    website: str = PROJECT_URL,
    scopes: str = DEFAULT_SCOPES,
    client: httpx.AsyncClient | None = None,
) -> dict[str, Any]:
    """Register veille with an instance for the out-of-band flow; returns client_id/secret."""
    base = normalize_instance(instance)
    data = {
        "client_name": client_name,
        "redirect_uris": OOB_REDIRECT,
        "scopes": scopes,
        "website": website,
    }
    async with open_client(client) as http:
        app = _json(await _send(http, "POST", f"{base}/api/v1/apps", data=data))
    if not isinstance(app, dict) or not app.get("client_id") or not app.get("client_secret"):
        raise MastodonError("the app registration lacks client_id/client_secret", permanent=True)
    return app


def authorize_url(instance: str, client_id: str, scopes: str = DEFAULT_SCOPES) -> str:
    """The page where the user logs in and is shown a code to paste back into veille."""
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": OOB_REDIRECT,
            "response_type": "code",
            "scope": scopes,
        }
    )
    return f"{normalize_instance(instance)}/oauth/authorize?{query}"


async def exchange_code(
    instance: str,
    client_id: str,
    client_secret: str,
    code: str,
    *,
    scopes: str = DEFAULT_SCOPES,
    client: httpx.AsyncClient | None = None,
) -> str:
    """Trade the code shown by /oauth/authorize for an access token."""
    data = {
        "grant_type": "authorization_code",
        "code": code.strip(),
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": OOB_REDIRECT,
        "scope": scopes,
    }
    base = normalize_instance(instance)
    async with open_client(client) as http:
        response = await _send(http, "POST", f"{base}/oauth/token", data=data, retry_stale=False)
        body = _json(response)
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise MastodonError("the token response has no access_token", permanent=True)
    return token


#: ``api_versions.mastodon`` from which an instance takes ``quoted_status_id``
#: (Mastodon 4.5; docs.joinmastodon.org/client/quotes).
QUOTES_API_VERSION = 7


def quotes_supported(instance: Any) -> bool:
    """Whether an instance document (``/api/v2/instance``) advertises quote posts."""
    versions = instance.get("api_versions") if isinstance(instance, dict) else None
    version = versions.get("mastodon") if isinstance(versions, dict) else None
    return (
        isinstance(version, int)
        and not isinstance(version, bool)
        and (version >= QUOTES_API_VERSION)
    )


@dataclass
class Page:
    """One page of a list endpoint (a timeline, notifications), with its paging
    links and what is left of the rate-limit window."""

    items: list[Any]
    links: dict[str, str] = field(default_factory=dict)  # rel ("next", "prev") -> URL
    remaining: int | None = None  # X-RateLimit-Remaining
    reset_after: float | None = None  # seconds until the window resets


def _rate_limit(response: httpx.Response) -> tuple[int | None, float | None]:
    raw = response.headers.get("x-ratelimit-remaining", "").strip()
    remaining = int(raw) if raw.isdigit() else None
    reset = parse_rate_limit_reset(response.headers.get("x-ratelimit-reset"), datetime.now(UTC))
    return remaining, reset


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc.lower()) == (pb.scheme, pb.netloc.lower())


class MastodonClient:
    """An account on one instance; with an empty token, an anonymous reader of
    what the instance shows the public."""

    def __init__(
        self, instance: str, token: str, *, client: httpx.AsyncClient | None = None
    ) -> None:
        self.instance = normalize_instance(instance)
        self._token = token
        self._own = client is None
        self._http = client or httpx.AsyncClient(
            timeout=TIMEOUT, headers={"User-Agent": USER_AGENT}
        )

    def __repr__(self) -> str:
        return f"MastodonClient({self.instance!r})"

    async def aclose(self) -> None:
        if self._own:
            await self._http.aclose()

    async def __aenter__(self) -> MastodonClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        headers.update(extra or {})
        return headers

    async def _get_json(self, path: str) -> Any:
        response = await _send(self._http, "GET", self.instance + path, headers=self._headers())
        return _json(response)

    async def verify(self) -> dict[str, Any]:
        """The account the token belongs to (checks the token works)."""
        account = await self._get_json("/api/v1/accounts/verify_credentials")
        if not isinstance(account, dict):
            raise MastodonError("unexpected verify_credentials answer", permanent=True)
        return account

    async def post_status(
        self,
        text: str,
        *,
        idempotency_key: str,
        visibility: str = "public",
        language: str | None = None,
        spoiler_text: str = "",
        sensitive: bool = False,
        in_reply_to_id: str | None = None,
        quoted_status_id: str | None = None,
    ) -> dict[str, Any]:
        """Publish a status; returns the server's status JSON (`id`, `url`, ...).

        Reuse the same `idempotency_key` when retrying one share: Mastodon keeps it
        for an hour and answers the first status again instead of posting twice.
        ``in_reply_to_id`` and ``quoted_status_id`` are ids *on this instance*
        (``find_status`` gives them for a post of another one); quotes need an
        instance that advertises them (``quotes_supported``).
        """
        data = {"status": text, "visibility": visibility}
        if language:
            data["language"] = language
        if spoiler_text:
            data["spoiler_text"] = spoiler_text
        if sensitive:
            data["sensitive"] = "true"
        if in_reply_to_id:
            data["in_reply_to_id"] = in_reply_to_id
        if quoted_status_id:
            data["quoted_status_id"] = quoted_status_id
        response = await _send(
            self._http,
            "POST",
            f"{self.instance}/api/v1/statuses",
            data=data,
            headers=self._headers({"Idempotency-Key": idempotency_key}),
        )
        status = _json(response)
        if not isinstance(status, dict) or "id" not in status:
            raise MastodonError("the server's answer is not a status", permanent=True)
        return status

    async def find_status(self, url: str) -> dict[str, Any] | None:
        """The status at ``url`` (its web address or ActivityPub URI) as this
        instance knows it, fetching it from its home server when need be
        (``/api/v2/search?resolve=true``); None when the instance finds nothing.

        A status's id is per instance: replying to a post of another server
        needs the id it has here.  The match whose ``uri`` or ``url`` is the one
        asked for wins; else the only one found."""
        try:
            found = await self.get_json(
                "/api/v2/search",
                {"q": url, "resolve": "true", "type": "statuses", "limit": "5"},
            )
        except MastodonError as exc:
            if exc.status in (404, 410, 422):
                return None
            raise
        statuses = found.get("statuses") if isinstance(found, dict) else None
        good = [s for s in statuses or () if isinstance(s, dict) and s.get("id")]
        for status in good:
            if url in (status.get("uri"), status.get("url")):
                return status
        return good[0] if len(good) == 1 else None

    # --- reading -----------------------------------------------------------

    async def get_page(
        self,
        path: str = "",
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        *,
        url: str | None = None,
    ) -> Page:
        """GET a list endpoint (``path`` under the instance, or a ``url`` from a
        ``Link`` header); the JSON array with its paging links and rate limit."""
        if url is not None:
            if not _same_origin(url, self.instance):
                raise MastodonError(
                    "the server's paging link points to another server; not followed",
                    permanent=True,
                )
            target = url
        else:
            target = self.instance + path
        response = await _send(self._http, "GET", target, params=params, headers=self._headers())
        body = _json(response)
        if not isinstance(body, list):
            raise MastodonError(
                "the server's answer is not a list (is this a Mastodon-API server?)",
                permanent=True,
                status=response.status_code,
            )
        links = {
            rel: link["url"]
            for rel, link in response.links.items()
            if isinstance(rel, str) and isinstance(link.get("url"), str)
        }
        remaining, reset = _rate_limit(response)
        return Page(body, links, remaining, reset)

    async def get_json(
        self, path: str, params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None
    ) -> Any:
        """GET one JSON document under the instance."""
        response = await _send(
            self._http, "GET", self.instance + path, params=params, headers=self._headers()
        )
        return _json(response)

    async def lookup(self, acct: str) -> dict[str, Any]:
        """The account ``user`` (local) or ``user@domain``, as this instance knows it."""
        account = await self.get_json("/api/v1/accounts/lookup", {"acct": acct})
        if not isinstance(account, dict) or not isinstance(account.get("id"), str | int):
            raise MastodonError("unexpected answer to an account lookup", permanent=True)
        return account

    async def link_timeline(self, url: str, *, limit: int = 40) -> Page | None:
        """Posts about an article (``/api/v1/timelines/link``, Mastodon 4.3+): who else
        shares it.  None when the instance has nothing for that link or lacks the
        endpoint (it answers 404 for links that are not trending)."""
        try:
            return await self.get_page("/api/v1/timelines/link", {"url": url, "limit": str(limit)})
        except MastodonError as exc:
            if exc.status in (404, 410, 422):
                return None
            raise
