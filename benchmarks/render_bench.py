"""Item-body rendering on huge inputs: full render, first piece, Textual's layout.

    .venv/bin/python benchmarks/render_bench.py [--scale 1.0] [--width 76]

Inputs (built in memory, at ``--scale`` of these sizes): one 9.5 MB line of
text in a <p>, the same as a plain-text body, 10 MB of nested tags, 100,000
links, a 50,000-row table, 1M CJK characters without spaces (wrapped by cells),
and a 14 KB run of "x <a y " (text that looks like unclosed tags).  For each:
the full render, the first piece the pane paints at once (``max_chars=65536``),
and what Textual then spends laying out the result (``Content.wrap`` at the
width, one of the passes a ``Static`` makes).

Times are CPU seconds of this process; the machine is shared, so read ratios:
"linear" is the time at full size over twice the time at half size (1.0 =
linear, 2.0 = quadratic); "first/full" is how much of the full render the first
paint costs; the last table compares the tokenizer with the stdlib
``HTMLParser`` on the same input.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rich.cells import cell_len  # noqa: E402
from textual.content import Content  # noqa: E402

from veille.render.html import Rendered, render_html, render_plain  # noqa: E402
from veille.render.hygiene import HtmlTokenizer, html_to_text  # noqa: E402

WORDS = [
    *("the", "curator", "reads", "a", "long", "feed", "of", "context", "about", "climate"),
    *("policy", "open", "data", "research", "release", "security", "model", "terminal"),
]
FIRST_PIECE = 65536


def words(n: int, seed: int = 1) -> str:
    rnd = random.Random(seed)
    pool = [rnd.choice(WORDS) for _ in range(4096)]
    out: list[str] = []
    size = i = 0
    while size < n:
        w = pool[i % 4096] if i % 4099 else "https://example.com/" + "x" * 150
        out.append(w)
        size += len(w) + 1
        i += 1
    return " ".join(out)


def inputs(scale: float) -> list[tuple[str, Callable[[float], str], bool]]:
    """(name, build(fraction) -> body, is_html)."""

    def line(f: float) -> str:
        return "<p>" + words(int(9_500_000 * scale * f)) + "</p>"

    def plain(f: float) -> str:
        return words(int(9_500_000 * scale * f))

    def nested(f: float) -> str:
        unit = "<div><span><b><i>x</i></b></span> <em>y</em></div>"
        return unit * int(10_000_000 * scale * f / len(unit))

    def links(f: float) -> str:
        n = int(100_000 * scale * f)
        return "<p>" + " ".join(f'<a href="/p/{i}">link {i}</a>' for i in range(n)) + "</p>"

    def table(f: float) -> str:
        n = int(50_000 * scale * f)
        rows = "".join(
            f"<tr><td>row {i}</td><td>{i * 37}</td><td>value</td></tr>" for i in range(n)
        )
        return "<table><tr><th>name</th><th>n</th><th>v</th></tr>" + rows + "</table>"

    def cjk(f: float) -> str:
        return "<p>" + "日本語の文章は空白なしで続きます。" * int(60_000 * scale * f) + "</p>"

    def lookalike(f: float) -> str:
        return "x <a y " * int(2000 * f)

    return [
        ("one 9.5 MB line of text", line, True),
        ("the same, plain text", plain, False),
        ("10 MB of nested tags", nested, True),
        ("100,000 links", links, True),
        ("50,000-row table", table, True),
        ("1M CJK characters, no spaces", cjk, True),
        ('14 KB of "x <a y "', lookalike, True),
    ]


def render(body: str, is_html: bool, width: int, max_chars: int | None = None) -> Rendered:
    if is_html:
        return render_html(body, "https://example.com/", width_hint=width, max_chars=max_chars)
    return render_plain(body, width_hint=width, max_chars=max_chars)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """CPU seconds of ``fn`` (steadier than wall time on a shared machine); the best
    of three when it is short."""
    best, out = float("inf"), None
    for _ in range(3):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
        if best > 0.3:
            break
    return best, out


class _Quiet(HTMLParser):
    def handle_data(self, data: str) -> None:
        pass


class _Count(HtmlTokenizer):
    pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="input size factor")
    ap.add_argument("--width", type=int, default=76, help="the pane's width in cells")
    args = ap.parse_args()
    width = args.width
    rows: list[tuple[str, ...]] = []
    token_rows: list[tuple[str, ...]] = []
    for name, build, is_html in inputs(args.scale):
        body, half = build(1.0), build(0.5)
        t_full, out = timed(lambda b=body, h=is_html: render(b, h, width))
        assert isinstance(out, Rendered)
        t_half, _ = timed(lambda b=half, h=is_html: render(b, h, width))
        t_first, first = timed(lambda b=body, h=is_html: render(b, h, width, FIRST_PIECE))
        assert isinstance(first, Rendered)
        lines = out.text.plain.count("\n") + 1
        widest = max(cell_len(x) for x in out.text.plain.split("\n"))
        t_layout, _ = timed(lambda t=out.text: Content.from_rich_text(t).wrap(width))
        rows.append(
            (
                name,
                f"{len(body) / 1e6:.2f}",
                f"{t_full:.2f}",
                f"{len(body) / 1e6 / max(t_full, 1e-9):.1f}",
                f"{t_full / max(2 * t_half, 1e-9):.2f}",
                f"{t_first * 1000:.0f}",
                f"{100 * t_first / max(t_full, 1e-9):.1f}%",
                f"{lines}",
                f"{widest}",
                f"{t_layout:.2f}",
            )
        )
        if is_html:
            small = body[:200_000] if "<a y" not in body else body
            t_ours, _ = timed(lambda s=small: _Count().scan(s))
            parser = _Quiet(convert_charrefs=True)
            t_std, _ = timed(lambda s=small, p=parser: (p.feed(s), p.close()))
            token_rows.append(
                (name, f"{len(small) / 1e3:.0f}", f"{t_ours * 1000:.1f}", f"{t_std * 1000:.1f}",
                 f"{t_std / max(t_ours, 1e-9):.0f}x")
            )  # fmt: skip

    article = "".join(f"<h2>Part {i}</h2><p>{words(1500, i)}</p><ul><li>a point</li></ul>"
                      for i in range(100))  # fmt: skip
    t_summary, _ = timed(lambda: [html_to_text(article, 300) for _ in range(200)])
    t_text, _ = timed(lambda: html_to_text(article))

    heads = ("input", "MB", "render s", "MB/s", "linear", "first ms", "first/full",
             "lines", "widest cells", "Textual layout s")  # fmt: skip
    print(f"\nrender_html / render_plain at width {width} (scale {args.scale})\n")
    _table(heads, rows)
    print("\ntokenizing only: veille's HtmlTokenizer vs the stdlib HTMLParser\n")
    _table(("input", "KB", "ours ms", "HTMLParser ms", "ratio"), token_rows)
    print(
        f"\nhtml_to_text of a {len(article) / 1e3:.0f} KB article: summary (limit=300) "
        f"{t_summary / 200 * 1e6:.0f} µs, full text {t_text * 1e3:.1f} ms"
    )
    return 0


def _table(heads: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    for row in (heads, *rows):
        pairs = enumerate(zip(row, widths, strict=True))
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs))


if __name__ == "__main__":
    raise SystemExit(main())
