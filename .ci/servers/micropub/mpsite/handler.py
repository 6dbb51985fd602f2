"""A Micropub content handler that stores posts in a JSON file the tests can read."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from indieweb.handlers import MicropubContentHandler, MicropubEntry

_lock = threading.Lock()


def _load() -> list[dict[str, Any]]:
    try:
        return json.loads(settings.MICROPUB_POSTS_FILE.read_text("utf-8"))
    except FileNotFoundError:
        return []


def _save(posts: list[dict[str, Any]]) -> None:
    path = settings.MICROPUB_POSTS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(posts, indent=1), "utf-8")
    os.replace(tmp, path)


class JsonFileHandler(MicropubContentHandler):
    """Creates entries only; edits are out of scope for veille's tests."""

    def create_entry(self, properties: dict[str, list[Any]], user: Any) -> MicropubEntry:
        with _lock:
            posts = _load()
            url = f"/entries/{len(posts) + 1}/"
            posts.append({"url": url, "owner": user.get_username(), "properties": properties})
            _save(posts)
        return MicropubEntry(url=url, properties=properties)

    def _find(self, url: str) -> dict[str, Any] | None:
        return next((p for p in _load() if url.endswith(p["url"])), None)

    def get_entry(self, url: str, user: Any) -> MicropubEntry | None:
        post = self._find(url)
        return MicropubEntry(url=post["url"], properties=post["properties"]) if post else None

    def update_entry(self, url: str, updates: dict[str, Any], user: Any) -> MicropubEntry:
        raise ValueError("updates are not supported by this test server")

    def delete_entry(self, url: str, user: Any) -> None:
        raise ValueError("deletes are not supported by this test server")

    def undelete_entry(self, url: str, user: Any) -> MicropubEntry:
        raise ValueError("undeletes are not supported by this test server")

    def get_config(self, user: Any) -> dict[str, Any]:
        config = super().get_config(user)
        config["syndicate-to"] = [{"uid": "https://social.example/@me", "name": "@me on social"}]
        return config


def entry_view(request: HttpRequest, number: int) -> JsonResponse:
    """The page a Location header points at, so a client can follow it."""
    posts = _load()
    if not 1 <= number <= len(posts):
        raise Http404("no such entry")
    return JsonResponse(posts[number - 1])
