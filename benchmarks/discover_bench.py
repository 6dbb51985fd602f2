"""Feed discovery's head reader on hostile pages: the stdlib ``HTMLParser`` (what
``find_feed_links`` used before) against the shared tokenizer it uses now.

    .venv/bin/python benchmarks/discover_bench.py [--max-kb 32]

Inputs, at sizes doubling up to ``--max-kb`` (discovery reads at most 200 KB):
a head ending in "x <a y " repeated (text that looks like unclosed tags, with no
">" after it, as when the 200 KB cut falls in it), the same closed by a ">", and
an ordinary head of <meta> tags.  The old reader is reproduced here as it was
(``html.parser`` with the same callbacks).  The old one needs about a minute at
128 KB of the first input, so the default stops at 32 KB.

Times are CPU seconds of this process; the machine is shared, so read ratios:
"growth" is the time at a size over the time at half of it (2 = linear, 4 =
quadratic), "old/new" the two readers on the same input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from veille.sources.feed.discover import find_feed_links  # noqa: E402

LINK = "<link rel=alternate type=application/rss+xml href=/feed.xml>"


class OldLinkParser(HTMLParser):
    """find_feed_links' reader before the change, callbacks included."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done or tag == "body":
            self.done = True
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "link" and "alternate" in a.get("rel", "").lower().split():
            self.links.append(a.get("href", ""))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.done = True


def old(html: str) -> int:
    p = OldLinkParser()
    p.feed(html[:200_000])
    p.close()
    return len(p.links)


def new(html: str) -> int:
    return len(find_feed_links(html, "http://bench.example/"))


def junk_head(size: int) -> str:
    return "<html><head>" + LINK + "x <a y " * (size // 7)


def junk_closed(size: int) -> str:
    return "<html><head>" + LINK + "x <a y " * (size // 7) + "></head><body>"


def plain_head(size: int) -> str:
    tag = "<meta name=description content='a page about feeds'>"
    return "<html><head>" + tag * (size // len(tag)) + LINK + "</head><body>"


def cpu(fn: Callable[[str], int], html: str) -> float:
    start = time.process_time()
    fn(html)
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-kb", type=int, default=32, help="largest input (default 32)")
    args = parser.parse_args()
    sizes = []
    kb = 4
    while kb <= args.max_kb:
        sizes.append(kb * 1024)
        kb *= 2
    print(f"{'input':<13}{'KB':>6}{'old s':>10}{'new s':>10}{'old/new':>10}"
          f"{'old growth':>12}{'new growth':>12}")  # fmt: skip
    for name, make in (("junk head", junk_head), ("junk closed", junk_closed),
                       ("plain head", plain_head)):  # fmt: skip
        prev: tuple[float, float] | None = None
        for size in sizes:
            html = make(size)
            t_old, t_new = cpu(old, html), cpu(new, html)
            growth = (
                (f"{t_old / prev[0]:.1f}" if prev[0] else "-", f"{t_new / prev[1]:.1f}")
                if prev and prev[1]
                else ("", "")
            )
            ratio = f"{t_old / t_new:.0f}x" if t_new else "-"
            print(f"{name:<13}{size // 1024:>6}{t_old:>10.3f}{t_new:>10.4f}{ratio:>10}"
                  f"{growth[0]:>12}{growth[1]:>12}")  # fmt: skip
            prev = (t_old, t_new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
