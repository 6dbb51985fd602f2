"""config.toml: defaults, validation messages, and the README table staying in sync."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from veille.config import SCHEMA, Config, ConfigError, load_config, parse_config
from veille.paths import get_paths

README = Path(__file__).resolve().parents[1] / "README.md"


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "nope.toml")
    assert cfg["refresh_minutes"] == 30
    assert cfg["keep_days"] == 90 and cfg["max_items_per_feed"] == 1000
    assert cfg["fetch.concurrency"] == 16 and cfg["fetch.per_host"] == 6


def test_readme_documents_every_key_with_its_default_and_range() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"^\| `([a-z_.]+)` \| `([^`]*)` \|([^|]*)\|", text, re.MULTILINE)
    rows = {name: (default, bounds.strip()) for name, default, bounds in found}
    assert set(rows) == set(SCHEMA)
    for name, key in SCHEMA.items():
        assert rows[name] == (json.dumps(key.default), key.range_text()), name


def test_every_number_has_a_range_its_default_is_in() -> None:
    for name, key in SCHEMA.items():
        if isinstance(key.default, int | float):
            assert key.minimum is not None and key.maximum is not None, name
            assert key.minimum <= key.default <= key.maximum, name


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('refresh_minutes = "soon"\n', "refresh_minutes (line 1): expected int"),
        ("\n\nkeep_days = 0\n", "keep_days (line 3): must be at least 1"),
        ("[fetch]\nper_host = true\n", "fetch.per_host (line 2): expected int"),
        ("[refresh.tags]\nnews = -5\n", "refresh.tags.news (line 2)"),
        ("[keys]\nquit = 3\n", "keys.quit (line 2)"),
        ("colour = 'red'\n", "unknown key 'colour' (line 1)"),
        ("[fetch\n", "invalid TOML"),
        # Out of range: these forked 100,000 processes, timed every feed out "after
        # nan s", or overflowed a date in the middle of a refresh (exit 70).
        ("[fetch]\nworkers = 100000\n", "fetch.workers (line 2): must be at most 64, got 100000"),
        ("[fetch]\n\ntotal_timeout = nan\n", "fetch.total_timeout (line 3): must be a finite"),
        ("[fetch]\nmax_body_mb = inf\n", "fetch.max_body_mb (line 2): must be a finite number"),
        ("[fetch]\nconnect_timeout = -1\n", "fetch.connect_timeout (line 2): must be at least"),
        ("keep_days = 10000000000\n", "keep_days (line 1): must be at most 36500"),
        ("refresh_minutes = 9999999999\n", "refresh_minutes (line 1): must be at most 43200"),
        ("mark_read_delay = -inf\n", "mark_read_delay (line 1): must be a finite number"),
        ("[refresh.tags]\nnews = nan\n", "refresh.tags.news (line 2): expected a number"),
        ('[refresh.feeds]\n"https://a.example/" = 1e9\n', "refresh.feeds.https://a.example/"),
    ],
)
def test_invalid_values_give_one_line_naming_key_and_line(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


def test_intervals_per_feed_then_tag_then_global() -> None:
    cfg = parse_config(
        "refresh_minutes = 45\n[refresh.tags]\nnews = 10\nslow = 600\n"
        '[refresh.feeds]\n"https://a.example/feed" = 120\n'
    )
    assert cfg.interval_minutes("https://a.example/feed", ["news"]) == 120
    assert cfg.interval_minutes("https://b.example/feed", ["slow", "news"]) == 10
    assert cfg.interval_minutes("https://c.example/feed", []) == 45
    assert Config().interval_minutes("x", []) == 30


def test_veille_home_puts_everything_under_one_folder(tmp_path: Path) -> None:
    p = get_paths(tmp_path)
    for folder in (p.config, p.data, p.cache, p.state):
        assert tmp_path in folder.parents
    assert p.config_file == tmp_path / "config" / "config.toml"


@pytest.mark.parametrize(
    "text",
    [  # (not workers = 100000: on code without the check, that forks 100,000 processes)
        "[fetch]\ntotal_timeout = nan\n",
        "[fetch]\nmax_body_mb = inf\n",
        "keep_days = 10000000000\n",
        "refresh_minutes = 9999999999\n",
    ],
)
def test_out_of_range_config_stops_a_refresh_with_one_line(
    home: Path, cli_proc: Callable[..., Run], text: str
) -> None:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(text)
    r = cli_proc("refresh")
    assert r.code == 2
    assert r.err.startswith(f"veille: {config}: ") and r.err.count("\n") == 1
    assert "internal error" not in r.err and r.out == ""
