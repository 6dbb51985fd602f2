"""Where veille keeps its files.

platformdirs gives the per-OS locations; ``VEILLE_HOME=DIR`` puts all of them
under one folder, for tests and portable installs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "veille"


@dataclass(frozen=True)
class Paths:
    config: Path
    data: Path
    cache: Path
    state: Path

    @property
    def config_file(self) -> Path:
        return self.config / "config.toml"

    @property
    def store(self) -> Path:
        return self.data / "store"

    @property
    def user_themes(self) -> Path:
        return self.config / "themes"

    @property
    def secrets_file(self) -> Path:
        return self.config / "secrets.json"

    @property
    def log_file(self) -> Path:
        return self.state / "veille.log"

    def ensure(self) -> Paths:
        for p in (self.config, self.data, self.cache, self.state):
            p.mkdir(parents=True, exist_ok=True)
        return self


def get_paths(home: str | os.PathLike[str] | None = None) -> Paths:
    """Return the four folders; ``home`` (or ``$VEILLE_HOME``) overrides them all."""
    home = home if home is not None else os.environ.get("VEILLE_HOME") or None
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(root / "config", root / "data", root / "cache", root / "state")
    return Paths(
        Path(platformdirs.user_config_dir(APP)),
        Path(platformdirs.user_data_dir(APP)),
        Path(platformdirs.user_cache_dir(APP)),
        Path(platformdirs.user_state_dir(APP)),
    )
