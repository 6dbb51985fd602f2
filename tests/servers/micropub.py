"""A genuine Micropub endpoint for tests: django-indieweb on sqlite, on a free 127.0.0.1 port.

Install it with `.ci/servers/micropub/setup.sh` (its own venv under .cache/, so Django
never becomes a veille dependency). The site's handler stores posts in posts.json,
which `MicropubServer.posts()` reads back.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.servers import stop

from .mastodon import missing

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / ".ci" / "servers" / "micropub"
PYTHON = REPO / ".cache" / "micropub-venv" / "bin" / "python"


class MicropubServer(NamedTuple):
    endpoint: str
    token: str
    posts: Callable[[], list[dict[str, Any]]]


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    """First stdout line, or "" if none within `timeout` (migrate runs first)."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0].strip() if line else ""


@pytest.fixture(scope="session")
def micropub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MicropubServer]:
    """django-indieweb serving /indieweb/micropub/ with a `create update` token."""
    if not PYTHON.exists():
        missing("django-indieweb", ".ci/servers/micropub/setup.sh")
    data = tmp_path_factory.mktemp("micropub")
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(PYTHON), str(SITE / "serve.py"), str(data)],
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready = _read_line(proc, 60)
        if not ready.startswith("READY "):
            pytest.fail(f"micropub server did not start: {ready!r}; see {data / 'server.log'}")
        _, port, token = ready.split()
        posts_file = data / "posts.json"

        def posts() -> list[dict[str, Any]]:
            return json.loads(posts_file.read_text("utf-8")) if posts_file.exists() else []

        yield MicropubServer(f"http://127.0.0.1:{port}/indieweb/micropub/", token, posts)
    finally:
        stop(proc)
        log.close()
