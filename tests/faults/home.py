"""A throwaway VEILLE_HOME and a way to run the real ``veille`` command in it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import quoteattr

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class Ran:
    code: int
    out: str
    err: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def clean_one_line(text: str) -> bool:
    """What every message veille shows must be: one line, no control characters."""
    return bool(text) and not _CONTROL.search(text)


@dataclass
class Home:
    """A fresh VEILLE_HOME in a temp folder; removed on exit."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="veille-faults-")))

    def __enter__(self) -> Home:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def config_file(self) -> Path:
        return self.root / "config" / "config.toml"

    def write_config(self, text: str) -> None:
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(text, encoding="utf-8")

    def veille(self, *args: str | bytes, timeout: float = 600, stdin: str = "") -> Ran:
        """Run ``python -m veille ARGS`` as a user would, in this home."""
        env = {**os.environ, "VEILLE_HOME": str(self.root), "PYTHONDONTWRITEBYTECODE": "1"}
        began = time.monotonic()
        p = subprocess.run(
            [sys.executable, "-m", "veille", *args],
            capture_output=True,
            env=env,
            timeout=timeout,
            input=stdin.encode(),
        )
        seconds = time.monotonic() - began
        return Ran(
            p.returncode,
            p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"),
            seconds,
        )

    def import_urls(self, urls: list[str]) -> Ran:
        """Subscribe to ``urls`` without fetching them (an OPML import)."""
        outlines = "\n".join(
            f"<outline type='rss' text={quoteattr(f'feed {i}')} xmlUrl={quoteattr(u)}/>"
            for i, u in enumerate(urls)
        )
        opml = self.root / "import.opml"
        opml.write_text(
            f"<?xml version='1.0'?><opml version='2.0'><body>{outlines}</body></opml>",
            encoding="utf-8",
        )
        return self.veille("import", str(opml))

    def feeds(self) -> dict[str, dict[str, Any]]:
        """``veille feeds --json`` by URL."""
        ran = self.veille("feeds", "--json")
        return {(d := json.loads(line))["url"]: d for line in ran.lines}

    def items(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.veille("items", "--json").lines]
