"""Shared fixtures: an isolated VEILLE_HOME, the corpus path, CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh VEILLE_HOME for one test."""
    h = tmp_path / "home"
    monkeypatch.setenv("VEILLE_HOME", str(h))
    return h


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]):
    """Run `veille ARGS` in-process; returns exit code, stdout, stderr."""
    from veille.cli.main import main

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def cli_proc(home: Path):
    """Run `veille ARGS` as a real process (for exit codes, tracebacks, signals)."""

    def run(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> Run:
        e = {**os.environ, "VEILLE_HOME": str(home), **(env or {})}
        p = subprocess.run(
            [sys.executable, "-m", "veille", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=e,
        )
        return Run(p.returncode, p.stdout, p.stderr)

    return run
