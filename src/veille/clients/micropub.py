"""Post bookmarks to a Micropub endpoint (a personal site: WordPress, Known, django-indieweb...).

Form-encoded on purpose: every Micropub server must accept it, JSON is optional.
`bookmark-of` is IndieWeb vocabulary (not in the REC) but is what sites render as
"bookmarked <link>" with the comment as content.

Only what the protocol calls success is success: a create is done when the
endpoint answers 201 Created or 202 Accepted.  Redirects are not followed by
httpx here: a 307/308 is followed by hand with the same method and body, at
most `MAX_HOPS` times, and only to the same origin or its https upgrade (the
token goes along); a 301/302/303 would turn the POST into a GET, so it is a
failure that says where the endpoint moved.  The token is never put in a
message: any server text is redacted before it becomes an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from veille.accounts.redact import Redactor
from veille.clients.errors import RemoteError
from veille.clients.mastodon import open_client
from veille.net.httputil import clean_message, error_text, is_transient, retry_after_seconds

CREATED = (201, 202)
FOLLOW = (307, 308)  # the same request again, method and body kept
MAX_HOPS = 3
_DEFAULT_PORTS = {"http": 80, "https": 443}


class MicropubError(RemoteError):
    """A failed Micropub call."""


def _port(url: httpx.URL) -> int | None:
    return url.port or _DEFAULT_PORTS.get(url.scheme)


def may_follow(origin: httpx.URL, target: httpx.URL) -> bool:
    """Whether a 307/308 from ``origin`` to ``target`` may carry the token along:
    the same scheme, host and port, or the same host moved from http to https
    (default ports)."""
    if target.host.lower() != origin.host.lower():
        return False
    if target.scheme == origin.scheme:
        return _port(target) == _port(origin)
    return (
        origin.scheme == "http"
        and target.scheme == "https"
        and _port(origin) == 80
        and _port(target) == 443
    )


def _where(response: httpx.Response) -> httpx.URL | None:
    location = response.headers.get("location")
    if not location:
        return None
    try:
        return response.url.join(location)
    except httpx.InvalidURL:
        return None


def _redirect_error(response: httpx.Response, target: httpx.URL | None, redact: Redactor) -> str:
    status = f"{response.status_code} {response.reason_phrase}".strip()
    if target is None:
        return f"the endpoint answered {status} without saying where to: nothing was posted"
    where = clean_message(redact(str(target)))
    if response.status_code in FOLLOW:
        return (
            f"the endpoint redirects to {where}, another site ({status}): not followed with "
            "your token, nothing was posted; update the account's endpoint if that is right"
        )
    return (
        f"the endpoint moved to {where} ({status}): nothing was posted; "
        "update the account's endpoint"
    )


async def _send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    token: str,
    *,
    success: tuple[int, ...],
    **kwargs: Any,
) -> httpx.Response:
    """One Micropub call, following safe 307/308s; anything but ``success`` raises."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    redact = Redactor([token])
    target = httpx.URL(url)
    for _hop in range(MAX_HOPS + 1):
        try:
            response = await client.request(
                method, target, headers=headers, follow_redirects=False, **kwargs
            )
        except httpx.TimeoutException:
            raise MicropubError("timed out", permanent=False) from None
        except httpx.HTTPError as exc:
            raise MicropubError(f"network error: {type(exc).__name__}", permanent=False) from None
        status = response.status_code
        if 300 <= status < 400:
            moved = _where(response)
            if status in FOLLOW and moved is not None and may_follow(target, moved):
                target = moved
                continue
            raise MicropubError(
                _redirect_error(response, moved, redact), permanent=True, status=status
            )
        if status >= 400:
            transient = is_transient(status)
            raise MicropubError(
                redact(error_text(response)),
                permanent=not transient,
                status=status,
                retry_after=(
                    retry_after_seconds(response.headers, status=status) if transient else None
                ),
            )
        if status not in success:
            want = " or ".join(str(s) for s in success)
            raise MicropubError(
                f"the endpoint answered {status} {response.reason_phrase}, not {want}: nothing "
                "shows the post was made; check your site and the account's endpoint",
                permanent=True,
                status=status,
            )
        return response
    raise MicropubError(
        f"more than {MAX_HOPS} redirects from {clean_message(redact(url))}: nothing was posted",
        permanent=True,
    )


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

    The URL comes from `Location` made absolute against the endpoint.  A server that
    created the post (201/202) without a `Location` yields "" rather than an error, so
    that a caller does not retry and post twice.
    """
    data: dict[str, str | list[str]] = {"h": "entry", "bookmark-of": url, "content": comment}
    if title:
        data["name"] = title
    if any(categories):
        data["category[]"] = [c for c in categories if c]
    async with open_client(client) as http:
        response = await _send(http, "POST", endpoint, token, success=CREATED, data=data)
    location = _where(response)
    return str(location) if location is not None else ""


async def config(
    endpoint: str, token: str, *, client: httpx.AsyncClient | None = None
) -> dict[str, Any]:
    """The endpoint's `q=config`: syndication targets, media endpoint, post types."""
    async with open_client(client) as http:
        response = await _send(http, "GET", endpoint, token, success=(200,), params={"q": "config"})
    try:
        body = response.json()
    except ValueError:
        raise MicropubError(
            "q=config did not answer JSON", permanent=True, status=response.status_code
        ) from None
    if not isinstance(body, dict):
        raise MicropubError("q=config did not answer an object", permanent=True)
    return body
