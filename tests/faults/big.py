"""Big but legal input (issue 8): what a real user may well have, at the sizes that hurt.

* `veille import` of an OPML file of 50,000 outlines: within 60 s;
* one feed of 100,000 items (5 MB): `refresh` within 120 s under 800 MB of memory
  (every veille process together), then `items --limit 5` within 10 s;
* an item whose body is one 9.5 MB line: the app answers keys within 5 s (app.py).

Times and memory are the table's business (benchmarks/faults.py); tests/test_big_input.py
runs the same inputs and asserts only that the commands finish with the right result.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from xml.sax.saxutils import quoteattr

from tests.faults import Row, scenario
from tests.faults.home import Home, Ran
from tests.faults.procs import MemorySampler

OPML_OUTLINES = 50_000
OPML_BOUND_S = 60.0
FEED_ITEMS = 100_000
REFRESH_BOUND_S = 120.0
MEMORY_BOUND_MB = 800.0
LIMIT_BOUND_S = 10.0
FIRST_FIVE = ["t0", "t1", "t2", "t3", "t4"]  # undated: the feed's own order, first first


def big_opml(n: int = OPML_OUTLINES) -> bytes:
    """An OPML 2.0 subscription list of ``n`` feeds in folders of 100 (folders are tags)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">',
             "<head><title>A big list</title></head><body>"]  # fmt: skip
    for folder in range(0, n, 100):
        parts.append(f'<outline text="Folder {folder // 100}">')
        for k in range(folder, min(n, folder + 100)):
            url = f"https://site{k}.example/feeds/{k}.xml"
            parts.append(
                f"<outline type='rss' text={quoteattr(f'Site {k} & co')} xmlUrl={quoteattr(url)}"
                f" htmlUrl='https://site{k}.example/'/>"
            )
        parts.append("</outline>")
    parts.append("</body></opml>")
    return "\n".join(parts).encode()


def huge_feed(n: int = FEED_ITEMS) -> bytes:
    """RSS with ``n`` minimal undated items (~50 bytes each: 5 MB at 100,000), newest
    first as feeds list them: ``items`` must list t0, t1... first."""
    now = time.time()
    head = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Huge feed</title><link>https://huge.example/</link><description>x</description>"
        f"<lastBuildDate>{formatdate(now, usegmt=True)}</lastBuildDate>"
    )
    items = "".join(f"<item><title>t{i}</title><guid>g{i}</guid></item>" for i in range(n))
    return (head + items + "</channel></rss>").encode()


@dataclass
class Imported:
    ran: Ran
    feeds: int


def import_big_opml(home: Home, n: int = OPML_OUTLINES) -> Imported:
    path = home.root / "big.opml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(big_opml(n))
    ran = home.veille("import", str(path), timeout=600)
    feeds = len(home.veille("feeds", "--json", timeout=600).lines)
    return Imported(ran, feeds)


@dataclass
class Refreshed:
    ran: Ran
    peak_mb: float
    stored: int
    limit: Ran


def refresh_huge_feed(home: Home, url: str) -> Refreshed:
    home.veille("add", url, "--no-fetch")
    with MemorySampler(home.root) as mem:
        ran = home.veille("refresh", timeout=900)
    stored = sum(f["items"] for f in home.feeds().values())
    limit = home.veille("items", "--limit", "5", timeout=300)
    return Refreshed(ran, mem.peak_mb, stored, limit)


@contextmanager
def serving_huge_feed(n: int = FEED_ITEMS) -> Iterator[str]:
    from tests.faults.app import serve_bytes

    with serve_bytes(huge_feed(n)) as url:
        yield url


@scenario(ci=False)
def big_opml_import() -> list[Row]:
    """`veille import` of 50,000 outlines within 60 s. CI: tests/test_big_input.py."""
    with Home() as home:
        got = import_big_opml(home)
    ran = got.ran
    return [
        Row(
            f"import of {OPML_OUTLINES:,} outlines",
            f"exit {ran.code} in {ran.seconds:.1f} s (bound {OPML_BOUND_S:g} s); "
            f"{got.feeds:,} feeds; {ran.out.strip()[:60]!r}",
            ran.code == 0 and got.feeds == OPML_OUTLINES and ran.seconds <= OPML_BOUND_S,
        )
    ]


@scenario(ci=False)
def big_feed() -> list[Row]:
    """One feed of 100,000 items (5 MB): refresh within 120 s under 800 MB, then
    `items --limit 5` within 10 s. CI: tests/test_big_input.py."""
    with Home() as home, serving_huge_feed() as url:
        got = refresh_huge_feed(home, url)
    ran, limit = got.ran, got.limit
    newest = [line.split()[-1] for line in limit.lines]
    return [
        Row(
            f"refresh of a {FEED_ITEMS:,}-item feed",
            f"exit {ran.code} in {ran.seconds:.1f} s (bound {REFRESH_BOUND_S:g} s); "
            f"{got.stored:,} items stored",
            ran.code == 0 and got.stored == FEED_ITEMS and ran.seconds <= REFRESH_BOUND_S,
        ),
        Row(
            f"refresh of a {FEED_ITEMS:,}-item feed: memory",
            f"peak {got.peak_mb:.0f} MB, all veille processes (bound {MEMORY_BOUND_MB:g} MB)",
            0 < got.peak_mb <= MEMORY_BOUND_MB,
        ),
        Row(
            f"`items --limit 5` over {FEED_ITEMS:,} items",
            f"exit {limit.code} in {limit.seconds:.1f} s (bound {LIMIT_BOUND_S:g} s); {newest}",
            limit.code == 0 and newest == FIRST_FIVE and limit.seconds <= LIMIT_BOUND_S,
        ),
    ]
