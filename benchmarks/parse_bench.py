"""Parse CPU per feed: the feedparser path against the fast path, with the share it takes.

    python benchmarks/parse_bench.py [--feeds 200] [--items 50] [--repeat 3] [--corpus DIR]

Two data sets: FEEDS x ITEMS feeds written by ../shared/bench/gen_feeds.py
(~2 KB of HTML per item, half RSS 2.0, half Atom 1.0) and every XML feed of
the corpus (../shared/corpus/feeds), with the real-world folders also counted
apart from feedparser's and feedvalidator's synthetic test cases.

Two layers are timed, in CPU seconds (best of --repeat):
* "xml layer": ``feedparser.parse()`` against ``fastparse.parse()`` on the
  documents the fast path accepts: the engine's own speed-up;
* "parse_and_hash": what a refresh worker runs per feed (``parse_feed`` plus
  the content hashes), all feeds, with engine="feedparser" against the default
  (fast path, feedparser for what it declines).
"""

from __future__ import annotations

import argparse
import gzip
import io
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import feedparser

from veille.sources.feed import fastparse
from veille.sources.feed.parse import Engine, parse_feed_with
from veille.store.ids import entry_hash

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ("feedparser", "feedvalidator")
HEADERS = {"content-type": "application/xml"}  # what parse.py hands feedparser by default


def _shared() -> Path:
    """../shared next to the main checkout; a git worktree sits one level deeper."""
    for parent in (ROOT.parent, ROOT.parents[1]):
        if (parent / "shared").is_dir():
            return parent / "shared"
    return ROOT.parent / "shared"


def cpu(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def parse_and_hash(bodies: list[bytes], engine: Engine) -> None:
    for body in bodies:
        parsed = parse_feed_with(body, "https://example.org/feed.xml", None, engine)
        assert parsed is not None
        for e in parsed.entries:
            e.content_hash = entry_hash(e)


def xml_feedparser(bodies: list[bytes]) -> None:
    for body in bodies:
        feedparser.parse(
            io.BytesIO(body),
            response_headers=dict(HEADERS),
            sanitize_html=False,
            resolve_relative_uris=False,
        )


def xml_fast(bodies: list[bytes]) -> None:
    for body in bodies:
        result, _ = fastparse.parse(body, dict(HEADERS))
        assert result is not None


def measure(name: str, bodies: list[bytes], repeat: int) -> list[str]:
    """One table row per layer for this data set."""
    n = len(bodies)
    rows = []
    # The bodies as given (parse.py also trims blank lines before <?xml, gunzips).
    as_is = [b for b in bodies if fastparse.parse(b, dict(HEADERS))[0] is not None]
    if as_is:
        slow = cpu(lambda: xml_feedparser(as_is), repeat)
        fast = cpu(lambda: xml_fast(as_is), repeat)
        rows.append(_row(name, "xml layer (accepted)", len(as_is), n, slow, fast))
    took = sum(parse_feed_with(b, "", None, "fast") is not None for b in bodies)
    slow = cpu(lambda: parse_and_hash(bodies, "feedparser"), repeat)
    fast = cpu(lambda: parse_and_hash(bodies, "auto"), repeat)
    rows.append(_row(name, "parse_and_hash (all)", took, n, slow, fast))
    return rows


def _row(name: str, layer: str, took: int, n: int, slow: float, fast: float) -> str:
    per = max(n if layer.startswith("parse") else took, 1)  # feeds in the timed loop
    return (
        f"| {name} | {layer} | {took}/{n} ({took / max(n, 1):.0%}) | {slow:.3f} | {fast:.3f} "
        f"| {1000 * slow / per:.2f} | {1000 * fast / per:.2f} | {slow / fast:.2f}x |"
    )


def generated(feeds: int, items: int, tmp: Path) -> list[bytes]:
    gen = _shared() / "bench" / "gen_feeds.py"
    out = tmp / "gen"
    subprocess.run([sys.executable, str(gen), str(out), str(feeds), str(items)], check=True)
    return [p.read_bytes() for p in sorted(out.glob("*.xml"))]


def corpus(root: Path) -> tuple[list[bytes], list[bytes]]:
    """(real-world XML feeds, synthetic XML feeds) of the corpus, gunzipped."""
    real: list[bytes] = []
    synthetic: list[bytes] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        body = path.read_bytes()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        parsed = parse_feed_with(body, "", None, "feedparser")
        if parsed is None or parsed.error or parsed.version.startswith("json"):
            continue
        rel = path.relative_to(root).as_posix()
        (synthetic if rel.startswith(SYNTHETIC) else real).append(body)
    return real, synthetic


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=_shared() / "corpus" / "feeds")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # feedparser's DeprecationWarnings on odd feeds
    if not fastparse.ENABLED:
        print(fastparse.parse(b"", {})[1], file=sys.stderr)
        return 1
    lxml_version = ".".join(map(str, fastparse.etree.LXML_VERSION))
    print(f"feedparser {feedparser.__version__}, lxml {lxml_version}")
    print()
    print("| data set | layer | fast path took | feedparser CPU s | fast CPU s "
          "| feedparser ms/feed | fast ms/feed | speed-up |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="veille-parse-bench-") as tmp:
        gen = generated(args.feeds, args.items, Path(tmp))
        for row in measure(f"gen_feeds {args.feeds}x{args.items}", gen, args.repeat):
            print(row, flush=True)
    if args.corpus.is_dir():
        real, synthetic = corpus(args.corpus)
        for name, bodies in (("corpus, real-world", real), ("corpus, synthetic", synthetic)):
            for row in measure(name, bodies, args.repeat):
                print(row, flush=True)
    else:
        print(f"(corpus not found at {args.corpus})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
