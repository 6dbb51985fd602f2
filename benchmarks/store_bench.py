"""Store figures at 100,000 items: open time, state-change cost, time to disk.

    python benchmarks/store_bench.py [--items 100000] [--keep DIR]

Targets (issue 2): a state change < 5 ms on the caller's thread and durable
within 1 s; opening a 100,000-item store < 0.5 s.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.store.partition import file_sig
from veille.store.store import Store
from veille.util.dates import iso

WORDS = [
    "veille",
    "curator",
    "feed",
    "context",
    "reader",
    "share",
    "comment",
    "terminal",
    "keyboard",
    "triage",
    "article",
    "research",
    "climate",
    "policy",
    "model",
    "python",
    "release",
    "security",
    "open",
    "data",
]


def build(root: Path, n_items: int, per_feed: int = 200) -> float:
    rnd = random.Random(7)
    t = time.perf_counter()
    s = Store(root, autoflush=False)
    now = datetime.now(UTC)
    n_feeds = max(1, n_items // per_feed)
    for f in range(n_feeds):
        feed, _ = s.add_feed(f"https://site{f}.example/feed", tags=[f"t{f % 10}"])
        entries = []
        for i in range(per_feed):
            words = " ".join(rnd.choice(WORDS) for _ in range(45))
            when = now - timedelta(minutes=rnd.randrange(90 * 24 * 60))  # keep_days = 90
            entries.append(
                ParsedEntry(
                    key=f"site{f}-{i}",
                    title=" ".join(rnd.choice(WORDS) for _ in range(8)).capitalize(),
                    link=f"https://site{f}.example/posts/{i}",
                    author=f"Author {i % 9}",
                    published=iso(when),
                    summary=words[:300],
                    content=f"<p>{words}</p>" * 6,
                    categories=[rnd.choice(WORDS)],
                )
            )
        s.upsert_entries(feed.id, ParsedFeed(title=f"Feed {f}", entries=entries))
    s.flush()
    s.close()
    return time.perf_counter() - t


OPEN = """
import time, sys
t0 = time.perf_counter()
from veille.store.store import Store
from veille.util.dates import iso
t = time.perf_counter()
s = Store(sys.argv[1], autoflush=False)
n = len(s)
ids = s.ordered_ids()
t1 = time.perf_counter()
status = open("/proc/self/status").read()
hwm = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(f"{t1 - t:.3f} {t1 - t0:.3f} {n} {hwm:.0f}")
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the store here")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="veille-store-")) / "store"
    rows: list[tuple[str, str, str]] = []
    if not (root / "feeds.json").exists():
        rows.append(("build (not a target)", f"{build(root, args.items):.1f} s", ""))
    size = sum(p.stat().st_size for p in root.rglob("*.json"))
    items_size = sum(p.stat().st_size for p in (root / "items").glob("*.json"))
    rows.append(
        ("files on disk", f"{size / 2**20:.0f} MiB ({items_size / 2**20:.0f} MiB light)", "")
    )

    opens, with_import = [], []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", OPEN, str(root)], capture_output=True, text=True, check=True
        ).stdout.split()
        opens.append(float(out[0]))
        with_import.append(float(out[1]))
    rows.append(
        (f"open + sort {out[2]} items (best of 3)", f"{min(opens) * 1000:.0f} ms", "< 500 ms")
    )
    rows.append(("  the same with imports", f"{min(with_import) * 1000:.0f} ms", ""))
    rows.append(("peak RSS of a process that opens it", f"{out[3]} MB", ""))

    s = Store(root, flush_delay=0.2)
    ids = s.ordered_ids()
    rnd = random.Random(1)
    costs = []
    for _ in range(2000):
        iid = rnd.choice(ids)
        t = time.perf_counter()
        s.set_state([iid], read=rnd.random() < 0.5)
        costs.append(time.perf_counter() - t)
        if len(costs) % 200 == 0:
            time.sleep(0.3)  # let the flusher run between bursts, as between keypresses
    costs.sort()
    rows.append(("state change, median", f"{statistics.median(costs) * 1000:.3f} ms", "< 5 ms"))
    rows.append(("state change, p99", f"{costs[int(len(costs) * 0.99)] * 1000:.3f} ms", "< 5 ms"))
    rows.append(("state change, max", f"{costs[-1] * 1000:.3f} ms", ""))

    lags = []
    for _ in range(10):
        time.sleep(0.5)
        iid = rnd.choice(ids)
        part = s._ix.where[iid].path
        before = file_sig(part)
        t = time.perf_counter()
        s.set_state([iid], starred=True)
        while file_sig(part) == before:
            time.sleep(0.002)
        lags.append(time.perf_counter() - t)
    rows.append(("on disk after a change, max of 10", f"{max(lags) * 1000:.0f} ms", "< 1000 ms"))
    s.close()

    print(f"\nveille store with {args.items} items")
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'value':>22}  target")
    for name, value, target in rows:
        print(f"{name:<{w}}  {value:>22}  {target}")
    if not args.keep:
        shutil.rmtree(root.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
