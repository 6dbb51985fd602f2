"""Genuine servers (and small replays) that the sharing tests talk to on 127.0.0.1."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server process, and kill it if it does not go within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
