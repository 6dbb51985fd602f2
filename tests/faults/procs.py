"""Processes: finding every veille process of a home, waiting on conditions, memory.

Shared by the signal and crash scenarios, tests/test_crash.py and the app scenarios.
A process belongs to a test when its environment holds that test's ``VEILLE_HOME``:
the parser workers, forked by veille, inherit it, so a worker left behind by a killed
parent is found even after it was re-parented to init.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


def veille_pids(home: Path) -> list[int]:
    """Processes (any parent) started for this VEILLE_HOME: veille and its workers."""
    mark = f"VEILLE_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if mark in env.split(b"\0") and state != "Z":  # a zombie is gone, only unreaped
            found.append(int(entry.name))
    return found


def wait_until(test: Callable[[], object], seconds: float = 10.0, step: float = 0.05) -> bool:
    """Poll ``test`` until it is true or ``seconds`` pass; its last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(step)
    return bool(test())


def start_veille(home: Path, *args: str, new_group: bool = True) -> subprocess.Popen[str]:
    """``python -m veille ARGS`` in the background, in its own process group (as a
    shell job is), so a signal can go to veille alone or to the whole group."""
    env = {**os.environ, "VEILLE_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "veille", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_group,
    )


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """The largest total resident memory of a home's veille processes, sampled.

    The total over every process (the parent and its parser workers), sampled every
    ``step`` seconds: the figure a user's machine feels.  Shared pages of forked
    workers count once per process, so this errs high, never low.
    """

    def __init__(self, home: Path, step: float = 0.1) -> None:
        self.home = home
        self.step = step
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(rss_kb(p) for p in veille_pids(self.home))
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(self.step)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024
