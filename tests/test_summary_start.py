"""Summaries read only the start of a body when it is enough, and that shortcut
gives exactly what the longer window gives.

The summary is part of each entry's hash: a different summary for the same
body would mark stored items updated at the next refresh.  So every summary
input of the corpus's real-world feeds (as the parser hands them over), the
same bodies cut at random places, and hand-made bodies that put a formula, a
script, a comment or long whitespace across the cut, must summarise the same
both ways.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from veille.render import hygiene
from veille.sources.feed import parse
from veille.sources.feed.common import SUMMARY_LIMIT

SYNTHETIC = ["feedparser", "feedvalidator", "podcastparser", "lemon24-reader", "newsboat"]

EDGES = [
    "<p>" + "word " * 70 + "<math><mi>x</mi>" + "<mo>+</mo><mi>y</mi>" * 80 + "</math>",
    "<p>" + "word " * 70 + "<M:MATH><mi>x</mi>" + "<mo>+</mo><mi>y</mi>" * 80 + "</M:MATH>",
    "<p>" + "word " * 40 + "<script>" + "var x = 1; " * 200 + "</script>" + "tail " * 100,
    "<p>" + "word " * 40 + "<!-- " + "comment " * 200 + "-->" + "tail words " * 100,
    "<pre>" + "    indented code line\n" * 200 + "</pre>",
    "<p>" + "a &amp; b &lt; c " * 200 + "</p>",
    "<ul>" + "<li>item one two three</li>" * 100 + "</ul>",
    "<p>" + "x" * 2000 + "</p>",
    "<p>" + " " * 3000 + "late words " * 100 + "</p>",
    "<p>" + "word " * 55 + "<br>" * 40 + "more " * 100 + "</p>",
]


def summary_inputs(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = parse.plain_summary

    def spy(value: str, kind: str) -> str:
        if kind != "text":
            seen.append(value)
        return real(value, kind)

    monkeypatch.setattr(parse, "plain_summary", spy)
    for folder in sorted((corpus / "feeds").iterdir()):
        if folder.name in SYNTHETIC or not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in (".xml", ".rss", ".atom", ".rdf"):
                parse.parse_feed(path.read_bytes(), "https://example.org/feed")
    return seen


def test_the_start_of_a_body_summarises_as_the_whole_window(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = summary_inputs(corpus, monkeypatch)
    assert len(bodies) > 1000  # the real-world folders were read
    rng = random.Random(11)
    cut = [b[rng.randrange(len(b) - 300) :] for b in bodies if len(b) > 700 for _ in range(2)]
    window = hygiene._summary_window
    took_window = 0

    def counted(html: str, limit: int) -> str:
        nonlocal took_window
        took_window += 1
        return window(html, limit)

    monkeypatch.setattr(hygiene, "_summary_window", counted)
    cases = [*bodies, *cut, *EDGES]
    for body in cases:
        assert hygiene.html_to_text(body, SUMMARY_LIMIT) == window(body, SUMMARY_LIMIT), body[:300]
    assert len(cases) - took_window > len(cases) // 3  # the shortcut was taken, often
