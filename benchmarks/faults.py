"""The fault table: every scenario in tests/faults, one row per case, pass or fail.

    python benchmarks/faults.py            # all of them
    python benchmarks/faults.py --ci       # only those pytest runs (tests/test_faults.py)
    python benchmarks/faults.py NAME ...   # only these scenarios (see --list)

Exit status 1 if any case fails.  Scenarios run one after another (several start their
own servers and time a real `veille refresh`; running them side by side would make the
timings say more about the machine than about veille).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults import Row, load, run  # noqa: E402

WIDTHS = (44, 76)


def table(rows: list[Row]) -> str:
    """A plain-text table: case | what happened | pass/FAIL (long text wrapped)."""
    head = f"{'case':<{WIDTHS[0]}}  {'what happened':<{WIDTHS[1]}}  result"
    lines = [head, "-" * len(head)]
    for r in rows:
        left = textwrap.wrap(r.case, WIDTHS[0]) or [""]
        mid = textwrap.wrap(r.happened, WIDTHS[1]) or [""]
        for i in range(max(len(left), len(mid))):
            a = left[i] if i < len(left) else ""
            b = mid[i] if i < len(mid) else ""
            c = ("skip" if r.skipped else "pass" if r.passed else "FAIL") if i == 0 else ""
            lines.append(f"{a:<{WIDTHS[0]}}  {b:<{WIDTHS[1]}}  {c}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    ap.add_argument("--ci", action="store_true", help="only the CI-sized scenarios")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = ap.parse_args()
    scenarios = load()
    if args.list:
        for s in scenarios.values():
            print(f"{s.name:<30} {'ci ' if s.ci else '   '} {s.doc}")
        return 0
    unknown = [n for n in args.names if n not in scenarios]
    if unknown:
        print(f"faults: no such scenario: {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    chosen = [s for s in scenarios.values() if (not args.names or s.name in args.names)]
    if args.ci:
        chosen = [s for s in chosen if s.ci]
    rows: list[Row] = []
    began = time.monotonic()
    for s in chosen:
        print(f"running {s.name}: {s.doc}", file=sys.stderr, flush=True)
        rows.extend(run(s))
    print(table(rows))
    failed = sum(not r.passed for r in rows)
    skipped = sum(r.skipped for r in rows)
    print(
        f"\n{len(rows)} cases, {failed} failed, {skipped} skipped, "
        f"{len(chosen)} scenarios in {time.monotonic() - began:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
