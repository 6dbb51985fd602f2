"""Realistic feeds on 127.0.0.1 for refresh, crash and signal tests.

Each item carries ~2 KB of HTML (paragraphs, a link, emphasis, code), like the
shared benchmark feeds: light one-line bodies would hide the cost of parsing.
Served with ETag and Last-Modified, so a second poll is a 304.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOREM = (
    "Veille means watch: curators read a lot so that others need not. "
    "This paragraph stands for the body of a real article, with <a href='https://example.com/x'>"
    "a link</a>, <em>emphasis</em> and <code>code</code>. "
)
LAST_MODIFIED = formatdate(1_790_000_000, usegmt=True)


def make_feed(n: int, items: int) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
        f"<title>Synthetic feed {n}</title><link>https://site{n}.example/</link>",
        "<description>test</description>",
    ]
    for i in range(items):
        body = "".join(f"<p>{LOREM} ({n}.{i}.{k})</p>" for k in range(9))
        parts.append(
            f"<item><title>Feed {n} item {i}: a headline of ordinary length</title>"
            f"<link>https://site{n}.example/posts/{i}</link><guid>site{n}-{i}</guid>"
            f"<pubDate>Mon, {1 + i % 28:02d} Oct 2026 10:{i % 60:02d}:00 GMT</pubDate>"
            f"<category>topic{i % 5}</category>"
            f"<description><![CDATA[{body}]]></description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


class _Handler(BaseHTTPRequestHandler):
    feeds: dict[str, tuple[bytes, str]] = {}
    delay = 0.0
    served: list[str] = []  # paths asked for, in order: how far a refresh got
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.served.append(self.path)
        if self.delay:
            time.sleep(self.delay)  # a slow server: a refresh that takes a while
        entry = self.feeds.get(self.path)
        if entry is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, etag = entry
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class FeedURLs(list[str]):
    """The served feeds' URLs, and the paths the server was asked for so far."""

    served: list[str]


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client killed mid-answer (the crash and signal tests do it on purpose) is
        no error worth a traceback on the test run's stderr."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve_feeds(n_feeds: int, n_items: int, *, delay: float = 0.0) -> Iterator[FeedURLs]:
    """Serve ``n_feeds`` feeds of ``n_items`` items (each answer ``delay`` s late);
    yields their URLs (with ``.served``, the requests so far)."""
    handler = type("Feeds", (_Handler,), {"feeds": {}, "delay": delay, "served": []})
    for n in range(n_feeds):
        body = make_feed(n, n_items)
        handler.feeds[f"/feed/{n}.xml"] = (body, f'"{hashlib.sha1(body).hexdigest()}"')
    httpd = _Server(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.request_queue_size = 256
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    urls = FeedURLs(f"{base}/feed/{n}.xml" for n in range(n_feeds))
    urls.served = handler.served
    try:
        yield urls
    finally:
        httpd.shutdown()
        httpd.server_close()
