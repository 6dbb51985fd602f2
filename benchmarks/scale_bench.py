"""Does veille's cost follow what changed, not the size of the store?

    python benchmarks/scale_bench.py [--big 100000] [--feeds 200]

Two stores hold the same 200 served feeds (5 items each, fetched once); the big
one also holds ~100,000 items of other feeds that are not due.  Then every
served feed gains 5 items, and `veille refresh --due` fetches the 200 changed
feeds into each store.  Targets (issue 11): the refresh at 100k is no slower
than at 1k; `veille items --json` at 100k < 2 s.  Commands run as real
processes; times are the best of 3 (the machines here are shared and noisy).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.store.store import Store
from veille.util.dates import iso

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.servers.feeds import make_feed  # noqa: E402


class Served(BaseHTTPRequestHandler):
    items = 5
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        n = int(self.path.rsplit("/", 1)[1].split(".")[0])
        body = make_feed(n, self.items)
        etag = f'"{hashlib.sha1(body).hexdigest()}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's (this one's, big).
OPEN_RSS = """
import re, sys
from veille.store.store import Store
s = Store(sys.argv[1], autoflush=False)
hwm = re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1)
print(len(s), int(hwm) // 1024)
"""


def veille(home: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "VEILLE_HOME": str(home)}
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "veille", *args], env=env, capture_output=True,
                       text=True)  # fmt: skip
    return time.perf_counter() - t, p


def add_bulk(home: Path, n_items: int) -> None:
    """~n_items of other feeds, not due for a year: the store's bulk."""
    with Store(home / "data" / "store", autoflush=False) as store:
        later = iso(datetime.now(UTC) + timedelta(days=365))
        per_feed = 250
        body = "<p>" + "An ordinary paragraph of an ordinary article. " * 8 + "</p>"
        for f in range(n_items // per_feed):
            feed, _ = store.add_feed(f"https://bulk{f}.example/feed", title=f"Bulk {f}")
            start = datetime(2026, 6, 1, tzinfo=UTC)
            entries = [
                ParsedEntry(
                    key=f"b{f}-{i}",
                    title=f"Bulk {f} item {i}",
                    link=f"https://bulk{f}.example/{i}",
                    published=iso(start - timedelta(hours=i * 5 + f)),
                    summary="An ordinary paragraph of an ordinary article.",
                    content=body,
                )
                for i in range(per_feed)
            ]
            store.upsert_entries(feed.id, ParsedFeed(entries=entries),
                                 feed_fields={"next_poll": later, "status": "ok"})  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--keep", type=Path, help="build the stores here and keep them (profiling)")
    args = ap.parse_args()
    import veille as pkg

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(pkg.__file__).parent)],
                   check=True)  # fmt: skip
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Served)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="veille-scale-"))
    rows = []
    try:
        opml = tmp / "s.opml"
        opml.write_text('<?xml version="1.0"?><opml version="2.0"><body>' + "".join(
            f'<outline xmlUrl="{base}/feed/{n}.xml"/>' for n in range(args.feeds)
        ) + "</body></opml>")  # fmt: skip
        homes = {"1k": tmp / "small", "100k": tmp / "big"}
        for name, home in homes.items():
            veille(home, "import", str(opml))
            if name == "100k":
                add_bulk(home, args.big)
            Served.items = 5
            veille(home, "refresh", "--due")
        timings: dict[str, list[float]] = {"1k": [], "100k": []}
        for round_ in range(3):
            Served.items = 10 + 5 * round_  # every served feed gains 5 items
            for name, home in homes.items():
                # Each round makes the feeds due again and times the refresh.
                with Store(home / "data" / "store", autoflush=False) as store:
                    for f in store.feeds():
                        if f.url.startswith(base):
                            store.update_feed(f.id, next_poll=None)
                t, p = veille(home, "refresh", "--due")
                timings[name].append(t)
                print(f"round {round_ + 1}, {name}: {t:.2f} s  {p.stdout.strip()}")
        small, big = min(timings["1k"]), min(timings["100k"])
        rows.append(("refresh, 200 changed feeds, 1k-item store", f"{small:.2f} s", ""))
        rows.append(("refresh, 200 changed feeds, 100k-item store", f"{big:.2f} s",
                     f"ratio {big / small:.2f}x (target <= 1.0x, noise ~10%)"))  # fmt: skip
        big_home = homes["100k"]
        js = []
        for _ in range(3):
            t, p = veille(big_home, "items", "--json")
            js.append(t)
        n = len(p.stdout.splitlines())
        rows.append((f"items --json, {n} items", f"{min(js):.2f} s", "target < 2 s"))
        t5 = min(veille(big_home, "items", "--limit", "5")[0] for _ in range(3))
        rows.append(("items --limit 5 at that size", f"{t5:.2f} s", ""))
        rss = subprocess.run([sys.executable, "-c", OPEN_RSS, str(big_home / "data" / "store")],
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
        rows.append((f"store opened whole, {rss[0]} items: peak RSS", f"{rss[1]} MB", ""))
    finally:
        httpd.shutdown()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    w = max(len(r[0]) for r in rows)
    print()
    for name, value, note in rows:
        print(f"{name:<{w}}  {value:>8}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
