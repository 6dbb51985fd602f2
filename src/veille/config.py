"""config.toml: defaults, validation, and one-line errors that name the key and line.

Every key lives in ``SCHEMA`` with its type, default, range and a one-line doc; the
README table is checked against it by the tests, so the two cannot drift.

Numbers have bounds as well as types: NaN, infinity and absurd values (100,000 parser
processes, a poll every 10^12 minutes) are refused here, with the key and its line,
rather than forking thousands of processes or overflowing a date deep in a refresh.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veille.domain.errors import VeilleError
from veille.domain.text import clean_line


class ConfigError(VeilleError):
    """The config file is unreadable or has a bad value; the message is one line."""


@dataclass(frozen=True)
class Key:
    name: str  # dotted, e.g. "fetch.concurrency"
    type: type | tuple[type, ...]
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()  # the only values a string key takes, when limited

    def range_text(self) -> str:
        """The allowed range as the README writes it ("1–43200", "auto, on, off"), ""
        when any value of its type goes."""
        if self.choices:
            return ", ".join(self.choices)
        if self.minimum is None and self.maximum is None:
            return ""
        return f"{_num(self.minimum)}–{_num(self.maximum)}"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


#: Per-feed and per-tag intervals share the bounds of refresh_minutes.
MINUTES_MAX = 43200  # 30 days


def parse_minutes(text: str) -> float | None:
    """A feed's refresh interval as typed (``feed edit --interval``, the feeds
    pane's ``i``): minutes from 1 to MINUTES_MAX, or "" / "default" for the
    config's own.  ConfigError says what is wrong, in one line."""
    value = text.strip().lower()
    if value in ("", "default"):
        return None
    shown_text = clean_line(text)[:40]
    try:
        minutes = float(value.removesuffix("min").strip())
    except ValueError:
        raise ConfigError(
            f"the interval is minutes (1 to {MINUTES_MAX}) or 'default', not {shown_text}"
        ) from None
    if not 1 <= minutes <= MINUTES_MAX:  # NaN too
        raise ConfigError(f"the interval must be 1 to {MINUTES_MAX} minutes, not {shown_text}")
    return minutes


