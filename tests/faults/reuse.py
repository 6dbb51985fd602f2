"""Issue-8 cases that already live in a pytest file of their own, shown in the table.

Rather than a second copy of them, the table runs that file (a real pytest in a
subprocess, the real servers and CLI it uses) and shows one row per test.  They are
``ci=False`` here: CI already runs the file itself.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.faults import Row, scenario

ROOT = Path(__file__).resolve().parents[2]


def pytest_rows(target: str, label: str) -> list[Row]:
    """Run ``pytest target`` and turn each test case into a row."""
    with tempfile.TemporaryDirectory(prefix="veille-faults-") as d:
        report = Path(d) / "report.xml"
        ran = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
             f"--junitxml={report}", target],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if not report.exists():
            tail = (ran.stdout + ran.stderr).strip().splitlines()[-1:]
            return [Row(label, f"pytest did not run: {tail}", False)]
        cases = ET.parse(report).getroot().iter("testcase")
        rows = []
        for case in cases:
            name = case.get("name", "?").removeprefix("test_").replace("_", " ")
            seconds = float(case.get("time") or 0)
            bad = case.find("failure") if case.find("failure") is not None else case.find("error")
            skipped = case.find("skipped")
            if bad is not None:
                said = (bad.get("message") or "failed").splitlines()[0][:150]
                rows.append(Row(f"{label}: {name}", said, False))
            elif skipped is not None:
                said = f"skipped: {(skipped.get('message') or '')[:120]}"
                rows.append(Row(f"{label}: {name}", said, True, skipped=True))
            else:
                rows.append(Row(f"{label}: {name}", f"passed in {seconds:.1f} s", True))
    return rows or [Row(label, "no test ran", False)]


@scenario(ci=False)
def secrets_echoed() -> list[Row]:
    """Servers echoing the token, app password or session back: the secret never reaches
    the screen, the store nor the log. CI: tests/test_share_faults.py."""
    return pytest_rows("tests/test_share_faults.py", "secret echoed back")
