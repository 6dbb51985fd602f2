"""Inline images (issue 12): fetched from 127.0.0.1, cached, decoded within a budget.

Real image files, made with Pillow in the tests (PNG, JPEG, GIF, WebP; palette,
CMYK, 16-bit, animated, EXIF-rotated) plus broken and huge ones; the huge ones
are decoded in a subprocess whose peak memory is measured.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image
from pytest_httpserver import HTTPServer

from veille.net.fetcher import Fetcher, FetchResult
from veille.render.images import (
    SLOW_LINK,
    DecodedImage,
    ImageResult,
    cache_path,
    decode_image,
    fetch_image,
    images_wanted,
    link_speed,
    load_image,
    prune_cache,
)

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=False))


def fetch(url: str, cache: Path, **kw: object) -> ImageResult:
    fetcher_kw = {k: kw.pop(k) for k in list(kw) if k in ("max_body",)}

    async def go() -> ImageResult:
        async with Fetcher(connect_timeout=2, read_timeout=2, **fetcher_kw) as f:  # type: ignore[arg-type]
            return await fetch_image(f, url, cache, **kw)  # type: ignore[arg-type]

    return asyncio.run(go())


# ------------------------------------------------------------------ the files
def palette_png() -> bytes:
    p = Image.new("P", (40, 30), 1)
    p.putpalette([*GREEN, *RED] + [0] * 762)
    p.paste(0, (0, 0, 10, 30))  # a transparent band on the left
    return encode(p, "PNG", transparency=0)


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in (RED, GREEN, BLUE)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=80, loop=0)


def exif_rotated_jpeg() -> bytes:
    """40x20, red left half, blue right half, tagged "rotate 90° clockwise to view"."""
    im = Image.new("RGB", (40, 20), RED)
    im.paste(BLUE, (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(im, "JPEG", quality=95, exif=exif.tobytes())


# (name, bytes, content type, expected mode, a pixel and its colour, frames)
CASES: list[tuple[str, Callable[[], bytes], str, str, tuple[int, int], tuple[int, ...], int]] = [
    ("png-rgb", lambda: encode(Image.new("RGB", (64, 48), RED), "PNG"), "image/png", "RGB",
     (5, 5), RED, 1),
    ("png-rgba", lambda: encode(Image.new("RGBA", (64, 48), (*BLUE, 128)), "PNG"), "image/png",
     "RGBA", (5, 5), (*BLUE, 128), 1),
    ("png-palette-transparent", palette_png, "image/png", "RGBA", (30, 5), (*RED, 255), 1),
    ("png-16-bit", lambda: encode(Image.new("I;16", (50, 20), 40000), "PNG"), "image/png", "RGB",
     (3, 3), (155, 155, 155), 1),
    ("jpeg-rgb", lambda: encode(Image.new("RGB", (64, 48), GREEN), "JPEG"), "image/jpeg", "RGB",
     (5, 5), GREEN, 1),
    ("jpeg-cmyk", lambda: encode(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG"),
     "image/jpeg", "RGB", (5, 5), RED, 1),
    ("jpeg-grey", lambda: encode(Image.new("L", (64, 48), 200), "JPEG"), "image/jpeg", "RGB",
     (5, 5), (200, 200, 200), 1),
    ("gif-animated", lambda: animated("GIF"), "image/gif", "RGB", (5, 5), RED, 3),
    ("webp", lambda: encode(Image.new("RGB", (64, 48), BLUE), "WEBP", quality=90), "image/webp",
     "RGB", (5, 5), BLUE, 1),
    ("webp-animated", lambda: animated("WEBP"), "image/webp", "RGB", (5, 5), RED, 3),
    # Mislabelled: the bytes decide.
    ("png-as-octet-stream", lambda: encode(Image.new("RGB", (8, 8), RED), "PNG"),
     "application/octet-stream", "RGB", (1, 1), RED, 1),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "make", "ctype", "mode", "xy", "colour", "frames"), CASES, ids=[c[0] for c in CASES]
)
def test_each_kind_of_image_is_fetched_and_decoded(
    httpserver: HTTPServer,
    tmp_path: Path,
    name: str,
    make: Callable[[], bytes],
    ctype: str,
    mode: str,
    xy: tuple[int, int],
    colour: tuple[int, ...],
    frames: int,
) -> None:
    data = make()
    httpserver.expect_request(f"/img/{name}").respond_with_data(data, content_type=ctype)
    got = fetch(httpserver.url_for(f"/img/{name}"), tmp_path)
    assert got.ok, got.error
    assert got.data == data and got.path is not None and got.path.read_bytes() == data
    d = decode_image(got.data, box=(80, 24))
    assert d.ok, d.error
    assert d.image is not None and d.image.mode == mode
    assert close(d.image.getpixel(xy), colour), d.image.getpixel(xy)  # type: ignore[arg-type]
    assert d.frames == frames


def test_exif_orientation_is_applied() -> None:
    d = decode_image(exif_rotated_jpeg())
    assert d.ok and d.source_size == (40, 20)
    assert d.size == (20, 40)  # turned upright
    assert d.image is not None
    assert close(d.image.getpixel((10, 3)), RED) and close(d.image.getpixel((10, 36)), BLUE)


def test_images_are_fitted_to_the_box_of_cells() -> None:
    data = encode(Image.new("RGB", (4000, 1000), GREEN), "PNG")
    d = decode_image(data, box=(40, 30), cell=(10, 20))
    assert d.ok and d.size == (400, 100) and d.cells == (40, 5)
    small = decode_image(encode(Image.new("RGB", (30, 30), RED), "PNG"), box=(40, 30))
    assert small.size == (30, 30) and small.cells == (3, 2)  # never enlarged


def test_a_big_jpeg_is_scaled_while_decoding() -> None:
    data = encode(Image.new("RGB", (4000, 3000), GREEN), "JPEG")
    d = decode_image(data, box=(80, 24), max_pixels=1_000_000)  # 12 MP would be refused
    assert d.ok, d.error
    assert d.source_size == (4000, 3000) and d.size == (640, 480)


# ------------------------------------------------------------------ refusals
def one_line(error: str | None) -> str:
    assert error is not None and "\n" not in error and "Traceback" not in error
    return error


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"hello, world", "not a PNG, JPEG, GIF or WebP image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "the image is broken (its header is unreadable)"),
        (b"GIF89a\x00", "the image is broken (its header is unreadable)"),
        (encode(Image.effect_noise((200, 200), 60).convert("RGB"), "PNG")[:3000],
         "the image is broken or truncated"),
        (encode(Image.effect_noise((200, 200), 60).convert("RGB"), "JPEG")[:2500],
         "the image is broken or truncated"),
    ],
    ids=["text", "png-garbage", "gif-cut-header", "png-truncated", "jpeg-truncated"],
)  # fmt: skip
def test_broken_images_say_why(data: bytes, expected: str) -> None:
    d = decode_image(data)
    assert not d.ok and d.image is None
    assert one_line(d.error) == expected


def test_fetch_refusals_are_one_line(httpserver: HTTPServer, tmp_path: Path) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
    bodies = {
        "/page": (b"<html>not found</html>", "text/html", "not an image (text/html)"),
        "/svg": (svg, "image/svg+xml", "SVG images are not shown"),
        "/avif": (b"\x00\x00\x00\x1cftypavif" + b"\x00" * 64, "image/avif",
                  "unsupported image format (image/avif)"),
    }  # fmt: skip
    for path, (body, ctype, _) in bodies.items():
        httpserver.expect_request(path).respond_with_data(body, content_type=ctype)
    for path, (_, _, why) in bodies.items():
        got = fetch(httpserver.url_for(path), tmp_path)
        assert one_line(got.error) == why and got.data == b""
        assert not cache_path(tmp_path, httpserver.url_for(path)).exists()
    httpserver.expect_request("/404").respond_with_data("no", status=404)
    assert fetch(httpserver.url_for("/404"), tmp_path).error == (
        "could not fetch the image: HTTP 404 Not Found"
    )
    big = encode(Image.effect_noise((400, 400), 80).convert("RGB"), "PNG")
    assert len(big) > 128 * 1024
    httpserver.expect_request("/big.png").respond_with_data(big, content_type="image/png")
    url = httpserver.url_for("/big.png")
    assert fetch(url, tmp_path, max_body=64 * 1024).error == (
        "could not fetch the image: body larger than 64 KiB"
    )
    assert fetch(url, tmp_path, max_bytes=100 * 1024).error == "the image is larger than 100 KiB"
    before = len(httpserver.log)
    malformed = "http://[::1/x.png"  # urlsplit raises on it: still one line, no exception
    for bad in (
        "data:image/png;base64,iVBORw0KGgo=",
        "file:///etc/passwd",
        "javascript:x",
        malformed,
    ):
        assert fetch(bad, tmp_path).error == "only http(s) images are loaded"
    assert len(httpserver.log) == before


# ------------------------------------------------------------------ the cache
def test_the_disk_cache_saves_requests(httpserver: HTTPServer, tmp_path: Path) -> None:
    data = encode(Image.new("RGB", (16, 16), RED), "PNG")
    httpserver.expect_request("/c.png").respond_with_data(data, content_type="image/png")
    url = httpserver.url_for("/c.png")

    def hits() -> int:
        return sum(1 for req, _ in httpserver.log if req.path == "/c.png")

    first = fetch(url, tmp_path / "cache")
    assert first.ok and not first.cached and hits() == 1
    second = fetch(url, tmp_path / "cache")
    assert second.cached and second.data == data and hits() == 1
    assert second.path == cache_path(tmp_path / "cache", url)
    second.path.write_bytes(b"garbage")  # a damaged cache file is fetched again
    third = fetch(url, tmp_path / "cache")
    assert third.ok and not third.cached and third.data == data and hits() == 2


def test_a_cache_that_cannot_be_written_does_not_stop_the_image(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    data = encode(Image.new("RGB", (16, 16), RED), "PNG")
    httpserver.expect_request("/n.png").respond_with_data(data, content_type="image/png")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    got = fetch(httpserver.url_for("/n.png"), blocker)
    assert got.ok and got.data == data and got.path is None


def test_prune_cache_drops_the_least_recently_used(tmp_path: Path) -> None:
    for i in range(5):
        p = tmp_path / f"{i}.img"
        p.write_bytes(b"x" * 1000)
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
    (tmp_path / "keep.txt").write_bytes(b"y" * 5000)  # not ours
    assert prune_cache(tmp_path, 2500) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.img", "4.img", "keep.txt"]
    assert prune_cache(tmp_path, 2500) == 0


# ------------------------------------------------------------------ memory
def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_header_only(width: int, height: int, colour_type: int = 0) -> bytes:
    """A valid PNG of ``width`` x ``height`` zero pixels: a tiny zlib body that
    inflates to hundreds of megabytes (a decompression bomb)."""
    channels = {0: 1, 2: 3}[colour_type]
    row = bytes(1 + width * channels)
    z = zlib.compressobj(1)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


MEASURE = r"""
import json, resource, sys
from PIL import Image
from veille.render.images import decode_image
data = open(sys.argv[1], "rb").read()
Image.init()  # every format plugin imported before measuring
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[2] == "naive":
    im = Image.open(__import__("io").BytesIO(data)); im.load()
    result = {"error": None, "size": list(im.size)}
