"""First run: no feeds yet.  Add a feed (or a page that links to one) or import
an OPML file right here, then go on to the stream — never an empty screen."""

from __future__ import annotations

import logging
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Center, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from veille.render.hygiene import clean_line
from veille.tui.messages import Subscribed
from veille.tui.services import feeds
from veille.tui.services.session import Session

log = logging.getLogger(__name__)

INTRO = (
    "No feeds yet. Paste the address of a feed — or of any web page, veille "
    "finds its feeds — or import the OPML file exported from your old reader."
)


class WelcomeScreen(Screen[None]):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._url = ""

    def compose(self) -> ComposeResult:
        with Center(id="welcome-center"), Vertical(id="welcome-box"):
            yield Static(Text("Welcome to veille", style="bold"), id="welcome-title")
            yield Static(Text(INTRO), id="welcome-intro")
            yield Static(Text("Feed or page address", style="bold"))
            with Horizontal(classes="welcome-row"):
                yield Input(placeholder="https://example.org/feed.xml", id="welcome-url")
                yield Button("Add", id="welcome-add", variant="primary")
            yield OptionList(id="welcome-candidates")
            yield Static(Text("OPML file", style="bold"))
            with Horizontal(classes="welcome-row"):
                yield Input(placeholder="~/Downloads/subscriptions.opml", id="welcome-opml")
                yield Button("Import", id="welcome-import")
            yield Static("", id="welcome-status")
            yield Static(Text("ctrl+q quits · ? keys", style="dim"))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#welcome-candidates").display = False
        self.query_one("#welcome-url", Input).focus()

    def status(self, message: str, *, error: bool = False) -> None:
        style = "bold red" if error else ""
        self.query_one("#welcome-status", Static).update(Text(clean_line(message), style=style))

    # --------------------------------------------------------------- events
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "welcome-url":
            self.add(event.value)
        elif event.input.id == "welcome-opml":
            self.import_file(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "welcome-add":
            self.add(self.query_one("#welcome-url", Input).value)
        elif event.button.id == "welcome-import":
            self.import_file(self.query_one("#welcome-opml", Input).value)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.add(self._url, pick=event.option_index + 1)

    # -------------------------------------------------------------- actions
    def add(self, url: str, pick: int | None = None) -> None:
        url = url.strip()
        if not url:
            self.status("Type a feed or page address first.", error=True)
            return
        self._url = url
        self.status(f"Looking for feeds at {url}…")
        self._add_worker(url, pick)

    @work(exit_on_error=False, group="subscribe", exclusive=True)
    async def _add_worker(self, url: str, pick: int | None) -> None:
        """Discovery and subscribing are network work: on the app's loop, not a thread."""
        try:
            result = await feeds.subscribe(self.session.store, self.session.config, url, pick)
        except Exception as exc:  # a bug: one line here, the traceback in the log
            log.exception("subscribing to %s failed", url)
            self.status(f"Could not add {url}: {type(exc).__name__}: {exc}", error=True)
            return
        self._added(result)

    def _added(self, result: Any) -> None:
        cands = self.query_one("#welcome-candidates", OptionList)
        if result.feed is not None:
            self.status(result.message)
            self.post_message(Subscribed(result.feed.id))
            return
        if result.candidates and len(result.candidates) > 1:
            cands.clear_options()
            for c in result.candidates:
                label = Text(clean_line(getattr(c, "title", "") or c.url))
                label.append("  ")
                label.append(clean_line(c.url), style="dim")
                cands.add_option(Option(label))
            cands.display = True
            cands.highlighted = 0
            cands.focus()
            self.status("Several feeds found: pick one.")
            return
        self.status(result.message or "No feed found.", error=True)

    def import_file(self, raw: str) -> None:
        raw = raw.strip()
        if not raw:
            self.status("Type the path of an OPML file first.", error=True)
            return
        ok, message = feeds.import_file(self.session.store, raw)
        self.status(message, error=not ok)
        if ok and self.session.store.feeds():
            self.post_message(Subscribed(None))
