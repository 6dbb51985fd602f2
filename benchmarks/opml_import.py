"""OPML import at growing sizes: is each side linear?

    python benchmarks/opml_import.py [--parse 5000,10000,50000] [--store 500,1000,2000]

Two tables.  ``read_opml`` (parse, repair, URL checks, tags) on synthetic lists of N
outlines in folders of 100; and the whole import into an empty store (``import_opml``:
parse + ``Store.add_feeds``), at smaller sizes because that part is what grows
quadratically.  The "x" columns are ratios to the first row of the same run: for a
linear step, time ratio = size ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def synthetic_opml(n: int) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><body>']
    for folder in range(max(1, n // 100)):
        parts.append(f'<outline text="folder {folder}">')
        for i in range(min(100, n - folder * 100)):
            k = folder * 100 + i
            parts.append(
                f'<outline type="rss" text="Feed {k}" xmlUrl="https://site{k}.example/feed.xml"'
                f' htmlUrl="https://site{k}.example/" category="/tag{k % 7}"/>'
            )
        parts.append("</outline>")
    parts.append("</body></opml>")
    return "\n".join(parts).encode()


def timed(func: object, *args: object) -> float:
    began = time.perf_counter()
    func(*args)  # type: ignore[operator]
    return time.perf_counter() - began


def table(title: str, rows: list[tuple[int, float]]) -> None:
    print(f"\n{title}")
    print(f"{'outlines':>9} {'seconds':>9} {'µs/outline':>11} {'size x':>7} {'time x':>7}")
    n0, t0 = rows[0]
    for n, t in rows:
        print(f"{n:>9} {t:>9.2f} {t / n * 1e6:>11.0f} {n / n0:>7.1f} {t / t0:>7.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parse", default="5000,10000,50000")
    ap.add_argument("--store", default="500,1000,2000")
    args = ap.parse_args()

    from veille.store.store import Store
    from veille.subscriptions.opml import read_opml
    from veille.subscriptions.subscribe import import_opml

    parse_rows = []
    for n in (int(x) for x in args.parse.split(",") if x):
        parse_rows.append((n, timed(read_opml, synthetic_opml(n))))
    table("read_opml (the OPML side)", parse_rows)

    store_rows = []
    for n in (int(x) for x in args.store.split(",") if x):
        with tempfile.TemporaryDirectory(prefix="veille-opml-bench-") as d:
            opml = Path(d) / "list.opml"
            opml.write_bytes(synthetic_opml(n))
            store = Store(Path(d) / "store")
            try:
                store_rows.append((n, timed(import_opml, store, opml)))
            finally:
                store.close()
    table("import_opml into an empty store (parse + Store.add_feeds)", store_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