# dotted name -> Key.  Tables whose keys are free-form are listed in FREE_TABLES.
SCHEMA: dict[str, Key] = {
    k.name: k
    for k in [
        Key("refresh_minutes", int, 30, "How often feeds are polled (minutes).", 1, MINUTES_MAX),
        Key(
            "keep_days",
            int,
            90,
            "Read, unstarred, unshared items older than this are dropped.",
            1,
            36500,
        ),
        Key(
            "max_items_per_feed",
            int,
            1000,
            "Read, unstarred, unshared items kept per feed.",
            1,
            1_000_000,
        ),
        Key(
            "mark_read_delay",
            (int, float),
            2,
            "Seconds an item you moved to must stay open to be marked read.",
            0,
            3600,
        ),
        Key(
            "confirm_over", int, 50, "Mark all read asks first when more items than this.", 0, 10**6
        ),
        Key("theme", str, "veille-dark", "Theme name (shipped or from <config>/themes)."),
        Key("fetch.concurrency", int, 16, "Feeds fetched at once, in total.", 1, 256),
        Key(
            "fetch.per_host",
            int,
            6,  # as browsers: many feeds on one host (Substack, Medium...) are not queued 2 by 2
            "Feeds fetched at once from one server (host and port).",
            1,
            16,
        ),
        Key("fetch.connect_timeout", (int, float), 10, "Seconds to connect.", 0.1, 600),
        Key("fetch.read_timeout", (int, float), 30, "Seconds to wait for data.", 0.1, 600),
        Key(
            "fetch.total_timeout",
            (int, float),
            60,
            "Seconds for a whole fetch, waiting for its host included.",
            0.1,
            3600,
        ),
        Key(
            "fetch.max_body_mb",
            (int, float),
            10,
            "Largest body accepted, decompressed (MiB).",
            0.01,
            1024,
        ),
        Key(
            "fetch.max_backoff_hours",
            (int, float),
            24,
            "Cap on the back-off of a failing feed.",
            0.01,
            720,
        ),
        Key(
            "fetch.max_interval_hours",
            (int, float),
            24,
            "Cap on server hints (ttl, max-age).",
            0.01,
            720,
        ),
        Key("fetch.workers", int, 0, "Parser processes (0 = one per core).", 0, 64),
        Key("refresh.tags", dict, {}, "Per-tag poll interval in minutes: name = minutes."),
        Key("refresh.feeds", dict, {}, 'Per-feed poll interval in minutes: "URL" = minutes.'),
        Key("keys", dict, {}, 'Key bindings: action = "key[,key]" (see `?` in the app).'),
        Key("share.template", str, "{comment}\n\n{title}\n{link}\n{via}", "Text of a new share."),
        Key("share.default_to", list, [], "Destinations ticked by default (names)."),
        Key("share.atom_path", str, "", "Your shares' Atom feed (default: <data>/shares.atom)."),
        Key(
            "share.atom_url",
            str,
            "",
            "Public URL of that feed once you publish it (its id and self link).",
        ),
        Key("share.atom_title", str, "Shared with veille", "Title of that feed."),
        Key("share.author", str, "", "Your name, in that feed."),
        Key("accounts", dict, {}, "Named destinations ([accounts.NAME], see README)."),
        Key("views", dict, {}, "Saved views ([views.NAME], see README)."),
        Key(
            "default_view",
            str,
            "",
            "The view the app opens with (a view's name); empty: the one you left.",
        ),
        Key(
            "images",
            str,
            "auto",
            "Inline images in the item pane: auto (not on a slow link), on or off.",
            choices=("auto", "on", "off"),
        ),
        Key(
            "images_protocol",
            str,
            "auto",
            "How images are drawn: auto (from the terminal's environment), kitty (graphics "
            "with Unicode placeholders; in tmux with allow-passthrough on), sixel, iterm "
            "(iTerm2 inline images) or blocks (colour half blocks).",
            choices=("auto", "kitty", "sixel", "iterm", "blocks"),
        ),
        Key("images_max_mb", (int, float), 5, "Largest image downloaded (MiB).", 0.01, 100),
        Key("images_cache_mb", (int, float), 200, "Disk cache of images (MiB).", 0, 100_000),
    ]
}
FREE_TABLES = {"refresh.tags", "refresh.feeds", "keys", "accounts", "views"}


@dataclass
class Config:
    values: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __getitem__(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        return SCHEMA[name].default

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def interval_minutes(self, url: str, tags: list[str]) -> float:
        """Poll interval of one feed: per-feed, else the smallest per-tag, else global."""
        per_feed = self["refresh.feeds"].get(url)
        if per_feed is not None:
            return float(per_feed)
        tag_values = [self["refresh.tags"][t] for t in tags if t in self["refresh.tags"]]
        if tag_values:
            return float(min(tag_values))
        return float(self["refresh_minutes"])


def _line_of(text: str, dotted: str) -> int | None:
    """Best-effort line number of a key in TOML text (for error messages)."""
    leaf = dotted.rsplit(".", 1)[-1]
    pat = re.compile(rf"^[ \t]*(\"?){re.escape(leaf)}\1[ \t]*=", re.MULTILINE)
    m = pat.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        name = f"{prefix}{k}"
        if name in FREE_TABLES or name in SCHEMA:
            out[name] = v
        elif isinstance(v, dict):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


def _range_problem(key: Key, value: float) -> str | None:
    """Why a number is out of ``key``'s range, or None."""
    if not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if key.minimum is not None and value < key.minimum:
        return f"must be at least {_num(key.minimum)}"
    if key.maximum is not None and value > key.maximum:
        return f"must be at most {_num(key.maximum)}, got {value!r}"
    return None


def _check_free_table(name: str, value: dict[str, Any], text: str) -> None:
    if name in ("refresh.tags", "refresh.feeds"):
        for k, v in value.items():
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not math.isfinite(v)
                or not 0 < v <= MINUTES_MAX
            ):
                line = _line_of(text, k)
                where = f" (line {line})" if line else ""
                raise ConfigError(
                    f"{name}.{k}{where}: expected a number of minutes above 0 and at most "
                    f"{MINUTES_MAX}, got {v!r}"
                )
    if name == "views":
        _check_views(value, text)
    if name == "keys":
        for k, v in value.items():
            if not isinstance(v, str):
                line = _line_of(text, k)
                where = f" (line {line})" if line else ""
                raise ConfigError(f'keys.{k}{where}: expected a string like "j,down"')


