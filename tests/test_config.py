"""config.toml: defaults, validation messages, and the README table staying in sync."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from veille.config import SCHEMA, Config, ConfigError, load_config, parse_config
from veille.paths import get_paths

README = Path(__file__).resolve().parents[1] / "README.md"


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "nope.toml")
    assert cfg["refresh_minutes"] == 30
    assert cfg["keep_days"] == 90 and cfg["max_items_per_feed"] == 1000
    assert cfg["fetch.concurrency"] == 16 and cfg["fetch.per_host"] == 2


def test_readme_documents_every_key_with_its_default() -> None:
    text = README.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_.]+)` \| `([^`]*)` \|", text, re.MULTILINE))
    assert set(rows) == set(SCHEMA)
    for name, key in SCHEMA.items():
        assert rows[name] == json.dumps(key.default), name


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
