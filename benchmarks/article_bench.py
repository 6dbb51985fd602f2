"""Full articles and images: cost per page or image, quality, peak memory.

    python benchmarks/article_bench.py [--pages DIR] [--repeat 3] [--no-images]

``--pages`` (or ``$VEILLE_ARTICLE_PAGES``) is a folder with ``html/NAME.html``
and the article's text in ``txt/NAME.txt``: newspaper4k's sdist ``tests/data``
(``pip download --no-deps --no-binary :all: newspaper4k==0.9.6``).  Without
it only the pages in tests/data/articles are timed.

Prints, per extractor that is importable (veille's own ``extract_article``,
plain readability-lxml, trafilatura with and without ``fast``, goose3), the
word-level precision / recall / F1 against the gold text, the median and p90
milliseconds per page, and how many structural elements survived.  The
comparison extractors are not dependencies: install them to compare.

Then, for render/images.decode_image: milliseconds per image of a few web-like
sizes, and the growth of a fresh process's peak RSS while decoding a
12,000 x 12,000 JPEG and a 14,000 x 10,000 PNG, against Pillow used naively.
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
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
    ap.add_argument("--no-images", action="store_true")
    args = ap.parse_args()
    if not args.no_images:
        images(args.repeat)

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


MEASURE = """
import io, json, resource, sys
from PIL import Image
from veille.render.images import decode_image
data = open(sys.argv[1], "rb").read()
Image.init()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[2] == "naive":
    im = Image.open(io.BytesIO(data)); im.load()
else:
    d = decode_image(data, box=(120, 40))
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def _bomb_png(width: int, height: int) -> bytes:
    import struct

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    z = zlib.compressobj(1)
    row = bytes(1 + width * 3)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def images(repeat: int) -> None:
    from PIL import Image

    from veille.render.images import decode_image

    def enc(im: Image.Image, fmt: str, **kw: object) -> bytes:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()

    noise = Image.effect_noise((1200, 800), 40).convert("RGB")
    frames = [Image.new("RGB", (480, 270), c) for c in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    cases = {
        "JPEG 1200x800": enc(noise, "JPEG", quality=85),
        "PNG 1200x800": enc(noise, "PNG"),
        "WebP 1200x800": enc(noise, "WEBP", quality=80),
        "GIF 480x270, 3 frames": enc(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "JPEG 6000x4000 (24 MP)": enc(noise.resize((6000, 4000)), "JPEG", quality=85),
    }
    print("\n| image (fitted to 100x30 cells) | KB | ms per decode |")
    print("|---|---|---|")
    for name, data in cases.items():
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            decode_image(data, box=(100, 30))
            best = min(best, time.perf_counter() - t0)
        print(f"| {name} | {len(data) // 1024} | {best * 1000:.1f} |")

    with tempfile.TemporaryDirectory() as tmp:
        jpg = Path(tmp, "photo.jpg")
        make = (
            "import sys; from PIL import Image; "
            "Image.new('RGB', (12000, 12000), (30, 160, 60)).save(sys.argv[1], 'JPEG')"
        )
        subprocess.run([sys.executable, "-c", make, str(jpg)], check=True)
        png = Path(tmp, "big.png")
        png.write_bytes(_bomb_png(14000, 10000))
        print("\n| file | on the wire | peak RSS growth, decode_image | Pillow naively |")
        print("|---|---|---|---|")
        for label, path in (("JPEG 12000x12000", jpg), ("PNG 14000x10000", png)):
            got = [
                float(
                    subprocess.run(
                        [sys.executable, "-c", MEASURE, str(path), how],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                )
                for how in ("veille", "naive")
            ]
            size = path.stat().st_size / 2**20
            print(f"| {label} | {size:.1f} MB | {got[0]:.0f} MB | {got[1]:.0f} MB |")


if __name__ == "__main__":
    main()
