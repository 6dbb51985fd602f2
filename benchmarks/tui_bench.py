"""TUI speed at 100,000 items: start-up to first painted stream (beside a bare
Textual app that paints one line, measured in the same run: the ratio is the
figure), triage-key latency (handler to repaint, in-process), view switch, filter
and search to their first rows, peak memory.

    .venv/bin/python benchmarks/tui_bench.py [--items 100000] [--runs 3]

Builds a store with the Store API in a temporary VEILLE_HOME and prints a
table.  Start-up runs the real ``veille`` (in tmux when available, so a real
terminal is painted; headless otherwise) with VEILLE_TUI_BENCH=FILE: the app
writes the wall-clock time of its first painted stream there and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from veille.domain.entries import ParsedEntry, ParsedFeed  # noqa: E402
from veille.paths import get_paths  # noqa: E402
from veille.store.store import Store  # noqa: E402
from veille.util.dates import iso  # noqa: E402

FEEDS = 200
# A tmux server of our own (and no user config): never the user's sessions.
TMUX = ["tmux", "-L", f"veille-bench-{os.getpid()}", "-f", "/dev/null"]


def build(home: Path, n: int) -> None:
    paths = get_paths(home).ensure()
    store = Store(paths.store, autoflush=False)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    per = n // FEEDS
    for f in range(FEEDS):
        feed, _ = store.add_feed(f"https://example{f}.org/feed.xml", title=f"Feed number {f}")
        batch = []
        for i in range(per):
            k = f * per + i
            batch.append(
                ParsedEntry(
                    key=f"e{k}",
                    title=f"Item {k} about topic {k % 97}",
                    link=f"https://example{f}.org/p/{k}",
                    author=f"Author {k % 13}",
                    published=iso(base - timedelta(minutes=(k * 7) % 500_000)),
                    summary=f"Summary of item {k} with some words",
                    content=f"<p>Body of <b>item</b> {k} <a href='https://x.org/{k}'>link</a></p>",
                )
            )
        store.upsert_entries(feed.id, ParsedFeed(title=f"Feed {f}", entries=batch))
    store.close()


BARE_APP = """
import os, sys, time
from pathlib import Path
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("one line")

    def on_mount(self):
        self.call_after_refresh(self.done)

    def done(self):
        import resource
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        Path(os.environ["VEILLE_TUI_BENCH"]).write_text(f"{time.time()} {rss}\\n")
        self.exit(0)

