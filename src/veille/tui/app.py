"""The full-screen app: ``veille`` with no arguments.

The app owns what outlives a screen: the session (store, config, services), the
theme, and the background work — refresh, sending shares, subscribing, syncing
with other processes.  Network work runs as async workers on Textual's own loop;
only CPU or disk work (reading the store's older months, syncing, opening a
browser) runs on threads.

It talks to screens in one direction only: it changes its reactives
(``counts``, ``items_version``, ``shares_version``, ``progress``,
``write_error``...) and screens watch them; screens ask for work with messages
(``RefreshRequested``, ``SendShares``...).  A failing worker becomes a
notification and a traceback in the log, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
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
from textual.reactive import var
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from veille.config import Config, ConfigError
from veille.paths import Paths
from veille.render.hygiene import clean_line
from veille.store.errors import StoreWriteError
from veille.store.store import Store
from veille.tui import messages
from veille.tui.keys import APP_KEYS, clashes, effective_keys, keymap_from_config
from veille.tui.screens.help import HelpScreen, key_display
from veille.tui.screens.main import MainScreen, Timers
from veille.tui.screens.pickers import AskScreen, PickScreen
from veille.tui.screens.welcome import WelcomeScreen
from veille.tui.services import articles, feeds
from veille.tui.services import rules as rules_service
from veille.tui.services.compose import has_pending
from veille.tui.services.session import Session
from veille.tui.services.settings import ConfigWatcher
from veille.tui.themes import DEFAULT_THEME, load_themes
from veille.util.urls import is_safe_link

log = logging.getLogger(__name__)


def refresh_feeds(*args: Any, **kwargs: Any) -> Any:
    """``refresh.runner.refresh_feeds``, imported at the first refresh: it brings
    the HTTP client and the parser, which the first paint does not need."""
    from veille.refresh.runner import refresh_feeds as run

    return run(*args, **kwargs)


OUTBOX_SECONDS = 30.0  # how often queued deliveries are looked at
CONFIG_SECONDS = 2.0  # how often config.toml is stat'ed for changes
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
    """veille's Textual app.  ``clock`` fixes "now" (ages in the stream) for tests;
    ``timers`` replaces Textual's timers for the mark-read delay (tests fire them);
    ``images=False`` never loads inline images (tests without network)."""

    CSS_PATH = "veille.tcss"
    TITLE = "veille"
    BINDINGS = [kd.binding() for kd in APP_KEYS if kd.id != "command_palette"]

    # What screens watch.  Changed only here, on the app's loop.
    counts: var[tuple[int, int]] = var((0, 0))  # unread (not dismissed), total
    items_version: var[int] = var(0)  # items came or went from outside the screen
    shares_version: var[int] = var(0)  # deliveries changed (sent, queued, failed)
    config_version: var[int] = var(0)  # config.toml was read again
    progress: var[str] = var("")  # the refresh in progress, for the status bar
    refreshing: var[bool] = var(False)
    new_items: var[int] = var(0)  # arrived since the app opened
    feed_errors: var[int] = var(0)  # failing feeds in the last refresh
    write_error: var[str] = var("")  # why the store could not save, until it can
    alerts: var[tuple[tuple[str, int], ...]] = var(())  # (alert, unread matches) for the status
    #: The last full-article fetch that ended: (item id, error or "").  Screens
    #: showing that item switch to the article, or say why there is none.
    article_done: var[tuple[str, str]] = var(("", ""), always_update=True)
    new_responses: var[int] = var(0)  # replies, likes... to your shares, not looked at yet

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
        config_seconds: float = CONFIG_SECONDS,
        timers: Timers | None = None,
        handle_signals: bool = False,
        images: bool = True,
    ) -> None:
        super().__init__()
        self.session = Session(store, config, paths, clock)
        self.paths = paths
        self.clock = clock
        self.auto_update = auto_update
        self.cursor_blink = cursor_blink
        self.sync_seconds = sync_seconds
        self.config_seconds = config_seconds
        self.timers = timers
        self.handle_signals = handle_signals
        self.images = images and config["images"] != "off"  # False: links only (tests)
        self.veille_themes, self._theme_errors = load_themes(paths.user_themes)
        self.keys_conf, self._unknown_keys = keymap_from_config(dict(config["keys"]))
        self.config_watcher = ConfigWatcher(config.path or paths.config_file)
        self.first_paint_at: float | None = None
        self.theme_variables: dict[str, str] = {}
        self._started = False
        self._last_reload = 0.0
        self._send_lock: asyncio.Lock | None = None
        self._quit_warned = False
        self._articles_pending: set[str] = set()
        self._signals: list[int] = []
        self._unknown_theme = ""
        self.terminal_log: list[str] | None = None  # see write_terminal
        self._choose_theme()

    @property
    def store(self) -> Store:
        return self.session.store

    @property
    def config(self) -> Config:
        return self.session.config

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

    def _choose_theme(self) -> None:
        """Register the themes and take the chosen one before the stylesheet is
        first read: switching after the first paint reparses all of it (~30 ms)."""
        for theme in self.veille_themes.values():
            self.register_theme(theme)
        wanted = self.session.ui.theme or self.config["theme"]
        if wanted not in self.available_themes:
            self._unknown_theme = wanted
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = wanted

    def on_mount(self) -> None:
        if self._unknown_theme:
            self.notify(
                f"Unknown theme {self._unknown_theme!r}; using {self.theme}.",
                markup=False,
                severity="warning",
            )
        self.set_keymap(self.keys_conf)
        for msg in self._theme_errors:
            self.notify(msg, severity="warning", markup=False)
        self._warn_about_keys()
        if self.store.problems:
            self.notify(
                "Damaged store files were set aside: " + "; ".join(self.store.problems),
                title="Store",
                severity="warning",
                markup=False,
                timeout=15,
            )
        if self.handle_signals:
            self._install_signals()
        if not self.store.feeds():  # the welcome screen, over Textual's default one
            self.push_screen(WelcomeScreen(self.session))
            self._finish_loading()
        self._tick()
        self.set_interval(0.5, self._tick)
        if self.sync_seconds > 0:
            self.set_interval(self.sync_seconds, self._sync)
        if self.config_seconds > 0:
            self.set_interval(self.config_seconds, self.check_config)
        if self.auto_update:
            self.set_interval(OUTBOX_SECONDS, self._outbox_tick)
            self.set_timer(3.0, self._outbox_tick)  # a share a crash left half-sent
            minutes = max(1, int(self.config["refresh_minutes"]))
            self.set_interval(minutes * 60, self._auto_update)
            self.set_timer(2.0, self._auto_update)
        self._started = True

    def get_default_screen(self) -> Screen[Any]:
        """The first screen, straight away: not Textual's empty default screen with
        ours pushed over it (a second compose, layout and full paint at start)."""
        return self._main_screen() if self.store.feeds() else super().get_default_screen()

    def _main_screen(self) -> MainScreen:
        return MainScreen(
            self.session,
            keymap=self.keys_conf,
            cursor_blink=self.cursor_blink,
            timers=self.timers,
            images=self.images,
        )

    def write_terminal(self, data: str) -> None:
        """Write escapes (images) straight to the terminal, in order with the frames.

        Through the driver's writer, as Textual's own ``copy_to_clipboard`` does:
        written from here, a frame being written at the same moment could be cut
        in two.  Nothing in a headless run (tests) or before the driver exists;
        ``terminal_log``, when a list, records what was written (tests)."""
        if self.terminal_log is not None:
            self.terminal_log.append(data)
        driver = self._driver
        if driver is not None and not driver.is_headless:
            driver.write(data)

    def _warn_about_keys(self) -> None:
        if self._unknown_keys:
            names = ", ".join(self._unknown_keys)
            self.notify(
                f"config [keys]: unknown action(s): {names} (? lists the names)",
                markup=False,
                severity="warning",
            )
        for clash in clashes(self.keys_conf):
            self.notify(clash.line(self.keys_conf), markup=False, severity="warning", timeout=10)

    def on_first_paint(self, event: messages.FirstPaint) -> None:
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
        """Write when the first frame with the stream was sent (FirstPaint is
        handled after the frame that posted it went to the terminal), then quit."""
        import resource

        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        Path(target).write_text(f"{self.first_paint_at} {rss_kb}\n")
        self.exit(0)

    # -------------------------------------------------------------- signals
    def _install_signals(self) -> None:
        """A closed terminal (SIGHUP) or a polite kill (SIGTERM): save, then quit."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
                continue
            self._signals.append(sig)

    def _on_signal(self, sig: int) -> None:
        """Save first, then go.  After SIGHUP the terminal is gone: restoring it
        could block on a dead writer, so the process leaves at once (everything is
        on disk by then).  After SIGTERM it quits normally, with a watchdog."""
        log.info("%s: saving and quitting", signal.Signals(sig).name)
        self.save_everything()
        if sig == signal.SIGHUP:
            logging.shutdown()
            os._exit(128 + sig)
        watchdog = threading.Timer(5.0, os._exit, args=(128 + sig,))
        watchdog.daemon = True
        watchdog.start()
        self.exit(128 + sig)

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self._signals = []

    def save_everything(self) -> bool:
        """Write the layout and every pending change now; False when the disk refused."""
        self.session.save_ui()
        try:
            self.store.flush()
        except StoreWriteError:
            log.warning("could not save at exit: %s", self.store.write_error)
            return False
        except Exception:
            log.exception("saving at exit failed")
            return False
        return True

    # ---------------------------------------------------------------- state
    def watch_theme(self, name: str) -> None:
        if self._started and name != self.session.ui.theme:
            self.session.ui.theme = name
            self._save_ui()

    def _save_ui(self) -> None:
        error = self.session.save_ui()
        if error:
            self.notify(error, severity="warning", markup=False)

    def _tick(self) -> None:
        """Counts are O(1) (the store keeps them); a failing disk shows until it heals;
        alert counts walk only the items alerts matched."""
        self.counts = self.store.totals()
        self.write_error = self.store.write_error or ""
        self.alerts = rules_service.alert_summary(self.store)

    def on_state_changed(self, event: messages.StateChanged) -> None:
        self.counts = self.store.totals()
        self.alerts = rules_service.alert_summary(self.store)

    def on_items_changed(self, event: messages.ItemsChanged) -> None:
        self._items_changed()
        self.alerts = rules_service.alert_summary(self.store)

    def check_config(self) -> None:
        """config.toml changed on disk (an account added from the command line):
        read it again, so the composer and the outbox use it now."""
        try:
            config = self.config_watcher.poll()
        except ConfigError as exc:
            self.notify(f"config.toml not reloaded: {_safe(exc)}", severity="error", markup=False)
            return
        if config is None:
            return
        self.session.set_config(config)
        self.keys_conf, self._unknown_keys = keymap_from_config(dict(config["keys"]))
        self.set_keymap(self.keys_conf)
        self.config_version += 1
        self.notify("config.toml changed: reloaded.", timeout=2)

    def on_check_config(self, event: messages.CheckConfig) -> None:
        self.check_config()

    # ------------------------------------------------------------- actions
    def action_cycle_theme(self) -> None:
        names = list(self.veille_themes) or [DEFAULT_THEME]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", markup=False, timeout=2)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keys_conf))

    async def action_quit(self) -> None:
        if not self.save_everything() and not self._quit_warned:
            self._quit_warned = True
            self.notify(
                f"Not saved: {_safe(self.store.write_error)}. Press q again to quit anyway "
                "(the unsaved changes are lost).",
                severity="error",
                markup=False,
                timeout=10,
            )
            return
        self.exit(0)

    # --------------------------------------------------------------- palette
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        provide = getattr(screen, "palette_commands", None)
        if callable(provide):
            for title, help_text, callback in provide():
                yield SystemCommand(title, help_text, callback)
        for kd in APP_KEYS:
            if kd.id in ("help", "cycle_theme"):
                keys = key_display(self, effective_keys(self.keys_conf, kd))
                yield SystemCommand(kd.description, f"key: {keys}", partial(self.run_action, kd.id))
        for name in self.veille_themes:
            yield SystemCommand(
                f"Theme: {name}", "switch theme (remembered)", partial(setattr, self, "theme", name)
            )
        yield SystemCommand(
            "Add a feed (or import OPML)",
            "subscribe to a feed or a web page that links to one — key: a",
            self.ask_add_feed,
        )
        yield SystemCommand(
            "Import feeds from an OPML file",
            "subscribe to every feed of an OPML export of another reader",
            partial(self.ask_add_feed, "Import feeds from an OPML file", "path/to/file.opml"),
        )
        yield SystemCommand(
            "Export feeds to an OPML file",
            "write your subscriptions as OPML (backup, or another reader)",
            self.ask_export,
        )

    # ---------------------------------------------------------- background
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            log.error("background task %s failed", event.worker.name, exc_info=err)
            self.notify(
                f"{event.worker.group or 'background'} task failed: {_safe(err)}",
                severity="error",
                markup=False,
            )

    @work(thread=True, exit_on_error=False, group="load")
    def _finish_loading(self) -> None:
        """A lazily opened store reads its older months in a thread: show them
        when they are in, then build the search index before the first ``/``."""
        import veille.share.outbox  # noqa: F401  # the composer's preview needs it: here, not on the UI's loop

        if not self.store.loaded.is_set():
            self.store.load_rest()
            self.store.ordered_ids()  # sorted here, not by the view's reload on the UI's loop
            self.call_from_thread(self._items_changed)
        self.store.search_ids("\x01")  # builds the index; finds nothing
        if self.images:
            self._prune_images()

    def _items_changed(self) -> None:
        self.counts = self.store.totals()
        self.items_version += 1

    def _sync(self) -> None:
        self._sync_worker()

    @work(thread=True, exit_on_error=False, group="sync", exclusive=True)
    def _sync_worker(self) -> None:
        """Pick up what another process (cron's refresh, `veille mark`) wrote: disk
        reads and JSON parsing, so a thread."""
        if self.store.sync():
            self.call_from_thread(self._items_changed)

    def _auto_update(self) -> None:
        if self.store.feeds():
            self.start_refresh(None, due_only=True, quiet=True)

    def on_refresh_requested(self, event: messages.RefreshRequested) -> None:
        self.start_refresh(event.feed_ids, quiet=event.quiet)

    def start_refresh(
        self, feed_ids: list[str] | None, *, due_only: bool = False, quiet: bool = False
    ) -> None:
        if self.refreshing:
            if not quiet:
                self.notify("A refresh is already running.", timeout=2)
            return
        self.refreshing = True
        self.progress = "⟳ refreshing…"
        _start_resource_tracker()
        self._refresh(feed_ids, due_only, quiet)

    @work(exit_on_error=False, group="refresh")
    async def _refresh(self, feed_ids: list[str] | None, due_only: bool, quiet: bool) -> None:
        """Poll on the app's loop: fetching is network waiting, parsing happens in
        refresh's process pool, and reading the store's older months in a thread."""
        try:
            await asyncio.to_thread(self.store.load_rest)
            social = any(f.kind != "feed" for f in self.store.feeds())
            summary = await refresh_feeds(
                self.store,
                self.config,
                feed_ids=feed_ids,
                due_only=due_only,
                on_progress=self._on_progress,
                cache_dir=self.paths.cache,
                accounts=self.session.compose.accounts() if social else None,
            )
        except Exception as exc:
            log.exception("refresh failed")
            self.notify(f"Refresh failed: {_safe(exc)}", severity="error", markup=False)
            return
        finally:
            self.refreshing = False
            self.progress = ""
        self.new_items += summary.new_items
        self.feed_errors = summary.errors
        if summary.new_items or summary.updated_items:
            self._items_changed()
        self._responses_came(summary.responses)
        if not quiet or summary.new_items or summary.errors:
            self.notify(
                summary.line(),
                markup=False,
                timeout=4,
                severity="warning" if summary.errors else "information",
            )

    def _responses_came(self, n: int) -> None:
        """What came back to your shares: said once, counted in the status bar until
        the Shares view is opened, shown there and in the shared items."""
        if n <= 0:
            return
        self.new_responses += n
        self.shares_version += 1
        self.notify(
            f"{n} new response{'s' if n != 1 else ''} to your shares — S shows them",
            markup=False,
            timeout=6,
        )

    def on_responses_seen(self, event: messages.ResponsesSeen) -> None:
        self.new_responses = 0

    def _on_progress(self, p: Any) -> None:
        text = f"⟳ {p.done}/{p.total} feeds"
        if p.new_items:
            text += f", +{p.new_items}"
        self.feed_errors = p.errors
        self.progress = text
        now = time.monotonic()
        if p.new_items and now - self._last_reload > 1.0:
            self._last_reload = now
            self._items_changed()

    # ------------------------------------------------------------- sharing
    def on_send_shares(self, event: messages.SendShares) -> None:
        self.send_shares(event.share_ids, loud=True)

    def send_shares(self, share_ids: list[str] | None, *, loud: bool) -> None:
        self._send(share_ids, loud)

    @work(exit_on_error=False, group="outbox")
    async def _send(self, share_ids: list[str] | None, loud: bool) -> None:
        """Send due deliveries on the app's loop; one notification per delivery."""
        if self._send_lock is None:
            self._send_lock = asyncio.Lock()
        async with self._send_lock:  # one sender in this process; the outbox locks across
            self.check_config()  # accounts as config.toml says now
            try:
                done = await self.session.compose.send_pending(share_ids)
            except Exception as exc:
                log.exception("sending shares failed")
                self.notify(f"Sending failed: {_safe(exc)}", severity="error", markup=False)
                return
        for d in done:
            severity = {"sent": "information", "queued": "warning"}.get(d.status, "error")
            self.notify(d.line(), severity=severity, markup=False, timeout=6)  # type: ignore[arg-type]
        if done or loud:
            self.shares_version += 1

    def _outbox_tick(self) -> None:
        """Queued deliveries whose back-off is over go out; nothing to do costs a scan."""
        locked = self._send_lock is not None and self._send_lock.locked()
        if not locked and has_pending(self.store.shares()):
            self.send_shares(None, loud=False)

    # --------------------------------------------------------- subscribing
    def on_add_feed_requested(self, event: messages.AddFeedRequested) -> None:
        self.ask_add_feed()

    def ask_add_feed(
        self,
        title: str = "Add a feed",
        placeholder: str = "https://… (feed or page) or path/to/file.opml",
    ) -> None:
        def done(value: str | None) -> None:
            value = (value or "").strip()
            if not value:
                return
            if feeds.is_file_answer(value):
                ok, msg = feeds.import_file(self.store, value)
                self.notify(msg, markup=False, severity="information" if ok else "error")
                if ok:
                    self._subscribed(None)
                return
            self.notify(f"Looking for feeds at {value}…", markup=False, timeout=2)
            self._subscribe(value, None)

        self.push_screen(AskScreen(title, "", placeholder, "enter adds · esc cancels"), done)

    def ask_export(self) -> None:
        def done(value: str | None) -> None:
            if value is None:
                return
            ok, msg = feeds.export_file(self.store, value)
            self.notify(msg, markup=False, severity="information" if ok else "error")

        self.push_screen(
            AskScreen(
                "Export feeds to an OPML file",
                feeds.DEFAULT_EXPORT,
                "path/to/file.opml",
                "enter writes · esc cancels",
            ),
            done,
        )

    @work(exit_on_error=False, group="subscribe")
    async def _subscribe(self, url: str, pick: int | None) -> None:
        """Discovery is network work: on the app's loop."""
        result = await feeds.subscribe(self.store, self.config, url, pick)
        if result.feed is not None:
            self.notify(result.message, markup=False)
            if result.created:
                self._subscribed(result.feed.id)
            return
        if result.candidates and len(result.candidates) > 1:
            choices = [
                (str(i + 1), f"{c.title or c.url}  {c.url}")
                for i, c in enumerate(result.candidates)
            ]

            def chosen(key: str | None) -> None:
                if key:
                    self._subscribe(url, int(key))

            self.push_screen(PickScreen("Several feeds found", choices), chosen)
            return
        self.notify(result.message or "No feed found.", severity="error", markup=False)

    def on_subscribed(self, event: messages.Subscribed) -> None:
        self._subscribed(event.feed_id)

    def _subscribed(self, feed_id: str | None) -> None:
        """Leave the welcome screen once there is something to read; fetch it."""
        if isinstance(self.screen, WelcomeScreen):
            self.switch_screen(self._main_screen())
        else:
            self.items_version += 1
        ids = [feed_id] if feed_id else None
        self.call_after_refresh(lambda: self.start_refresh(ids, quiet=True))

    def _prune_images(self) -> None:
        """Keep the image cache within images_cache_mb (a directory scan: called from
        the loading thread, after the first paint, as is the import of Pillow)."""
        from veille.tui.services.images import ImageLoader

        ImageLoader(self.config, self.paths.cache / "images").prune()

    # -------------------------------------------------------- full articles
    def on_article_requested(self, event: messages.ArticleRequested) -> None:
        if event.item_id in self._articles_pending:
            return
        self._articles_pending.add(event.item_id)
        self._fetch_article(event.item_id, event.quiet)

    @work(exit_on_error=False, group="article")
    async def _fetch_article(self, item_id: str, quiet: bool) -> None:
        """The page through the polite fetcher on the app's loop, the extraction in
        a thread (``fetch_article``); the result cached in the store."""
        try:
            error = await articles.fetch_and_cache(self.store, self.config, item_id)
        except Exception as exc:  # a bug: the log has it, the user one line
            log.exception("fetching the article of %s failed", item_id)
            error = f"could not fetch the article: {_safe(exc)}"
        finally:
            self._articles_pending.discard(item_id)
        if error and not quiet:
            log.info("no article for %s: %s", item_id, error)
        self.article_done = (item_id, error)

    # ---------------------------------------------------------------- links
    def on_open_url(self, event: messages.OpenUrl) -> None:
        self.open_in_browser(event.url)

    def open_in_browser(self, url: str) -> None:
        """Open http(s) links in the browser ($BROWSER honoured); refuse the rest."""
        if not is_safe_link(url):
            scheme = urlsplit(url).scheme.lower()
            what = f"a {scheme}" if scheme not in ("", "http", "https") else "this"
            self.notify(
                f"Not opening {what} link: {clean_line(url)[:80]}",
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
    app = VeilleApp(store, config, paths, handle_signals=True)
    result = app.run()
    return int(result or 0) if app.return_code is None else int(app.return_code)


def _main() -> int:  # pragma: no cover - `python -m veille.tui.app`, before the CLI exists
    from veille.config import load_config
    from veille.paths import get_paths

    paths = get_paths().ensure()
    config = load_config(paths.config_file)
    store = Store(paths.store, lazy=3000)  # as the CLI opens it: the rest after the paint
    try:
        return run_app(paths, config, store)
    finally:
        store.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
