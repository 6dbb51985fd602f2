"""Themes as TOML data files: shipped ones, then the user's ``<config>/themes``.

A theme file maps to ``textual.theme.Theme`` fields::

    name = "veille-dark"
    dark = true
    primary = "#5fafff"
    ...
    [variables]
    "footer-key-foreground" = "#5fafff"

Shipped themes are looked up in the installed package first (the wheel
force-includes the top-level ``themes/`` as ``veille/themes``), then in the
source tree, so an editable install finds them too.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from textual.theme import Theme

log = logging.getLogger(__name__)

DEFAULT_THEME = "veille-dark"
_FIELDS = {
    "name", "primary", "secondary", "warning", "error", "success", "accent", "foreground",
    "background", "surface", "panel", "boost", "dark", "luminosity_spread", "text_alpha",
    "variables",
}  # fmt: skip


def shipped_theme_dirs() -> list[Path]:
    dirs: list[Path] = []
    try:
        pkg = resources.files("veille") / "themes"
        if pkg.is_dir():
            dirs.append(Path(str(pkg)))
    except (ModuleNotFoundError, OSError, TypeError):
        pass
    src = Path(__file__).resolve().parents[3] / "themes"
    if src.is_dir() and src not in dirs:
        dirs.append(src)
    return dirs


def theme_from_toml(data: dict[str, Any], fallback_name: str) -> Theme:
    unknown = set(data) - _FIELDS
    if unknown:
        raise ValueError(f"unknown theme field(s): {', '.join(sorted(unknown))}")
    kwargs = dict(data)
    kwargs.setdefault("name", fallback_name)
    if "primary" not in kwargs:
        raise ValueError("a theme needs at least 'primary'")
    variables = kwargs.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError("'variables' must be a table")
    kwargs["variables"] = {str(k): str(v) for k, v in variables.items()}
    return Theme(**kwargs)


def load_theme_dir(folder: Path) -> tuple[list[Theme], list[str]]:
    """Themes of one folder, and one-line errors for files that are not valid."""
    themes: list[Theme] = []
    errors: list[str] = []
    if not folder.is_dir():
        return themes, errors
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            themes.append(theme_from_toml(data, path.stem))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, TypeError) as e:
            errors.append(f"theme {path.name}: {e}".splitlines()[0])
    return themes, errors


def load_themes(user_dir: Path | None = None) -> tuple[dict[str, Theme], list[str]]:
    """All themes by name (user themes override shipped ones of the same name)."""
    found: dict[str, Theme] = {}
    errors: list[str] = []
    folders: Iterable[Path] = [*reversed(shipped_theme_dirs()), *([user_dir] if user_dir else [])]
    for folder in folders:
        themes, errs = load_theme_dir(folder)
        errors.extend(errs)
        for t in themes:
            found[t.name] = t
    return found, errors