else:
    d = decode_image(data, box=(120, 40))
    result = {"error": d.error, "size": list(d.size)}
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result["delta_mb"] = (after - before) / 1024
print(json.dumps(result))
"""


def peak(path: Path, how: str = "veille") -> dict[str, object]:
    """Decode in a fresh interpreter; how much its peak RSS grew while decoding."""
    p = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), how],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


BOUND_MB = 100  # generous: the images below need 400-1,200 MB decoded naively


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("huge")
    files = {
        "bomb.png": png_header_only(20_000, 20_000),  # 400 MP: over Pillow's own limit
        "under-pillow-limit.png": png_header_only(14_000, 10_000, colour_type=2),  # 140 MP RGB
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    # A real 12,000 x 12,000 photo-sized JPEG, made in its own process (432 MB there).
    make = (
        "import sys; from PIL import Image; "
        "Image.new('RGB', (12000, 12000), (30, 160, 60)).save(sys.argv[1], 'JPEG', quality=80)"
    )
    subprocess.run([sys.executable, "-c", make, str(d / "photo.jpg")], check=True, timeout=120)
    return {name: d / name for name in (*files, "photo.jpg")}


@pytest.mark.slow
def test_a_20000_pixel_square_png_is_refused_without_exhausting_memory(
    huge: dict[str, Path],
) -> None:
    assert huge["bomb.png"].stat().st_size < 2 * 2**20  # tiny on the wire
    r = peak(huge["bomb.png"])
    assert r["error"] == "image too large to show (400,000,000 pixels)"
    assert r["delta_mb"] < BOUND_MB  # type: ignore[operator]


@pytest.mark.slow
def test_a_png_under_pillows_limit_but_over_the_budget_is_refused(
    huge: dict[str, Path],
) -> None:
    r = peak(huge["under-pillow-limit.png"])
    assert r["error"] == "image too large to show (14000×10000 pixels)"
    assert r["delta_mb"] < BOUND_MB  # type: ignore[operator]


@pytest.mark.slow
def test_a_huge_jpeg_is_shown_from_a_reduced_decode(huge: dict[str, Path]) -> None:
    r = peak(huge["photo.jpg"])
    assert r["error"] is None and r["size"] == [800, 800]  # fitted to 120x40 cells of 10x20
    assert r["delta_mb"] < BOUND_MB  # type: ignore[operator]
    naive = peak(huge["photo.jpg"], "naive")  # the bound means something: a naive decode
    # needs 432 MB, of which the peak RSS shows 330-430 MB depending on the allocator's mood.
    assert naive["delta_mb"] > 2.5 * BOUND_MB  # type: ignore[operator]
    assert naive["delta_mb"] > 3 * r["delta_mb"]  # type: ignore[operator]


# ------------------------------------------------------------------ wiring
def test_load_image_decodes_in_the_executor(httpserver: HTTPServer, tmp_path: Path) -> None:
    data = encode(Image.new("RGB", (300, 200), BLUE), "JPEG")
    httpserver.expect_request("/l.jpg").respond_with_data(data, content_type="image/jpeg")
    names: list[str] = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
            def run() -> DecodedImage:
                names.append(threading.current_thread().name)
                return fn(*args, **kwargs)  # type: ignore[no-any-return]

            return super().submit(run)

    async def go() -> DecodedImage:
        with Recording(1, thread_name_prefix="decode") as pool:
            async with Fetcher() as f:
                return await load_image(
                    f, httpserver.url_for("/l.jpg"), tmp_path, box=(10, 5), executor=pool
                )

    d = asyncio.run(go())
    assert d.ok and d.size == (100, 67) and d.cells == (10, 3)  # the nearest whole cells
    assert names and names[0].startswith("decode")


def test_when_images_are_loaded() -> None:
    assert not images_wanted("off", graphics=True)
    assert not images_wanted("on", graphics=False)
    assert images_wanted("on", graphics=True, speed=1.0)
    assert images_wanted("auto", graphics=True)  # speed not known yet
    assert images_wanted("auto", graphics=True, speed=SLOW_LINK * 4)
    assert not images_wanted("auto", graphics=True, speed=SLOW_LINK / 4)

    def result(size: int, elapsed: float) -> FetchResult:
        return FetchResult("u", "u", None, 200, body=b"x" * size, elapsed=elapsed)

    assert link_speed(result(1000, 0.5)) is None  # too small to measure bandwidth
    assert link_speed(result(2**20, 2.0)) == 2**19
