"""`veille refresh` against newsboat, cold and warm, on realistic feeds on loopback.

    python benchmarks/refresh_bench.py [--data gen|corpus] [--feeds 200] [--items 50] [--runs 3]

--data gen (default): ../shared/bench/gen_feeds.py writes N feeds with ~2 KB of
HTML per item (RSS 2.0 and Atom), served by ../shared/bench/serve.py (ETag and
Last-Modified).  --data corpus: the real RSS/Atom files of ../shared/corpus
(feed-rs, rss-parser, feedjira, miniflux, node-feedparser, feedsmith) served the
same way.

Both readers fetch the same feeds from one server process, in the same run,
one after the other.  veille: cold = first refresh into an empty store, warm =
second refresh (all 304).  newsboat (`-x reload`, its own HOME, reload-threads
8): it sends conditional headers only from its third reload on, so its first
reload is the cold figure and its third the warm one.  Targets (issue 11):
cold <= 0.7 x newsboat, warm <= 0.3 x newsboat.  Ratios, not seconds, are the
result: these machines drift 2x between days.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
CORPUS_DIRS = (
    "feed-rs",
    "rss-parser/input",
    "feedjira",
    "miniflux",
    "node-feedparser",
    "feedsmith",
)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t, p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(data: str, folder: Path, feeds: int, items: int) -> list[str]:
    """Fill ``folder`` with the feeds to serve; return their file names."""
    if data == "gen":
        gen = SHARED / "bench" / "gen_feeds.py"
        if not gen.is_file():
            sys.exit(f"{gen} is absent: use --data corpus, or run beside ../shared")
        subprocess.run([sys.executable, str(gen), str(folder), str(feeds), str(items)], check=True)
        return [f"feed{i}.xml" for i in range(feeds)]
    names = []
    corpus = SHARED / "corpus" / "feeds"
    for sub in CORPUS_DIRS:
        for path in sorted((corpus / sub).rglob("*")):
            if path.suffix.lower() not in (".xml", ".rss", ".atom") or not path.is_file():
                continue
            head = path.read_bytes()[:2000]
            if b"<rss" not in head and b"<feed" not in head and b"<rdf" not in head.lower():
                continue
            name = f"c{len(names)}.xml"
            shutil.copyfile(path, folder / name)
            names.append(name)
    return names


def veille_runs(urls: list[str], tmp: Path) -> tuple[float, float, str, str]:
    vhome = tmp / "veille"
    shutil.rmtree(vhome, ignore_errors=True)
    env = {**os.environ, "VEILLE_HOME": str(vhome)}
    opml = tmp / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>b</title></head><body>'
        + "".join(f'<outline text="f{i}" xmlUrl="{u}"/>' for i, u in enumerate(urls))
        + "</body></opml>"
    )
    veille = [sys.executable, "-m", "veille"]
    subprocess.run([*veille, "import", str(opml)], env=env, check=True, capture_output=True)
    cold, p1 = timed([*veille, "refresh"], env)
    warm, p2 = timed([*veille, "refresh"], env)
    return cold, warm, p1.stdout.strip() or p1.stderr.strip(), p2.stdout.strip()


def newsboat_runs(nb: str, urls: list[str], tmp: Path) -> tuple[float, float]:
    nhome = tmp / "newsboat"
    shutil.rmtree(nhome, ignore_errors=True)
    nhome.mkdir()
    (nhome / "urls").write_text("\n".join(urls) + "\n")
    (nhome / "config").write_text("reload-threads 8\n")
    nenv = {**os.environ, "HOME": str(nhome)}
    cmd = [nb, "-u", str(nhome / "urls"), "-c", str(nhome / "cache.db"),
           "-C", str(nhome / "config"), "-x", "reload"]  # fmt: skip
    times = [timed(cmd, nenv)[0] for _ in range(3)]
    return times[0], times[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("gen", "corpus"), default="gen")
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    nb = shutil.which("newsboat")
    if nb is None:
        sys.exit("newsboat is not installed (apt-get install newsboat): no ratio to give")

    # Installed software has its bytecode cached; this environment sets
    # PYTHONDONTWRITEBYTECODE, which would make every run recompile veille.
    import veille

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(veille.__file__).parent)], check=True
    )
    tmp = Path(tempfile.mkdtemp(prefix="veille-bench-"))
    served = tmp / "served"
    served.mkdir()
    names = prepare(args.data, served, args.feeds, args.items)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(SHARED / "bench" / "serve.py"), str(served), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    server.stdout.readline()  # "ready"
    urls = [f"http://127.0.0.1:{port}/{n}" for n in names]
    rows = []
    try:
        for run in range(args.runs):
            vc, vw, line1, line2 = veille_runs(urls, tmp)
            nc, nw = newsboat_runs(nb, urls, tmp)
            rows.append((vc, vw, nc, nw))
            print(f"run {run + 1}: veille cold {vc:.2f} s ({line1}); warm {vw:.2f} s ({line2})")
            print(f"       newsboat cold {nc:.2f} s, warm {nw:.2f} s")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

    what = (
        f"{args.feeds} feeds x {args.items} items (gen_feeds)"
        if args.data == "gen"
        else (f"{len(names)} real feeds from ../shared/corpus")
    )
    print(f"\n{what}, loopback, {args.runs} runs")
    print(f"{'run':<5} {'veille cold':>12} {'newsboat cold':>14} {'ratio':>7} "
          f"{'veille warm':>12} {'newsboat warm':>14} {'ratio':>7}")  # fmt: skip
    worst_c = worst_w = 0.0
    for i, (vc, vw, nc, nw) in enumerate(rows, 1):
        rc, rw = vc / nc, vw / nw
        worst_c, worst_w = max(worst_c, rc), max(worst_w, rw)
        print(f"{i:<5} {vc:11.2f}s {nc:13.2f}s {rc:6.2f}x {vw:11.2f}s {nw:13.2f}s {rw:6.2f}x")
    print(f"worst ratios: cold {worst_c:.2f}x (target <= 0.70x), warm {worst_w:.2f}x "
          f"(target <= 0.30x)")  # fmt: skip
    ok = worst_c <= 0.7 and worst_w <= 0.3
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
