"""Stores and apps for the TUI tests: synthetic feeds with hostile text, real
feeds from the shared corpus, a fixed clock, no background network."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from veille.config import Config, parse_config
from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.paths import Paths, get_paths
from veille.store.store import Store
from veille.util.dates import iso

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE_TITLE = "[@click=app.quit]Click[/]"
MARKUP_TITLE = "[bold red]x"
ANSI_TITLE = "\x1b[31mred\x1b[0m alert\x07"
CORPUS_FEEDS = [
    "feedjira/FeedjiraBlog.xml",
    "feedjira/AmazonWebServicesBlog.xml",
    "feedjira/GiantRobotsSmashingIntoOtherGiantRobots.xml",
]


def clock() -> datetime:
    return NOW


def entries(feed_no: int, n: int, *, start: datetime = NOW) -> list[ParsedEntry]:
    out = []
    for i in range(n):
        k = feed_no * 1000 + i
        when = iso(start - timedelta(hours=feed_no + i * 5))
        out.append(
            ParsedEntry(
                key=f"f{feed_no}-e{i}",
                title=f"Story {i} from feed {feed_no}",
                link=f"https://site{feed_no}.example/posts/{i}",
                author=f"Author {i % 3}",
                published=when,
                summary=f"Summary {k} lorem ipsum",
                content=(
                    f"<p>Body of story {i}. See <a href='https://site{feed_no}.example/a/{i}'>"
                    f"this page</a> and <a href='/rel/{i}'>that one</a>.</p>"
                    f"<p><img src='https://img.example/{k}.png' alt='a picture'></p>"
                    f"<p>Also <a href='javascript:alert(1)'>bad</a>.</p>"
                ),
            )
        )
    return out


def build_store(root: Path, *, feeds: int = 3, per_feed: int = 8, hostile: bool = True) -> Store:
    """A store with ``feeds`` synthetic feeds (and a feed of hostile titles)."""
    store = Store(root)
    for f in range(feeds):
        feed, _ = store.add_feed(f"https://site{f}.example/feed.xml", title=f"Site {f}")
        store.upsert_entries(feed.id, ParsedFeed(title=f"Site {f}", entries=entries(f, per_feed)))
    if hostile:
        feed, _ = store.add_feed("https://evil.example/feed.xml", title="[b]Evil[/b] feed")
        bad = [
            ParsedEntry(
                key=f"bad{i}",
                title=title,
                link="https://evil.example/x",
                published=iso(NOW - timedelta(days=30 + i)),
                content="<p>\x1b[2J\x1b]52;c;AAAA\x07 escape soup [red]markup[/red]</p>",
            )
            for i, title in enumerate([HOSTILE_TITLE, MARKUP_TITLE, ANSI_TITLE])
        ]
        store.upsert_entries(feed.id, ParsedFeed(title="Evil", entries=bad))
    store.flush()
    return store


def corpus_store(root: Path, names: Iterable[str] = CORPUS_FEEDS) -> Store:
    """A store filled from real feeds of ../shared/corpus (caller skips if absent)."""
    from veille.sources.feed.parse import parse_feed

    store = Store(root)
    for name in names:
        path = CORPUS / "feeds" / name
        parsed = parse_feed(path.read_bytes(), f"https://corpus.example/{name}")
        feed, _ = store.add_feed(f"https://corpus.example/{name}", title=parsed.title or name)
        store.upsert_entries(feed.id, parsed)
    store.flush()
    return store


def make_paths(tmp: Path) -> Paths:
    return get_paths(tmp / "home").ensure()


def make_config(text: str = "") -> Config:
    return parse_config(text) if text else Config()


def make_app(store: Store, paths: Paths, config: Config | None = None, **kw):
    from veille.tui.app import VeilleApp

    kw.setdefault("clock", clock)
    kw.setdefault("auto_update", False)
    kw.setdefault("cursor_blink", False)
    kw.setdefault("sync_seconds", 0)
    kw.setdefault("images", False)  # no image downloads unless a test asks for them
    return VeilleApp(store, config or Config(), paths, **kw)


class ManualTimers:
    """The app's mark-read timer, fired by the test: time is deterministic.

    Pass as ``make_app(..., timers=t)``; ``t.pending`` lists the armed delays,
    ``t.fire()`` runs every armed callback as if its delay had passed."""

    def __init__(self) -> None:
        self._armed: dict[int, tuple[float, object]] = {}
        self._n = 0

    def __call__(self, delay: float, callback):  # type: ignore[no-untyped-def]
        self._n += 1
        key = self._n
        self._armed[key] = (delay, callback)
        return lambda: self._armed.pop(key, None)

    @property
    def pending(self) -> list[float]:
        return [delay for delay, _ in self._armed.values()]

    def fire(self) -> int:
        armed, self._armed = self._armed, {}
        for _delay, callback in armed.values():
            callback()  # type: ignore[operator]
        return len(armed)


def toasts(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The notifications on screen, as the user reads them."""
    from textual.widgets._toast import Toast

    out = []
    for screen in app.screen_stack:
        for toast in screen.query(Toast):
            out.append(str(toast.render()))
    return out


async def wait_for(pilot, cond, timeout: float = 20.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Pause until ``cond()`` is true (polling the app, never a fixed sleep)."""
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never came true")
        await pilot.pause(0.02)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let background workers finish and the screen catch up (no fixed sleep)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_lines(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The terminal's rows as the user sees them (the screen as composited)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def main_shown(app) -> bool:  # type: ignore[no-untyped-def]
    """The main screen is up: it is the app's first screen (made before the app
    runs), so being on top is not enough; it must be mounted with its panes."""
    from veille.tui.screens.main import MainScreen

    return isinstance(app.screen, MainScreen) and app.screen.is_mounted


async def started(pilot):  # type: ignore[no-untyped-def]
    """The main screen, once its item pane shows the item under the cursor (or
    the stream is empty)."""
    await wait_for(pilot, lambda: main_shown(pilot.app), what="main screen")
    screen = pilot.app.screen
    await wait_for(
        pilot,
        lambda: (
            screen.stream.current_id is None or screen.item_view.item_id == screen.stream.current_id
        ),
        what="the item pane",
    )
    return screen