def _check_views(value: dict[str, Any], text: str) -> None:
    """Each ``[views.NAME]`` must build a SavedView and its ``since`` must read."""
    from veille.domain.views import SavedView

    for name, table in value.items():
        line = _table_line(text, f"views.{name}")
        where = f" (line {line})" if line else ""
        if not isinstance(table, dict):
            raise ConfigError(
                f"views.{name}{where}: expected a table like [views.{name}] with search = ..."
            )
        try:
            view = SavedView.from_table(name, table)
            if view.since:
                check_since(view.since)
        except ValueError as exc:
            raise ConfigError(f"views.{name}{where}: {exc}") from None


def check_since(text: str) -> None:
    """Refuse a view's ``since`` that cannot be read: "today", an age or a date."""
    if text.strip().lower() == "today":
        return
    from veille.util.dates import parse_since  # the one reader of "24h", "7d", dates

    parse_since(text)


def _table_line(text: str, dotted: str) -> int | None:
    """Line of a ``[a.b]`` header (for error messages), else None."""
    parts = dotted.split(".")
    pat = r"\.".join(rf"[ \t]*(?:\"{re.escape(p)}\"|{re.escape(p)})[ \t]*" for p in parts)
    m = re.search(rf"^[ \t]*\[{pat}\]", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else None


def parse_config(text: str, path: Path | None = None) -> Config:
    where_file = f"{path}: " if path else ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where_file}invalid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for name, value in _flatten(data).items():
        key = SCHEMA.get(name)
        line = _line_of(text, name)
        where = f" (line {line})" if line else ""
        if key is None:
            raise ConfigError(f"{where_file}unknown key '{name}'{where}")
        types = key.type if isinstance(key.type, tuple) else (key.type,)
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            want = " or ".join(t.__name__ for t in types)
            raise ConfigError(
                f"{where_file}{name}{where}: expected {want}, got {type(value).__name__} {value!r}"
            )
        if isinstance(value, int | float) and (problem := _range_problem(key, value)):
            raise ConfigError(f"{where_file}{name}{where}: {problem}")
        if key.choices and value not in key.choices:
            raise ConfigError(
                f"{where_file}{name}{where}: use one of {', '.join(key.choices)}, not {value!r}"
            )
        if name in FREE_TABLES and isinstance(value, dict):
            _check_free_table(name, value, text)
        values[name] = value
    if values.get("default_view"):
        _check_default_view(values, text, where_file)
    return Config(values, path)


def _check_default_view(values: dict[str, Any], text: str, where_file: str) -> None:
    from veille.domain.views import BUILTIN_VIEWS

    known = [v.name for v in BUILTIN_VIEWS] + list(values.get("views") or {})
    if values["default_view"] not in known:
        line = _line_of(text, "default_view")
        where = f" (line {line})" if line else ""
        raise ConfigError(
            f"{where_file}default_view{where}: no view named {values['default_view']!r} "
            f"(views: {', '.join(known)})"
        )


def load_config(path: Path) -> Config:
    """Read ``path``; a missing file means all defaults."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config({}, path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_config(text, path)
