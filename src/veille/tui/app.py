"""The full-screen app: ``veille`` with no arguments.

The app owns what outlives a screen: the store, config, themes, UI state,
background refresh and sync.  Network work runs on thread workers (one event
loop per refresh, ``asyncio.run``) and reports through ``call_from_thread``;
a failing worker becomes a notification, never a crash.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from veille.config import Config
from veille.domain.records import Feed
from veille.paths import Paths
from veille.render.hygiene import clean_line
from veille.store.store import Store
from veille.tui.keys import APP_KEYS, MAIN_KEYS, SHARES_KEYS, effective_keys, keymap_from_config
from veille.tui.state import UIState, load_state, save_state
from veille.tui.themes import DEFAULT_THEME, load_themes

try:  # written in parallel with the TUI; the app must run without them
    from veille.refresh.runner import refresh_feeds
except ImportError:  # pragma: no cover
    refresh_feeds = None  # type: ignore[assignment]
try:
    from veille.subscriptions.subscribe import OpmlError, add_subscription, import_opml
except ImportError:  # pragma: no cover
    add_subscription = import_opml = None  # type: ignore[assignment]
    OpmlError = Exception  # type: ignore[assignment,misc]

OUTBOX_SECONDS = 30.0  # how often queued deliveries are looked at
CONSOLE_BROWSERS = {"lynx", "w3m", "links", "links2", "elinks", "browsh", "carbonyl", "www-browser"}
THEME_VARIABLES = {
    "veille-unread": "$foreground",
    "veille-read": "$foreground-muted",
    "veille-star": "$warning",
    "veille-shared": "$success",
    "veille-source": "$secondary",
}


def _safe(msg: object) -> str:
    return clean_line(str(msg)).strip() or type(msg).__name__


class VeilleApp(App[int]):
    """veille's Textual app.  ``clock`` fixes "now" (ages in the stream) for tests."""

    CSS_PATH = "veille.tcss"
    TITLE = "veille"
    BINDINGS = [kd.binding() for kd in APP_KEYS if kd.id != "command_palette"]

    def __init__(
        self,
        store: Store,
        config: Config,
        paths: Paths,
        *,
        clock: Callable[[], datetime] | None = None,
        auto_update: bool = True,
        cursor_blink: bool = True,
        sync_seconds: float = 5.0,
    ) -> None:
        super().__init__()
        self.store = store
        self.config = config
        self.paths = paths
        self.clock = clock
        self.auto_update = auto_update
        self.cursor_blink = cursor_blink
        self.sync_seconds = sync_seconds
        self.ui_path = paths.state / "ui.json"
        self.ui: UIState = load_state(self.ui_path)
        self.veille_themes, self._theme_errors = load_themes(paths.user_themes)
        self.keys_conf, self._unknown_keys = keymap_from_config(dict(config["keys"]))
        self.counts = (0, len(store))
        self._counted = -1
        self.new_items = 0
        self.last_errors = 0
        self._refreshing = False
        self._started = False
        self._last_reload = 0.0
        self.first_paint_at: float | None = None
        self._secrets: Any = None
        self._share_limits: dict[str, tuple[int, int]] = {}  # mastodon account -> limits
        self._limits_asked: set[str] = set()
        self._send_lock = threading.Lock()

    # ------------------------------------------------------------ start-up
    def get_css_variables(self) -> dict[str, str]:
        """Fill veille's own variables from the theme's colours when a theme
        (a user's, or a Textual one) does not set them."""
        variables = super().get_css_variables()
        for name, source in THEME_VARIABLES.items():
            if name not in variables:
                variables[name] = variables.get(source.lstrip("$"), "ansi_default")
        self.theme_variables = variables
        return variables

    def on_mount(self) -> None:
        for theme in self.veille_themes.values():
            self.register_theme(theme)
        wanted = self.ui.theme or self.config["theme"]
        if wanted not in self.available_themes:
            self.notify(
                f"Unknown theme {wanted!r}; using {DEFAULT_THEME}.",
                markup=False,
                severity="warning",
            )
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = wanted
        self.set_keymap(self.keys_conf)
        for msg in self._theme_errors:
            self.notify(msg, severity="warning", markup=False)
        if self._unknown_keys:
            names = ", ".join(self._unknown_keys)
            self.notify(
                f"config [keys]: unknown action(s): {names} (see ?)",
                markup=False,
                severity="warning",
            )
        from veille.tui.screens.main import MainScreen
        from veille.tui.screens.welcome import WelcomeScreen

        self.push_screen(MainScreen() if self.store.feeds() else WelcomeScreen())
        if not self.store.feeds():
            self._finish_loading()
        self._tick()
        self.set_interval(0.5, self._tick)
        if self.sync_seconds > 0:
            self.set_interval(self.sync_seconds, self._sync)
        if self.auto_update:
            self.set_interval(OUTBOX_SECONDS, self._outbox_tick)
            self.set_timer(3.0, self._outbox_tick)  # a share a crash left half-sent
            minutes = max(1, int(self.config["refresh_minutes"]))
            self.set_interval(minutes * 60, partial(self._auto_update))
            self.set_timer(2.0, partial(self._auto_update))
        self._started = True

    def first_paint(self) -> None:
        """The stream drew its first rows (the start-up benchmark waits for this)."""
        if self.first_paint_at is not None:
            return
        self.first_paint_at = time.time()
        # Only now read the older part of a lazily opened store: parsing it
        # holds the interpreter lock and would delay the first paint.
        self.set_timer(0.05, self._finish_loading)
        target = os.environ.get("VEILLE_TUI_BENCH")
        if target:
            self.call_after_refresh(self._bench_exit, target)

    def _bench_exit(self, target: str) -> None:
        import resource

        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        Path(target).write_text(f"{time.time()} {rss_kb}\n")
        self.exit(0)

    # ------------------------------------------------------------- screens
    def main_screen(self) -> Any:
        from veille.tui.screens.main import MainScreen

        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def subscribed(self, feed: Feed | None) -> None:
        """Leave the welcome screen once there is something to read."""
        from veille.tui.screens.main import MainScreen

        if self.main_screen() is None:
            self.switch_screen(MainScreen())
        ids = [feed.id] if feed else None
        self.call_after_refresh(lambda: self.start_refresh(ids, quiet=True))

    # ----------------------------------------------------------- UI state
    def save_ui(self) -> None:
        try:
            save_state(self.ui_path, self.ui)
        except OSError as exc:
            self.notify(
                f"Could not save the layout: {_safe(exc)}", severity="warning", markup=False
            )

    def watch_theme(self, name: str) -> None:
        if self._started and name != self.ui.theme:
            self.ui.theme = name
            self.save_ui()

    def action_cycle_theme(self) -> None:
        names = list(self.veille_themes) or [DEFAULT_THEME]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", markup=False, timeout=2)

    def action_help(self) -> None:
        from veille.tui.screens.help import HelpScreen
        from veille.tui.screens.shares import HelpWithShares

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpWithShares(self.keys_conf))

    async def action_quit(self) -> None:
        self.save_ui()
        self.exit(0)

    # --------------------------------------------------------------- palette
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        from veille.tui.screens.main import MainScreen
        from veille.tui.screens.shares import SharesScreen

        if isinstance(screen, SharesScreen):
            for kd in SHARES_KEYS:
                yield SystemCommand(
                    kd.description,
                    f"key: {effective_keys(self.keys_conf, kd)}",
                    partial(screen.run_action, kd.action or kd.id),
                )
        if isinstance(screen, MainScreen):
            for kd in MAIN_KEYS:
                keys = effective_keys(self.keys_conf, kd)
                yield SystemCommand(
                    kd.description,
                    f"key: {keys}",
                    partial(screen.run_action, kd.action or kd.id),
                )
        for kd in APP_KEYS:
            if kd.id in ("help", "cycle_theme"):
                yield SystemCommand(
                    kd.description,
                    f"key: {effective_keys(self.keys_conf, kd)}",
                    partial(self.run_action, kd.id),
                )
        for name in self.veille_themes:
            yield SystemCommand(
                f"Theme: {name}", "switch theme (remembered)", partial(setattr, self, "theme", name)
            )
        yield SystemCommand(
            "Add a feed", "subscribe to a feed or page, or import OPML", self.ask_add_feed
        )

    # ---------------------------------------------------------- background
    def _tick(self) -> None:
        version = self.store.version
        if version != self._counted:
            self._counted_now(version, self.store.totals())

    def recount_soon(self) -> None:
        """Counts are O(1) (the store keeps them), so they follow every change."""
        self._tick()

    def _counted_now(self, version: int, counts: tuple[int, int]) -> None:
        self._counted = version
        self.counts = counts
        main = self.main_screen()
        if main is not None:
            main.update_status()

    @work(thread=True, exit_on_error=False, group="load")
    def _finish_loading(self) -> None:
        """A lazily opened store reads its older months in a thread: show them
        when they are in, then build the search index before the first ``/``."""
        if not self.store.loaded.is_set():
            self.store.load_rest()
            self.call_from_thread(self._store_changed)
        self.store.search_ids("\x01")  # builds the index; finds nothing

    def _sync(self) -> None:
        self._sync_worker()

    @work(thread=True, exit_on_error=False, group="sync", exclusive=True)
    def _sync_worker(self) -> None:
        if self.store.sync():
            self.call_from_thread(self._store_changed)

    def _store_changed(self) -> None:
        main = self.main_screen()
        if main is not None:
            main.reload_view()

    def _auto_update(self) -> None:
        if self.store.feeds():
            self.start_refresh(None, due_only=True, quiet=True)

    def start_refresh(
        self, feed_ids: list[str] | None, *, due_only: bool = False, quiet: bool = False
    ) -> None:
        if refresh_feeds is None:
            self.notify("Refreshing is not available in this build.", severity="error")
            return
        if self._refreshing:
            if not quiet:
                self.notify("A refresh is already running.", timeout=2)
            return
        self._refreshing = True
        try:
            _start_resource_tracker()
            self._set_progress("refreshing…")
            self._refresh_worker(feed_ids, due_only, quiet)
        except Exception:
            self._refreshing = False
            raise

    @work(thread=True, exit_on_error=False, group="refresh")
    def _refresh_worker(self, feed_ids: list[str] | None, due_only: bool, quiet: bool) -> None:
        try:
            summary = asyncio.run(
                refresh_feeds(
                    self.store,
                    self.config,
                    feed_ids=feed_ids,
                    due_only=due_only,
                    on_progress=lambda p: self.call_from_thread(self._on_progress, p),
                )
            )
        except Exception as exc:
            self.call_from_thread(self._refresh_failed, exc)
            return
        finally:
            self._refreshing = False
        self.call_from_thread(self._refresh_done, summary, quiet)

    def _set_progress(self, text: str) -> None:
        main = self.main_screen()
        if main is not None:
            main.progress_text = text
            main.update_status()

    def _on_progress(self, p: Any) -> None:
        text = f"⟳ {p.done}/{p.total} feeds"
        if p.new_items:
            text += f", +{p.new_items}"
        self.last_errors = p.errors
        self._set_progress(text)
        now = time.monotonic()
        if p.new_items and now - self._last_reload > 1.0:
            self._last_reload = now
            self._store_changed()

    def _refresh_done(self, summary: Any, quiet: bool) -> None:
        self.new_items += summary.new_items
        self.last_errors = summary.errors
        self._set_progress("")
        if summary.new_items or summary.updated_items:
            self._store_changed()
        if not quiet or summary.new_items or summary.errors:
            line = summary.line() if hasattr(summary, "line") else str(summary)
            self.notify(
                line,
                markup=False,
                timeout=4,
                severity="warning" if summary.errors else "information",
            )

    def _refresh_failed(self, exc: BaseException) -> None:
        self._set_progress("")
        self.notify(f"Refresh failed: {_safe(exc)}", severity="error", markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            self.notify(
                f"{event.worker.group or 'background'} task failed: {_safe(err)}",
                severity="error",
                markup=False,
            )

    # --------------------------------------------------------- subscribing
    def subscribe_blocking(self, url: str, *, pick: int | None = None) -> Any:
        """Run add_subscription on this (worker) thread."""
        if add_subscription is None:
            raise RuntimeError("subscribing is not available in this build")
        return asyncio.run(add_subscription(self.store, self.config, url, pick=pick))

    def import_opml_file(self, path: Path) -> tuple[bool, str]:
        if import_opml is None:
            return False, "OPML import is not available in this build"
        try:
            res = import_opml(self.store, path)
        except OpmlError as exc:
            return False, _safe(exc)
        except OSError as exc:
            return False, f"cannot read {path}: {_safe(exc)}"
        added, known = res[0], res[1]
        return True, f"Imported {added} feed(s), {known} already there."

    def ask_add_feed(self) -> None:
        from veille.tui.screens.pickers import AskScreen

        def done(value: str | None) -> None:
            value = (value or "").strip()
            if not value:
                return
            path = Path(value).expanduser()
            if value.lower().endswith(".opml") or path.is_file():
                ok, msg = self.import_opml_file(path)
                self.notify(msg, markup=False, severity="information" if ok else "error")
                if ok:
                    self.start_refresh(None, quiet=True)
                return
            self.notify(f"Looking for feeds at {value}…", markup=False, timeout=2)
            self._subscribe_worker(value, None)

        self.push_screen(
            AskScreen(
                "Add a feed",
                "",
                "https://… (feed or page) or path/to/file.opml",
                "enter adds · esc cancels",
            ),
            done,
        )

    @work(thread=True, exit_on_error=False, group="subscribe")
    def _subscribe_worker(self, url: str, pick: int | None) -> None:
        result = self.subscribe_blocking(url, pick=pick)
        self.call_from_thread(self._subscribe_done, url, result)

    def _subscribe_done(self, url: str, result: Any) -> None:
        from veille.tui.screens.pickers import PickScreen

        if result.feed is not None:
            self.notify(result.message, markup=False)
            if result.created:
                self.start_refresh([result.feed.id], quiet=True)
            return
        if result.candidates and len(result.candidates) > 1:
            choices = [
                (str(i + 1), f"{c.title or c.url}  {c.url}")
                for i, c in enumerate(result.candidates)
            ]

            def chosen(key: str | None) -> None:
                if key:
                    self._subscribe_worker(url, int(key))

            self.push_screen(PickScreen("Several feeds found", choices), chosen)
            return
        self.notify(result.message or "No feed found.", severity="error", markup=False)

    # ------------------------------------------------------------- sharing
    @property
    def secrets(self) -> Any:
        """The secret store, opened on first use (a keyring backend can be slow)."""
        if self._secrets is None:
            from veille.accounts.config import open_secrets

            self._secrets = open_secrets(self.paths.config)
        return self._secrets

    def share_accounts(self) -> dict[str, Any]:
        """Every destination, with Mastodon limits learnt from the instance when known.

        A broken ``[accounts]`` table is reported and leaves the Atom feed, so
        sharing still works.
        """
        from dataclasses import replace

        from veille.accounts.config import ATOM, Account, AccountError, atom_path, load_accounts
        from veille.share.outbox import data_dir

        try:
            accounts = load_accounts(self.config, data_dir(self.store))
        except AccountError as exc:
            self.notify(f"config [accounts]: {_safe(exc)}", severity="error", markup=False)
            path = atom_path(self.config, data_dir(self.store))
            return {ATOM: Account(name=ATOM, type=ATOM, path=str(path))}
        for name, account in accounts.items():
            known = self._share_limits.get(name)
            if account.type == "mastodon" and known is not None:
                accounts[name] = replace(account, max_characters=known[0], url_length=known[1])
        return accounts

    def learn_limits(self, accounts: dict[str, Any], on_done: Callable[[], None]) -> None:
        """Ask each Mastodon instance for its limits once, in the background."""
        for name, account in accounts.items():
            if account.type != "mastodon" or name in self._limits_asked:
                continue
            self._limits_asked.add(name)
            self._limits_worker(name, account, on_done)

    @work(thread=True, exit_on_error=False, group="limits")
    def _limits_worker(self, name: str, account: Any, on_done: Callable[[], None]) -> None:
        from veille.clients.mastodon import MastodonClient

        async def ask() -> tuple[int, int]:
            token = self.secrets.get(account.secret("token")) or ""
            async with MastodonClient(account.instance, token) as client:
                return await client.limits()

        try:
            limits = asyncio.run(ask())
        except Exception:  # only a nicer counter: the defaults stand
            self._limits_asked.discard(name)
            return
        self.call_from_thread(self._limits_known, name, limits, on_done)

    def _limits_known(
        self, name: str, limits: tuple[int, int], on_done: Callable[[], None]
    ) -> None:
        self._share_limits[name] = limits
        on_done()

    def send_shares(self, share_ids: list[str] | None, accounts: dict[str, Any] | None) -> None:
        """Send due deliveries (of ``share_ids``, or all) in a thread; results as notes."""
        self._send_worker(share_ids, accounts, share_ids is not None)

    @work(thread=True, exit_on_error=False, group="outbox")
    def _send_worker(
        self, share_ids: list[str] | None, accounts: dict[str, Any] | None, loud: bool
    ) -> None:
        from veille.share.outbox import send_pending

        with self._send_lock:  # one sender in this process; the outbox locks across them
            try:
                done = asyncio.run(
                    send_pending(
                        self.store,
                        self.config,
                        self.secrets,
                        share_ids=share_ids,
                        accounts=accounts,
                    )
                )
            except Exception as exc:
                self.call_from_thread(
                    self.notify, f"Sending failed: {_safe(exc)}", severity="error", markup=False
                )
                return
        if done or loud:
            self.call_from_thread(self._sent, done)

    def _sent(self, done: list[tuple[str, str, Any]]) -> None:
        """One notification per delivery: sent with its URL, queued or failed with why."""
        for _sid, name, d in done:
            if d.status == "sent":
                msg, severity = f"{name}: sent" + (f" — {d.url}" if d.url else ""), "information"
            elif d.status == "queued":
                msg, severity = f"{name}: queued, will retry — {d.error or 'waiting'}", "warning"
            else:
                msg, severity = f"{name}: failed — {d.error or 'unknown error'}", "error"
            self.notify(_safe(msg), severity=severity, markup=False, timeout=6)  # type: ignore[arg-type]
        from veille.tui.screens.shares import SharesScreen

        for screen in self.screen_stack:
            if isinstance(screen, SharesScreen):
                screen.reload()
        self._store_changed_soon()

    def _store_changed_soon(self) -> None:
        main = self.main_screen()
        if main is not None and main.built:
            main.stream.refresh_rows()

    def _outbox_tick(self) -> None:
        """Queued deliveries whose back-off is over go out; nothing to do costs a scan."""
        pending = any(
            d.status in ("queued", "sending")
            for share in self.store.shares()
            for d in share.deliveries.values()
        )
        if pending and not self._send_lock.locked():
            self.send_shares(None, None)

    # ---------------------------------------------------------------- links
    def open_in_browser(self, url: str) -> None:
        """Open http(s) links in the browser ($BROWSER honoured); refuse the rest."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            self.notify(
                f"Not opening a {scheme or 'relative'} link: {clean_line(url)[:80]}",
                severity="warning",
                markup=False,
            )
            return
        browser = os.environ.get("BROWSER", "").split(os.pathsep)[0]
        try:
            name = Path(shlex.split(browser)[0]).name if browser else ""
        except ValueError:
            name = ""
        if name in CONSOLE_BROWSERS:
            with self.suspend():  # a console browser needs the terminal
                webbrowser.open(url)
            return
        self._open_worker(url)
        self.notify(f"Opening {clean_line(url)[:100]}", markup=False, timeout=2)

    @work(thread=True, exit_on_error=False, group="browser")
    def _open_worker(self, url: str) -> None:
        if not webbrowser.open(url):
            self.call_from_thread(
                self.notify, "No browser found: set $BROWSER.", severity="warning"
            )


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr.

    refresh_feeds parses on a process pool; the first pool starts the tracker,
    which passes ``sys.stderr.fileno()`` to the child.  Inside the app that is
    Textual's capture object (fileno -1): "bad value(s) in fds_to_keep".  So
    start it here, on the UI thread, with the terminal's stderr (~20 ms, once).
    """
    from multiprocessing import resource_tracker

    saved = sys.stderr
    try:
        sys.stderr = sys.__stderr__ or saved
        resource_tracker.ensure_running()
    except Exception:  # the refresh will report its own error
        pass
    finally:
        sys.stderr = saved


def run_app(paths: Paths, config: Config, store: Store) -> int:
    """Run the app until the user quits; the exit code for the CLI."""
    app = VeilleApp(store, config, paths)
    result = app.run()
    return int(result or 0) if app.return_code is None else int(app.return_code)


def _main() -> int:  # pragma: no cover - `python -m veille.tui.app`, before the CLI exists
    from veille.config import load_config
    from veille.paths import get_paths

    paths = get_paths().ensure()
    config = load_config(paths.config_file)
    store = Store(paths.store)
    try:
        return run_app(paths, config, store)
    finally:
        store.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
