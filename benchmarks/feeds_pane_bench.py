"""The feeds pane (F) with many feeds: does it open at once after a 50,000-feed OPML import?

    python benchmarks/feeds_pane_bench.py [--sizes 1000,10000,50000]

For each size, a store gets N feeds in folders of 100 (tags, as an OPML import
makes them) through ``import_opml``, then the app runs headless (Textual's Pilot)
and the table gives, in-process (a key press through Pilot costs ~60 ms of its
own, DESIGN.md):

* ``model``: the pane's rows read cold (``FeedsModel.reload``: feeds, counts, tags,
  the text the filter searches);
* ``open``: from the ``F`` action to the pane's first frame with its rows;
* ``filter``: one filter keystroke's rows (``FeedsModel.rows``) over all feeds;
* ``optionlist``: the same rows put in a Textual OptionList (what the pane avoids),
  built and shown, for scale.

Ratios ("x") are to the first row of the same run: for a linear step, time
ratio = size ratio.  Times are wall-clock on a shared machine: read ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path


def synthetic_opml(n: int) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><body>']
    for folder in range(max(1, n // 100)):
        parts.append(f'<outline text="folder {folder}">')
        for i in range(min(100, n - folder * 100)):
            k = folder * 100 + i
            parts.append(
                f'<outline type="rss" text="Feed {k}" xmlUrl="https://site{k}.example/feed.xml"'
                f' htmlUrl="https://site{k}.example/"/>'
            )
        parts.append("</outline>")
    parts.append("</body></opml>")
    return "\n".join(parts).encode()


async def measure(n: int, root: Path) -> dict[str, float]:
    from textual.app import App, ComposeResult
    from textual.widgets import OptionList
    from textual.widgets.option_list import Option

    from veille.config import Config
    from veille.paths import get_paths
    from veille.store.store import Store
    from veille.subscriptions.subscribe import import_opml
    from veille.tui.app import VeilleApp
    from veille.tui.screens.feeds import FeedsScreen
    from veille.tui.screens.main import MainScreen
    from veille.tui.services.feeds import FeedsModel

    paths = get_paths(root / "home").ensure()
    opml = root / "subs.opml"
    opml.write_bytes(synthetic_opml(n))
    store = Store(paths.store)
    import_opml(store, opml)
    out: dict[str, float] = {}
    began = time.perf_counter()
    FeedsModel(store).reload()
    out["model"] = time.perf_counter() - began
    model = FeedsModel(store)
    model.reload()
    began = time.perf_counter()
    model.rows("feed 4")
    out["filter"] = time.perf_counter() - began

    app = VeilleApp(
        store, Config(), paths, auto_update=False, cursor_blink=False, sync_seconds=0, images=False
    )
    async with app.run_test(size=(160, 50)) as pilot:
        while not (isinstance(app.screen, MainScreen) and app.screen.is_mounted):
            await pilot.pause(0.01)
        await app.workers.wait_for_complete()
        painted = asyncio.Event()
        screen: MainScreen = app.screen
        began = time.perf_counter()
        screen.action_feeds()
        while not isinstance(app.screen, FeedsScreen):
            await asyncio.sleep(0)
        pane = app.screen
        app.call_after_refresh(painted.set)
        await painted.wait()
        out["open"] = time.perf_counter() - began
        assert len(pane.list.rows) == n + len(pane.model.tags)
    store.close()

    rows = [f"Feed {k}  0  not fetched yet" for k in range(n)]

    class Plain(App[None]):
        def compose(self) -> ComposeResult:
            yield OptionList(*[Option(r) for r in rows])

    plain = Plain()
    began = time.perf_counter()
    async with plain.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        out["optionlist"] = time.perf_counter() - began
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,50000")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            results.append((n, asyncio.run(measure(n, Path(tmp)))))
    cols = ("model", "open", "filter", "optionlist")
    print(f"\n{'feeds':>7} " + " ".join(f"{c + ' s':>13}" for c in cols) + f" {'size x':>7} "
          + " ".join(f"{c + ' x':>9}" for c in ("open", "optlist")))  # fmt: skip
    n0, r0 = results[0]
    for n, r in results:
        print(
            f"{n:>7} "
            + " ".join(f"{r[c]:>13.3f}" for c in cols)
            + f" {n / n0:>7.1f} {r['open'] / r0['open']:>9.1f}"
            + f" {r['optionlist'] / r0['optionlist']:>9.1f}"
        )
    n, r = results[-1]
    print(f"\nAt {n:,} feeds the pane opens {r['optionlist'] / r['open']:.0f}x faster than an "
          "OptionList of the same rows is built and shown.")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
