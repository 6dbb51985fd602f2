"""Post bookmarks to a Micropub endpoint (a personal site: WordPress, Known, django-indieweb...).

Form-encoded on purpose: every Micropub server must accept it, JSON is optional.
`bookmark-of` is IndieWeb vocabulary (not in the REC) but is what sites render as
"bookmarked <link>" with the comment as content. Errors mirror `MastodonError`:
`permanent` says whether retrying can help. The token is never put in messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin

import httpx

from veille.clients.errors import RemoteError
from veille.clients.mastodon import open_client
from veille.net.httputil import error_text, is_transient, retry_after_seconds


class MicropubError(RemoteError):
    """A failed Micropub call."""


async def _send(
    client: httpx.AsyncClient, method: str, url: str, token: str, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        response = await client.request(method, url, headers=headers, **kwargs)
    except httpx.TimeoutException:
        raise MicropubError("timed out", permanent=False) from None
    except httpx.HTTPError as exc:
        raise MicropubError(f"network error: {type(exc).__name__}", permanent=False) from None
    status = response.status_code
    if status >= 400:
        transient = is_transient(status)
        raise MicropubError(
            error_text(response),
            permanent=not transient,
            status=status,
            retry_after=retry_after_seconds(response.headers, status=status) if transient else None,
        )
    return response


async def post_bookmark(
    endpoint: str,
    token: str,
    *,
    url: str,
    comment: str,
    title: str = "",
    categories: Sequence[str] = (),
    client: httpx.AsyncClient | None = None,
) -> str:
    """Create an h-entry bookmarking `url` with `comment`; returns the new post's URL.

    The URL comes from `Location` made absolute against the endpoint. A server that
    accepted the post (2xx) without a `Location` yields "" rather than an error, so
    that a caller does not retry and post twice.
    """
    data: dict[str, str | list[str]] = {"h": "entry", "bookmark-of": url, "content": comment}
    if title:
        data["name"] = title
    if any(categories):
        data["category[]"] = [c for c in categories if c]
    async with open_client(client) as http:
        response = await _send(http, "POST", endpoint, token, data=data)
    location = response.headers.get("location", "")
    return urljoin(str(response.url), location) if location else ""


async def config(endpoint: str, token: str, *, client: httpx.AsyncClient | None = None) -> dict:
    """The endpoint's `q=config`: syndication targets, media endpoint, post types."""
    async with open_client(client) as http:
        response = await _send(http, "GET", endpoint, token, params={"q": "config"})
    try:
        body = response.json()
    except ValueError:
        raise MicropubError(
            "q=config did not answer JSON", permanent=True, status=response.status_code
        ) from None
    if not isinstance(body, dict):
        raise MicropubError("q=config did not answer an object", permanent=True)
    return body
