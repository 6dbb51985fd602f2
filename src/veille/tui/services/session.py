"""What every screen of the app works with, handed to each one by the app.

Screens get this (not the app) so they never import the app, and so the
services they call are the same objects the app's background work uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from veille.config import Config
from veille.paths import Paths
from veille.render.hygiene import clean_line
from veille.store.store import Store
from veille.tui.services.compose import ComposeService
from veille.tui.services.triage import Triage
from veille.tui.state import UIState, load_state, save_state


@dataclass
class Session:
    store: Store
    config: Config
    paths: Paths
    clock: Callable[[], datetime] | None = None
    ui: UIState = field(default_factory=UIState)
    triage: Triage = field(init=False)
    compose: ComposeService = field(init=False)

    def __post_init__(self) -> None:
        self.ui = load_state(self.ui_path)
        self.triage = Triage(self.store)
        self.compose = ComposeService(self.store, self.config, self.paths.config)

    @property
    def ui_path(self) -> Path:
        return self.paths.state / "ui.json"

    def save_ui(self) -> str:
        """Write the layout; the reason in one line when it could not be."""
        try:
            save_state(self.ui_path, self.ui)
        except OSError as exc:
            return f"Could not save the layout: {clean_line(exc.strerror or str(exc))}"
        return ""

    def set_config(self, config: Config) -> None:
        self.config = config
        self.compose.reload(config)
