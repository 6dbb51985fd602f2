"""What mute rules, alerts and saved views cost at 100,000 items.

    python benchmarks/rules_bench.py [--items 100000] [--keep DIR]

Builds (or reuses) the store of benchmarks/store_bench.py, copies it, and times
the same operations on a store without rules and on one with a muted feed, a
tag mute, two recorded mutes (title regex, author) and an alert.  Ratios within
one run; nothing here is a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_bench import build

from veille.config import Config
from veille.domain.entries import ParsedEntry
from veille.domain.filter import ItemFilter
from veille.store.store import Store
from veille.triage.views import saved_views, view_counts

OPEN = """
import sys, time
from veille.store.store import Store
t = time.perf_counter()
s = Store(sys.argv[1], autoflush=False)
s.ordered_ids()
print(time.perf_counter() - t)
"""


def best(fn: Callable[[], object], n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def open_time(root: Path) -> float:
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", OPEN, str(root)], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    return min(runs)


def batch(feed_id: str, n: int, tag: str) -> list[ParsedEntry]:
    return [
        ParsedEntry(
            key=f"{tag}-{i}",
            title=f"New model release {i} about python and policy",
            link=f"https://bench.example/{tag}/{i}",
            author=f"Author {i % 9}",
            summary="context reader share comment terminal keyboard " * 5,
        )
        for i in range(n)
    ]


def measure(root: Path, label: str) -> dict[str, float]:
    out: dict[str, float] = {"open (best of 3)": open_time(root)}
    s = Store(root, autoflush=False)
    feed = s.feeds()[0]
    unread = ItemFilter(unread=True)
    out["count(unread) (set algebra)"] = best(lambda: s.count(unread))
    out["list the unread view (walk)"] = best(lambda: list(s.ids(unread)))
    out["first 100 of the All view"] = best(lambda: s.items(ItemFilter(), limit=100))
    out["count(search 'python')"] = best(lambda: s.count(ItemFilter(search="python")))
    out["totals()"] = best(lambda: s.totals(), 50)
    out["counts() per feed"] = best(lambda: s.counts(), 10)
    views = list(saved_views(Config()).values())
    out["view_counts(8 built-in views)"] = best(lambda: view_counts(s, views), 3)
    costs = []
    for k in range(5):
        entries = batch(feed.id, 200, f"{label}{k}")
        t = time.perf_counter()
        s.upsert_entries(feed.id, entries)
        costs.append(time.perf_counter() - t)
    out["upsert 200 new entries (median of 5)"] = statistics.median(costs)
    if label == "rules":
        out["alert_counts()"] = best(lambda: s.alert_counts(), 20)
        out["rule_counts()"] = best(lambda: s.rule_counts(), 3)
    s.close()
    return out


def add_rules(root: Path) -> dict[str, float]:
    s = Store(root, autoflush=False)
    feeds = s.feeds()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    s.update_feed(feeds[1].id, muted=True)
    timings["mute one feed (200 items)"] = time.perf_counter() - t
    t = time.perf_counter()
    s.add_rule("mute", "tag", "t3")
    timings["add tag mute (10% of feeds)"] = time.perf_counter() - t
    t = time.perf_counter()
    _, n = s.add_rule("mute", "title", r"\bsecurity policy\b")
    timings[f"add title-regex mute (scans all, {n} hits)"] = time.perf_counter() - t
    t = time.perf_counter()
    s.add_rule("mute", "author", "Author 3")
    timings["add author mute (scans all)"] = time.perf_counter() - t
    t = time.perf_counter()
    s.add_rule("alert", "text", r"\bclimate (model|data)\b", star=True)
    timings["add text-regex alert (scans unread)"] = time.perf_counter() - t
    s.flush()
    s.close()
    return timings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the base store here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="veille-rules-"))
    base = args.keep or tmp / "base"
    if not (base / "feeds.json").exists():
        print(f"building {args.items} items ... {build(base, args.items):.0f} s", file=sys.stderr)
    plain, ruled = tmp / "plain", tmp / "ruled"
    shutil.copytree(base, plain)
    shutil.copytree(base, ruled)
    adding = add_rules(ruled)
    without = measure(plain, "plain")
    with_rules = measure(ruled, "rules")
    print(f"{'operation':<44} {'no rules':>10} {'5 rules':>10} {'ratio':>7}")
    for key, value in with_rules.items():
        before = without.get(key)
        if before is None:
            print(f"{key:<44} {'':>10} {value * 1000:>8.2f}ms")
        else:
            print(
                f"{key:<44} {before * 1000:>8.2f}ms {value * 1000:>8.2f}ms "
                f"{value / max(before, 1e-9):>6.2f}x"
            )
    print()
    for key, value in adding.items():
        print(f"{key:<44} {value * 1000:>8.1f}ms")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
