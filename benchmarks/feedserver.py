"""Synthetic feeds served on 127.0.0.1 with ETag/Last-Modified, for the benchmarks.

Run as a module to serve: ``python benchmarks/feedserver.py FEEDS ITEMS`` prints
the base URL on its first line and serves until stdin closes.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOREM = (
    "Veille means watch: curators read a lot so that others need not. "
    "This paragraph stands for the body of a real article, with <a href='https://example.com/x'>"
    "a link</a>, <em>emphasis</em> and <code>code</code>. "
)


def make_feed(n: int, items: int) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
        f"<title>Synthetic feed {n}</title><link>https://site{n}.example/</link>",
        "<description>benchmark</description>",
    ]
    for i in range(items):
        body = "".join(f"<p>{LOREM} ({n}.{i}.{k})</p>" for k in range(9))
        day = 1 + (i % 28)
        parts.append(
            f"<item><title>Feed {n} item {i}: a headline of ordinary length</title>"
            f"<link>https://site{n}.example/posts/{i}</link><guid>site{n}-{i}</guid>"
            f"<pubDate>{['Mon', 'Tue', 'Wed'][i % 3]}, {day:02d} Oct 2026 10:{i % 60:02d}:00 GMT"
            f"</pubDate><author>author{i % 7}@site{n}.example (Author {i % 7})</author>"
            f"<category>topic{i % 5}</category>"
            f"<description><![CDATA[{body}]]></description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


class FeedHandler(BaseHTTPRequestHandler):
    feeds: dict[str, tuple[bytes, str]] = {}
    last_modified = formatdate(1_790_000_000, usegmt=True)
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        entry = self.feeds.get(self.path)
        if entry is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, etag = entry
        if self.headers.get("If-None-Match") == etag or (
            self.headers.get("If-Modified-Since") == self.last_modified
        ):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", self.last_modified)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(n_feeds: int, n_items: int) -> tuple[ThreadingHTTPServer, list[str]]:
    FeedHandler.feeds = {}
    for n in range(n_feeds):
        body = make_feed(n, n_items)
        FeedHandler.feeds[f"/feed/{n}.xml"] = (body, f'"{hashlib.sha1(body).hexdigest()}"')
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FeedHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    return httpd, [f"{base}/feed/{n}.xml" for n in range(n_feeds)]


if __name__ == "__main__":
    httpd, urls = serve(int(sys.argv[1]), int(sys.argv[2]))
    print(urls[0].rsplit("/feed/", 1)[0], flush=True)
    sys.stdin.read()
    httpd.shutdown()
