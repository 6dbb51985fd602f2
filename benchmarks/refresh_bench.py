"""`veille refresh` against newsboat, cold and warm, on synthetic feeds on loopback.

    python benchmarks/refresh_bench.py [--feeds 200] [--items 50] [--no-newsboat]

Both readers fetch the same N feeds from one local server (a separate process).
veille: cold = first refresh into an empty store, warm = second refresh (all
304).  newsboat (`-x reload`, its own HOME, reload-threads 8): it sends
conditional headers only from its third reload on, so its first reload is the
cold figure and its third the warm one.  Targets: cold <= 0.7 x newsboat,
warm <= 0.3 x newsboat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t, p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--no-newsboat", action="store_true")
    args = ap.parse_args()

    # Installed software has its bytecode cached; this environment sets
    # PYTHONDONTWRITEBYTECODE, which would make every run recompile veille
    # (~0.15 s per process).  Compile once, as `pip install` does.
    import veille

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(veille.__file__).parent)],
        check=True,
    )
    server = subprocess.Popen(
        [sys.executable, str(HERE / "feedserver.py"), str(args.feeds), str(args.items)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    base = server.stdout.readline().strip()
    urls = [f"{base}/feed/{n}.xml" for n in range(args.feeds)]
    tmp = Path(tempfile.mkdtemp(prefix="veille-bench-"))
    rows: list[tuple[str, float | None, float | None]] = []
    try:
        # ---------------------------------------------------------------- veille
        vhome = tmp / "veille"
        env = {**os.environ, "VEILLE_HOME": str(vhome)}
        opml = tmp / "subs.opml"
        opml.write_text(
            '<?xml version="1.0"?><opml version="2.0"><head><title>b</title></head><body>'
            + "".join(f'<outline text="f{i}" xmlUrl="{u}"/>' for i, u in enumerate(urls))
            + "</body></opml>"
        )
        veille = [sys.executable, "-m", "veille"]
        subprocess.run([*veille, "import", str(opml)], env=env, check=True, capture_output=True)
        cold, p = timed([*veille, "refresh"], env)
        print("veille cold:", p.stdout.strip() or p.stderr.strip())
        warm, p = timed([*veille, "refresh"], env)
        print("veille warm:", p.stdout.strip() or p.stderr.strip())
        rows.append(("veille", cold, warm))

        # -------------------------------------------------------------- newsboat
        nb = shutil.which("newsboat")
        if nb and not args.no_newsboat:
            nhome = tmp / "newsboat"
            nhome.mkdir()
            (nhome / "urls").write_text("\n".join(urls) + "\n")
            (nhome / "config").write_text("reload-threads 8\n")
            nenv = {**os.environ, "HOME": str(nhome)}
            cmd = [
                nb,
                "-u",
                str(nhome / "urls"),
                "-c",
                str(nhome / "cache.db"),
                "-C",
                str(nhome / "config"),
                "-x",
                "reload",
            ]
            times = [timed(cmd, nenv)[0] for _ in range(3)]
            print("newsboat reloads:", ", ".join(f"{t:.2f} s" for t in times))
            rows.append(("newsboat", times[0], times[2]))
        else:
            rows.append(("newsboat", None, None))
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

    def fmt(v: float | None) -> str:
        return f"{v:8.2f} s" if v is not None else "     n/a"

    print(f"\n{args.feeds} feeds x {args.items} items on loopback")
    print(f"{'reader':<10} {'cold':>10} {'warm':>10}")
    for name, c, w in rows:
        print(f"{name:<10} {fmt(c)} {fmt(w)}")
    v, n = rows[0], rows[1]
    if n[1] and n[2]:
        rc, rw = v[1] / n[1], v[2] / n[2]
        print(f"{'ratio':<10} {rc:9.2f}x {rw:9.2f}x   (targets: cold <= 0.70x, warm <= 0.30x)")
        ok = rc <= 0.7 and rw <= 0.3
        print("targets met" if ok else "TARGETS MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
