"""The fault table (issue 8): veille against a hostile world, one row per case.

A *scenario* is a plain function that sets a fault up, runs veille the way a user would
(usually ``python -m veille ...`` in a fresh VEILLE_HOME) and returns what happened:
one :class:`Row` or a list of them — ``(case, what happened, passed)``, or ``skipped``
when the machine cannot run it (no root to mount a tmpfs, no tmux).  Register it with
:func:`scenario`; ``ci=False`` keeps a scenario out of tests/test_faults.py but in the
full table: because it is too slow or too destructive for CI, or because a test file of
its own already runs it in CI (its docstring then says which, e.g. tests/test_crash.py).

    python benchmarks/faults.py          # every scenario, as a table; exit 1 if one fails
    python benchmarks/faults.py --ci     # only the CI-sized ones (what pytest runs)
    python -m pytest tests/test_faults.py

To add cases: write a module in this package with ``@scenario`` functions and list it in
:data:`MODULES`.  A scenario must clean up after itself (servers stopped, temp folders
gone) and must not raise for a veille failure: say it in a failing row.  If it raises
anyway, the runner turns that into a failing row too.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple


class Row(NamedTuple):
    case: str
    happened: str
    passed: bool
    #: The case could not run here (no root for a tmpfs, no tmux): neither pass nor fail.
    skipped: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    func: Callable[[], Row | list[Row]]
    ci: bool
    doc: str
    #: A known failure being fixed elsewhere (who, where): its failing rows say so, and
    #: pytest reports them as xfail until the fix lands (then XPASS: drop ``pending``).
    pending: str = ""


#: Modules whose scenarios make up the table, in table order.
MODULES = (
    "tests.faults.network",
    "tests.faults.inputs",
    "tests.faults.crash",
    "tests.faults.disk",
    "tests.faults.damage",
    "tests.faults.hostile",
    "tests.faults.app",
    "tests.faults.big",
    "tests.faults.reuse",
)

SCENARIOS: dict[str, Scenario] = {}


def scenario(
    *, ci: bool = True, pending: str = ""
) -> Callable[[Callable[[], Row | list[Row]]], Callable[[], Row | list[Row]]]:
    """Register a scenario function under its name."""

    def register(func: Callable[[], Row | list[Row]]) -> Callable[[], Row | list[Row]]:
        first = (func.__doc__ or func.__name__).strip().split("\n\n")[0]
        doc = " ".join(line.strip() for line in first.splitlines())
        SCENARIOS[func.__name__] = Scenario(func.__name__, func, ci, doc, pending)
        return func

    return register


def load() -> dict[str, Scenario]:
    """Import every module in :data:`MODULES` (registering their scenarios)."""
    for name in MODULES:
        importlib.import_module(name)
    return SCENARIOS


def run(s: Scenario) -> list[Row]:
    """Run one scenario; an exception is a failing row, never an escape."""
    try:
        got = s.func()
    except Exception as exc:
        last = traceback.format_exception_only(exc)[-1].strip()
        return [Row(s.name, f"the scenario itself failed: {last}", False)]
    rows = [got] if isinstance(got, Row) else list(got)
    if s.pending:
        known = f" [known: {s.pending}]"
        rows = [r if r.passed else r._replace(happened=r.happened + known) for r in rows]
    return rows
