"""The CI-sized part of the fault table (benchmarks/faults.py prints all of it).

Each scenario runs veille as a user would and reports rows of (case, what happened,
passed); a test fails with the rows that did not pass, so the failure reads like the
table.
"""

from __future__ import annotations

import pytest

from tests.faults import Scenario, load, run

CI_SCENARIOS = [s for s in load().values() if s.ci]


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("s", CI_SCENARIOS, ids=[s.name for s in CI_SCENARIOS])
def test_fault_scenario(s: Scenario) -> None:
    rows = run(s)
    assert rows, f"{s.name} reported nothing"
    if all(r.skipped for r in rows):
        pytest.skip(rows[0].happened)
    failed = [f"{r.case}: {r.happened}" for r in rows if not r.passed]
    if failed and s.pending:
        pytest.xfail(f"{s.pending}: " + "; ".join(failed))
    assert not failed, "\n".join(failed)