Bare().run()
"""


def startup(
    home: Path, runs: int, cmd: list[str] | None = None, tag: str = "veille"
) -> tuple[list[float], int, str]:
    """Wall time from launch to the first painted screen, and peak RSS (KB)."""
    if cmd is None:
        exe = shutil.which("veille", path=str(Path(sys.executable).parent))
        cmd = [exe] if exe else [sys.executable, "-m", "veille.tui.app"]
    use_tmux = shutil.which("tmux") is not None
    times: list[float] = []
    rss = 0
    for i in range(runs):
        marker = home / f"{tag}-paint-{i}.txt"
        env = {**os.environ, "VEILLE_HOME": str(home), "VEILLE_TUI_BENCH": str(marker)}
        t0 = time.time()
        if use_tmux:
            # A session left by an interrupted run must not stop this one.
            subprocess.run([*TMUX, "kill-session", "-t", f"vbench{i}"], capture_output=True)
            inner = " ".join(
                [f"VEILLE_HOME={home}", f"VEILLE_TUI_BENCH={marker}", *map(shlex.quote, cmd)]
            )
            subprocess.run(
                [*TMUX, "new-session", "-d", "-s", f"vbench{i}", "-x", "160", "-y", "50", inner],
                check=True,
            )
        else:
            env["TEXTUAL_HEADLESS"] = "1"
            subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        fields: list[str] = []
        while len(fields) != 2 and time.time() < deadline:  # the app may be mid-write
            time.sleep(0.01)
            fields = marker.read_text().split() if marker.exists() else []
        painted, kb = fields
        times.append(float(painted) - t0)
        rss = max(rss, int(kb))
        if use_tmux:
            subprocess.run([*TMUX, "kill-session", "-t", f"vbench{i}"], capture_output=True)
        time.sleep(0.5)
    return times, rss, "tmux 160×50" if use_tmux else "headless"


async def in_process(home: Path) -> dict[str, list[float]]:
    from veille.config import Config
    from veille.tui.app import VeilleApp
    from veille.tui.screens.main import MainScreen
    from veille.tui.services.views import ViewSpec

    paths = get_paths(home)
    store = Store(paths.store, lazy=3000)  # as the app opens it (veille.tui.app.main)
    app = VeilleApp(store, Config(), paths, auto_update=False, cursor_blink=False, sync_seconds=0)
    shown: list[float] = []
    real_display = app._display

    def display(screen, renderable):  # type: ignore[no-untyped-def]
        if renderable is not None:
            shown.append(time.perf_counter())
        return real_display(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    out: dict[str, list[float]] = {}

    async def measure(name: str, fn, times: int) -> None:  # type: ignore[no-untyped-def]
        for _ in range(times):
            await asyncio.sleep(0.12)  # let the item pane (40 ms later) settle
            shown.clear()
            t0 = time.perf_counter()
            fn()
            deadline = t0 + 2.0
            while not shown and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
            out.setdefault(name, []).append((shown[0] - t0) * 1000 if shown else float("inf"))

    async with app.run_test(size=(160, 50)) as pilot:
        while not (isinstance(app.screen, MainScreen) and app.screen.is_mounted):
            await pilot.pause()
        while not store.loaded.is_set():  # the rest, read after the first paint
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        screen = app.screen
        await measure("move (j)", screen.action_cursor_down, 60)
        await measure("mark read (m)", screen.action_toggle_read, 30)
        await measure("star (s)", screen.action_star, 30)
        await measure("next unread (n)", screen.action_next_unread, 30)
        feed = store.feeds()[7].id
        views = [
            ("view switch: Unread", ViewSpec("unread")),
            ("view switch: Starred", ViewSpec("starred")),
            ("view switch: All", ViewSpec()),
            ("filter: one feed", ViewSpec("feed", feed)),
            ("filter: one feed, search", ViewSpec("feed", feed, "topic 4")),
        ]
        for name, spec in views:
            await measure(name, lambda s=spec: screen.load_view(s, reset=True), 5)
        for term in ("topic 42", "item 99999", "no such words"):
            spec = ViewSpec("all", "", term)
            await measure(f"search “{term}”", lambda s=spec: screen.load_view(s, reset=True), 5)
            spec = ViewSpec("unread", "", term)
            await measure(
                f"search in Unread “{term}”", lambda s=spec: screen.load_view(s, reset=True), 5
            )
        screen.load_view(ViewSpec(), reset=True)
    out["_rss_mb"] = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        build(args.build, args.items)
        return
    with tempfile.TemporaryDirectory(prefix="veille-tui-bench-") as tmp:
        home = Path(tmp)
        t = time.perf_counter()
        # In a process of its own: the in-process figures below (peak RSS above
        # all) are then the app's, not the builder's.
        subprocess.run([sys.executable, __file__, "--build", str(home), "--items", str(args.items)],
                       check=True)  # fmt: skip
        print(f"built a store of {args.items:,} items in {time.perf_counter() - t:.1f} s\n")
        # As installed software: bytecode compiled once (this environment sets
        # PYTHONDONTWRITEBYTECODE, which would recompile veille at every start).
        import veille

        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(Path(veille.__file__).parent)],
            check=True,
        )
        bare_script = home / "bare_app.py"
        bare_script.write_text(BARE_APP)
        # Interleaved (veille, the app alone, the bare app; again...): a machine
        # whose load drifts during the run moves all three alike.
        times: list[float] = []
        app_only: list[float] = []
        bare: list[float] = []
        rss_kb = bare_rss = 0
        how = ""
        for _ in range(args.runs):
            for marker in home.glob("*-paint-*.txt"):
                marker.unlink()
            t1, rss, how = startup(home, 1)
            times += t1
            rss_kb = max(rss_kb, rss)
            # The app without the CLI module: what the first paint costs the app itself.
            t2, _r, _ = startup(home, 1, [sys.executable, "-m", "veille.tui.app"], "app")
            app_only += t2
            t3, rss, _ = startup(home, 1, [sys.executable, str(bare_script)], "bare")
            bare += t3
            bare_rss = max(bare_rss, rss)
        res = asyncio.run(in_process(home))
        rss_mb = res.pop("_rss_mb")[0]
        print(f"| {args.items:,} items | result | target |")
        print("|---|---|---|")
        print(
            f"| start-up to first painted stream ({how}, median of {len(times)}) "
            f"| {statistics.median(times):.2f} s (all: {', '.join(f'{x:.2f}' for x in times)}) "
            "| < 1.0 s |"
        )
        ratio = statistics.median(times) / statistics.median(bare)
        print(
            f"| bare Textual app painting one line (same run, median of {len(bare)}) "
            f"| {statistics.median(bare):.2f} s | |"
        )
        print(f"| first paint: veille / bare app | {ratio:.2f}× | ≤ 2.0× (aim 1.3×) |")
        print(
            f"| start-up of `python -m veille.tui.app` (no CLI imports, median of "
            f"{len(app_only)}) | {statistics.median(app_only):.2f} s, "
            f"{statistics.median(app_only) / statistics.median(bare):.2f}× the bare app | |"
        )
        for name, values in res.items():
            values = sorted(values)  # inf = no repaint within 2 s (counted, not hidden)
            p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
            first_rows = name.startswith(("search", "view", "filter"))
            target = "< 100 ms (first rows)" if first_rows else "< 16 ms"
            print(
                f"| {name}: handler to repaint, median / p95 "
                f"| {statistics.median(values):.1f} / {p95:.1f} ms | {target} |"
            )
        print(f"| peak RSS, start-up process | {rss_kb / 1024:.0f} MB | ≤ 265 MB |")
        print(f"| peak RSS, the bare Textual app | {bare_rss / 1024:.0f} MB | |")
        print(f"| peak RSS, in-process run (app + store + triage + search) | {rss_mb:.0f} MB | |")


if __name__ == "__main__":
    main()
