"""Full-article extraction: cost per page, and quality against hand-checked text.

    python benchmarks/article_bench.py [--pages DIR] [--repeat 3]

``--pages`` (or ``$VEILLE_ARTICLE_PAGES``) is a folder with ``html/NAME.html``
and the article's text in ``txt/NAME.txt``: newspaper4k's sdist ``tests/data``
(``pip download --no-deps --no-binary :all: newspaper4k==0.9.6``).  Without
it only the pages in tests/data/articles are timed.

Prints, per extractor that is importable (veille's own ``extract_article``,
plain readability-lxml, trafilatura with and without ``fast``, goose3), the
word-level precision / recall / F1 against the gold text, the median and p90
milliseconds per page, and how many structural elements survived.  The
comparison extractors are not dependencies: install them to compare.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import lxml.html

from veille.extract import extract_article

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "tests" / "data" / "articles"
_WORD = re.compile(r"\w+")
TAGS = ("h2", "h3", "li", "pre", "code", "img", "a", "table", "figcaption")
URL = "https://news.example/2026/05/a.html"


def veille(body: bytes) -> str:
    return extract_article(body, URL, "text/html").html


def _extractors() -> dict[str, Callable[[bytes], str]]:
    out: dict[str, Callable[[bytes], str]] = {"veille (readability + fixes)": veille}
    try:
        from readability import Document  # type: ignore[import-untyped]

        def plain(body: bytes) -> str:
            return str(Document(body, url=URL).summary(html_partial=True))

        out["readability-lxml as is"] = plain
    except ImportError:
        pass
    try:
        import trafilatura  # type: ignore[import-not-found]

        def traf(body: bytes, fast: bool = False) -> str:
            return (
                trafilatura.extract(
                    body,
                    url=URL,
                    output_format="html",
                    include_links=True,
                    include_images=True,
                    include_formatting=True,
                    include_tables=True,
                    include_comments=False,
                    fast=fast,
                )
                or ""
            )

        out["trafilatura"] = traf
        out["trafilatura fast"] = lambda b: traf(b, fast=True)
    except ImportError:
        pass
    try:
        from goose3 import Goose  # type: ignore[import-not-found]

        g = Goose({"enable_image_fetching": False})
        out["goose3"] = lambda b: g.extract(raw_html=b.decode("utf-8", "replace")).top_node_raw_html
    except ImportError:
        pass
    return out


def text_of(html: str) -> str:
    if not html or not html.strip():
        return ""
    try:
        return str(lxml.html.fromstring(html).text_content())
    except Exception:
        return ""


def prf(gold: str, got: str) -> tuple[float, float, float]:
    g = collections.Counter(w.lower() for w in _WORD.findall(gold))
    o = collections.Counter(w.lower() for w in _WORD.findall(got))
    hit = sum((g & o).values())
    p, r = hit / max(1, sum(o.values())), hit / max(1, sum(g.values()))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default=os.environ.get("VEILLE_ARTICLE_PAGES", ""))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    pages: list[tuple[str, bytes, str | None]] = [
        (p.name, p.read_bytes(), None) for p in sorted(LOCAL.glob("*.html"))
    ]
    if args.pages and Path(args.pages, "txt").is_dir():
        for txt in sorted(Path(args.pages, "txt").glob("*.txt")):
            html = Path(args.pages, "html", txt.stem + ".html")
            if html.exists():
                pages.append((html.name, html.read_bytes(), txt.read_text("utf-8")))
    gold_n = sum(g is not None for *_, g in pages)
    size = sum(len(b) for _, b, _ in pages) / 2**20
    print(f"{len(pages)} pages ({gold_n} with gold text), {size:.1f} MB\n")

    print("| extractor | precision | recall | F1 | median ms | p90 ms | " + " | ".join(TAGS) + " |")
    print("|---" * (6 + len(TAGS)) + "|")
    for name, fn in _extractors().items():
        times: list[float] = []
        scores: list[tuple[float, float, float]] = []
        tags: collections.Counter[str] = collections.Counter()
        for _, body, gold in pages:
            best = float("inf")
            out = ""
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                try:
                    out = fn(body) or ""
                except Exception:
                    out = ""
                best = min(best, time.perf_counter() - t0)
            times.append(best)
            if gold is not None:
                scores.append(prf(gold, text_of(out)))
            for t in TAGS:
                tags[t] += len(re.findall(rf"<{t}[\s>]", out))
        p, r, f = (statistics.mean(s[i] for s in scores) if scores else 0.0 for i in range(3))
        times.sort()
        p90 = times[int(0.9 * (len(times) - 1))]
        print(
            f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} | {statistics.median(times) * 1000:.0f} "
            f"| {p90 * 1000:.0f} | " + " | ".join(str(tags[t]) for t in TAGS) + " |"
        )


if __name__ == "__main__":
    main()
