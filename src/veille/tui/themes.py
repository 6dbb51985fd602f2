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
import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from veille.domain.errors import VeilleError
from veille.render.hygiene import clean_line

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


_COLOURS = (
    "primary", "secondary", "warning", "error", "success", "accent", "foreground",
    "background", "surface", "panel", "boost",
)  # fmt: skip
_FRACTIONS = ("luminosity_spread", "text_alpha")
_COLOUR_VARIABLE = re.compile(r"^veille-|(?:foreground|background|color|colour)$")
_EXAMPLE = '"#5fafff"'


class ThemeError(VeilleError, ValueError):
    """A theme file cannot be used; the message is one line naming the key."""


def _colour(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeError(f"{key}: expected a colour such as {_EXAMPLE}, got {_shown(value)}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(
            f"{key}: {_shown(value)} is not a colour (try one such as {_EXAMPLE})"
        ) from None
    return value


def _shown(value: object) -> str:
    text = clean_line(repr(value))
    return text if len(text) <= 60 else text[:59] + "…"


def theme_from_toml(data: dict[str, Any], fallback_name: str) -> Theme:
    """A Theme from a theme file's table, every value checked for its type.

    Textual takes any value and fails later, while painting, with a traceback: a theme
    file is user input, so its mistakes become :class:`ThemeError` here, one line that
    names the key.
    """
    unknown = set(data) - _FIELDS
    if unknown:
        raise ThemeError(f"unknown theme field(s): {', '.join(sorted(unknown))}")
    kwargs = dict(data)
    kwargs.setdefault("name", fallback_name)
    if not isinstance(kwargs["name"], str) or not kwargs["name"].strip():
        raise ThemeError(f"name: expected a non-empty string, got {_shown(kwargs['name'])}")
    if "primary" not in kwargs:
        raise ThemeError("a theme needs at least 'primary'")
    for key in _COLOURS:
        if key in kwargs:
            _colour(key, kwargs[key])
    if "dark" in kwargs and not isinstance(kwargs["dark"], bool):
        raise ThemeError(f"dark: expected true or false, got {_shown(kwargs['dark'])}")
    for key in _FRACTIONS:
        value = kwargs.get(key)
        if key in kwargs and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= 1  # NaN fails this too
        ):
            raise ThemeError(f"{key}: expected a number from 0 to 1, got {_shown(value)}")
    variables = kwargs.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeError("variables: must be a table ([variables])")
    for name, value in variables.items():
        if isinstance(value, dict | list | bool):
            raise ThemeError(f"variables.{name}: expected a string, got {_shown(value)}")
        if _COLOUR_VARIABLE.search(str(name)):
            _colour(f"variables.{name}", value)
    kwargs["variables"] = {str(k): str(v) for k, v in variables.items()}
    theme = Theme(**kwargs)
    try:  # what Textual will do with it when it paints: fail now, not then
        theme.to_color_system().generate()
    except Exception as exc:
        log.exception("theme %s cannot be used", kwargs["name"])
        raise ThemeError(f"cannot be used: {clean_line(str(exc))}") from None
    return theme


def load_theme_dir(folder: Path) -> tuple[list[Theme], list[str]]:
    """Themes of one folder, and one-line errors ("theme FILE: key: why") for the files
    that are not valid, which are left out."""
    themes: list[Theme] = []
    errors: list[str] = []
    if not folder.is_dir():
        return themes, errors
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            themes.append(theme_from_toml(data, path.stem))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as e:
            errors.append(clean_line(f"theme {path}: {e}"))
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
