"""User theme files with mistakes: one line naming the file and the key, no traceback.

Textual accepts any value in a Theme and fails later, while painting, with a
traceback full of local variables on screen; these tests load theme folders the way
the app does at start-up, without starting it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from veille.tui.themes import load_theme_dir, load_themes

GOOD = 'primary = "#5fafff"\nbackground = "#121417"\n'


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("primary = 5\n", 'primary: expected a colour such as "#5fafff", got 5'),
        ('primary = "#zz"\n', "primary: '#zz' is not a colour"),
        (GOOD + "background = [1, 2]\n", None),  # TOML: a key twice is invalid TOML
        ('primary = "red"\nbackground = 3\n', "background: expected a colour"),
        ('primary = "red"\ndark = "yes"\n', "dark: expected true or false, got 'yes'"),
        ('primary = "red"\nluminosity_spread = "a"\n', "luminosity_spread: expected a number"),
        ('primary = "red"\ntext_alpha = nan\n', "text_alpha: expected a number from 0 to 1"),
        ('primary = "red"\n[variables]\n"veille-star" = 7\n', "variables.veille-star: expected"),
        ('primary = "red"\n[variables]\n"x" = {a = 1}\n', "variables.x: expected a string"),
        ('primary = "red"\nvariables = 3\n', "variables: must be a table"),
        ("name = 3\nprimary = 'red'\n", "name: expected a non-empty string, got 3"),
        ("colour = 'red'\nprimary = 'red'\n", "unknown theme field(s): colour"),
        ("secondary = 'red'\n", "a theme needs at least 'primary'"),
    ],
)
def test_bad_theme_file_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, reason: str | None
) -> None:
    (tmp_path / "mine.toml").write_text(text)
    (tmp_path / "fine.toml").write_text(GOOD)
    themes, errors = load_theme_dir(tmp_path)
    assert [t.name for t in themes] == ["fine"]
    (error,) = errors
    assert error.startswith(f"theme {tmp_path / 'mine.toml'}: ") and "\n" not in error
    if reason is not None:
        assert reason in error
    assert "Traceback" not in error


def test_every_theme_that_loads_can_be_painted(tmp_path: Path) -> None:
    (tmp_path / "ok.toml").write_text(
        GOOD + 'dark = false\ntext_alpha = 0.9\n[variables]\n"veille-star" = "gold"\n'
    )
    themes, errors = load_themes(tmp_path)
    assert errors == [] and "ok" in themes
    for theme in themes.values():
        colours = theme.to_color_system().generate()
        assert colours["primary"]
