"""The network view at scale: links several people you follow shared, ranked.

    python benchmarks/network_bench.py [--items 100000] [--posts 5000] [--keep DIR]

A store of ``--items`` feed items (built as store_bench.py builds them) plus a
Mastodon source whose ``--posts`` posts link to ~``--posts``/2 articles: two posts
per article, from accounts chosen among 300, half of the articles being feed items
already (the post becomes one more sighting), half known only from posts; one
article in fifty is shared by ten accounts.  Times (best of 5, this process):

* finding the network view's items: a walk of every item (``Store.ids``) against
  the items with sightings only (``Store.view_ids``, which ``Store.count`` uses);
* ranking them by sharers (``triage.views.rank_ids``);
* the app's first rows of the view (``tui.services.views.first_rows``);
* the item pane's "seen via" section of an article shared by ten accounts.

Compare rows within one run; the machine's load moves them all.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_bench import build

from veille.domain.entries import ParsedEntry
from veille.domain.views import BUILTIN_VIEWS
from veille.store.store import Store
from veille.triage.views import rank_ids, view_filter
from veille.util.dates import iso


def add_posts(store: Store, n_posts: int, n_items: int) -> None:
    rnd = random.Random(11)
    feed, _ = store.add_feed("mastodon:home", kind="mastodon", account="main", title="Home")
    now = datetime.now(UTC)
    entries = []
    per_feed = 200
    for n in range(n_posts):
        k = n // 2
        if k % 2 and n_items:
            f, i = divmod(rnd.randrange(n_items), per_feed)
            link = f"https://site{f}.example/posts/{i}?utm_source=mastodon"
        else:
            link = f"https://news.example/{k}"
        sharers = 10 if k % 50 == 0 else 2
        for s in range(1 if sharers == 2 else 5):
            user = rnd.randrange(300)
            entries.append(
                ParsedEntry(
                    key=f"https://m.example/users/u{user}/statuses/{n}-{s}",
                    link=link,
                    kind="post",
                    handle=f"@u{user}@m.example",
                    author=f"User {user}",
                    post_url=f"https://m.example/@u{user}/{n}-{s}",
                    post_text=f"Worth reading, says user {user}: " + "words " * 20,
                    published=iso(now - timedelta(hours=rnd.randrange(20))),
                )
            )
    for start in range(0, len(entries), 500):
        store.upsert_entries(feed.id, entries[start : start + 500])
    store.flush()


def best(fn: Callable[[], object], runs: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--posts", type=int, default=5_000)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the store here")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="veille-network-")) / "store"
    if not (root / "feeds.json").exists():
        build(root, args.items)
        with Store(root) as s:
            add_posts(s, args.posts, args.items)
    store = Store(root)
    store.load_rest()
    network = next(v for v in BUILTIN_VIEWS if v.name == "network")
    week = next(v for v in BUILTIN_VIEWS if v.name == "network-week")
    rows: list[tuple[str, str]] = [("items in the store", f"{len(store):,}")]
    social = len(store._ix.social)
    rows.append(("items with sightings", f"{social:,}"))
    for view in (network, week):
        flt = view_filter(view, store)
        t_walk, walked = best(lambda flt=flt: list(store.ids(flt)))
        t_cands, found = best(lambda flt=flt: list(store.view_ids(flt)))
        assert walked == found, "the two ways disagree"
        t_rank, _ = best(lambda found=found: rank_ids(store, found, "sharers"))
        rows.append((f"{view.label}: items", f"{len(found):,}"))
        rows.append(("  walk of every item (Store.ids)", f"{t_walk * 1000:.1f} ms"))
        rows.append(("  items with sightings (Store.view_ids)", f"{t_cands * 1000:.1f} ms"))
        rows.append(("  rank by sharers (rank_ids)", f"{t_rank * 1000:.1f} ms"))
        rows.append(("  ratio walk / candidates", f"{t_walk / max(t_cands, 1e-9):.1f}x"))
    from veille.tui.services.views import first_rows, spec_for_view

    spec = spec_for_view(network, store)  # as the app makes it: the view's filter resolved
    t_first, first = best(lambda: first_rows(store, spec))
    rows.append(("app: first rows of the network view", f"{t_first * 1000:.1f} ms"))
    rows.append(("  complete at once (no thread needed)", str(first.rest is None)))
    from veille.tui.widgets.sightings import SeenVia

    top = max(store.get_items(found), key=lambda i: i.sharers)
    section = SeenVia()
    section.bind(store)
    t_section, lines = best(lambda: section.lines(top, 80, []))
    rows.append((f"item pane: seen via {top.sharers} accounts", f"{t_section * 1000:.2f} ms"))
    rows.append(("  rows drawn", str(len(lines))))
    store.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'network view':<{width}}  figure")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
