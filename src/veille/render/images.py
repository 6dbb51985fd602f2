"""Images for the item pane: fetched politely, cached on disk, decoded within a budget.

No Textual here: the item pane gets a small ``PIL.Image`` from
:func:`decode_image` and draws it with whatever protocol the terminal speaks
(``render.graphics``: kitty graphics, sixel, iTerm2, or half blocks); the
text renderer already shows every image as ``[img N: alt]`` with a numbered
link, which stays the fallback and keeps the alt text visible.

Why Pillow: it is the one well-kept decoder for PNG, JPEG, GIF and WebP in
Python, reads an image's header without decoding it (so the size is known
before any pixel memory is spent), scales JPEGs while decoding them
(``Image.draft``: 1/2 to 1/8, so a 12,000 x 12,000 photo costs a 1,500 x
1,500 decode), and has its own decompression-bomb guard.

Memory is bounded in three steps: Pillow refuses anything over
``2 * Image.MAX_IMAGE_PIXELS`` (~179 MP) while reading the header; a JPEG is
drafted down towards the size it will be shown at; then anything still over
``max_pixels`` is refused before it is decoded.  Only the first frame of an
animation is decoded.  Every refusal is one human line in ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import math
import os
import re
import warnings
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps, UnidentifiedImageError

from veille.render.hygiene import clean_line
from veille.util.atomicfile import write_atomic
from veille.util.urls import is_safe_link

if TYPE_CHECKING:
    from veille.net.fetcher import Fetcher, FetchResult

__all__ = [
    "ACCEPT_IMAGES",
    "CELL",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_MODES",
    "DecodedImage",
    "ImageResult",
    "cache_path",
    "decode_image",
    "fetch_image",
    "images_wanted",
    "link_speed",
    "load_image",
    "prune_cache",
    "sniff_image",
]

log = logging.getLogger(__name__)

ACCEPT_IMAGES = "image/webp, image/png, image/jpeg, image/gif;q=0.9, */*;q=0.1"
DEFAULT_MAX_BYTES = 5 * 2**20  # config `images_max_mb`
#: Pixels decoded at most (after a JPEG's draft): 16 MP is 64 MB as RGBA.
DEFAULT_MAX_PIXELS = 16_000_000
#: A terminal cell in pixels when the terminal does not say (VT340, as textual-image).
CELL = (10, 20)
#: Values of the config key `images`.
IMAGE_MODES = ("auto", "on", "off")
#: Below this speed (bytes/s) a link counts as slow and `images = "auto"` loads none.
SLOW_LINK = 256 * 1024
_SPEED_SAMPLE = 64 * 1024  # smaller bodies measure latency, not bandwidth

_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


def sniff_image(data: bytes) -> str | None:
    """The format the bytes are in ("png", "jpeg", "gif", "webp"), by magic number.

    The bytes decide, not the Content-Type: servers send images as
    ``application/octet-stream`` and error pages as ``image/png``.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:g} MiB"
    return f"{n // 1024} KiB" if n >= 1024 else f"{n} bytes"


# ---------------------------------------------------------------------- fetch
@dataclass(frozen=True, slots=True)
class ImageResult:
    """Downloaded (or cached) image bytes, or why there are none."""

    url: str
    data: bytes = b""
    kind: str = ""  # png | jpeg | gif | webp
    path: Path | None = None  # the cache file, when it could be written
    cached: bool = False  # read from the disk cache, no request made
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def cache_path(cache_dir: Path, url: str) -> Path:
    """Where an image URL is cached: its SHA-256, so any URL makes a safe file name."""
    return Path(cache_dir) / (hashlib.sha256(url.encode("utf-8", "replace")).hexdigest() + ".img")


def _read_cache(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if sniff_image(data) is None:  # a file that is not ours, or damaged: fetch again
        path.unlink(missing_ok=True)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # prune_cache drops the least recently used first
    return data


def _not_image(data: bytes, content_type: str) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "image/svg+xml" or data.lstrip()[:5].lower() in (b"<svg ", b"<?xml"):
        return "SVG images are not shown"
    if media.startswith("image/"):
        return f"unsupported image format ({clean_line(media)[:60]})"
    return f"not an image ({clean_line(media)[:60] or 'no content type'})"


async def fetch_image(
    fetcher: Fetcher, url: str, cache_dir: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ImageResult:
    """An image's bytes: from the disk cache, else through the polite fetcher.

    Give images a fetcher whose ``max_body`` is the image cap (config
    ``images_max_mb``) so an oversized body is cut off while downloading;
    ``max_bytes`` is checked again here.  Never raises: ``error`` says why.
    """
    if not is_safe_link(url):
        return ImageResult(url, error="only http(s) images are loaded")
    path = cache_path(cache_dir, url)
    data = _read_cache(path)
    if data is not None and len(data) <= max_bytes:
        return ImageResult(url, data, sniff_image(data) or "", path, cached=True)
    result = await fetcher.get_page(url, accept=ACCEPT_IMAGES)
    if result.error is not None:
        why = "HTTP 410 Gone" if result.gone else result.error
        return ImageResult(url, error=f"could not fetch the image: {why}")
    body = result.body or b""
    if len(body) > max_bytes:
        return ImageResult(url, error=f"the image is larger than {_size(max_bytes)}")
    kind = sniff_image(body)
    if kind is None:
        return ImageResult(url, error=_not_image(body, result.content_type))
    stored: Path | None = path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, body)
    except OSError:
        log.exception("could not cache the image %s in %s", url, path)
        stored = None
    return ImageResult(url, body, kind, stored)


def prune_cache(cache_dir: Path, max_bytes: int) -> int:
    """Delete the least recently used cached images until the folder holds at most
    ``max_bytes``; returns how many went.  Cheap enough to run at start-up."""
    files: list[tuple[float, int, Path]] = []
    try:
        entries = list(Path(cache_dir).glob("*.img"))
    except OSError:
        return 0
    for p in entries:
        try:
            st = p.stat()
        except OSError:
            continue
        files.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in files)
    removed = 0
    for _, size, p in sorted(files):
        if total <= max_bytes:
            break
        try:
            p.unlink()
        except OSError:
            continue
        total -= size
        removed += 1
    return removed


# --------------------------------------------------------------------- decode
@dataclass(frozen=True)
class DecodedImage:
    """An image ready for a terminal widget: RGB or RGBA, fitted to a box of cells."""

    image: Image.Image | None = None
    kind: str = ""  # png | jpeg | gif | webp
    source_size: tuple[int, int] = (0, 0)  # as the file declares it, before any rotation
    frames: int = 1  # more than 1: animated, the first frame is shown
    cells: tuple[int, int] = (0, 0)  # (columns, rows) it fills at the given cell size
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.image is not None

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size if self.image is not None else (0, 0)


def _to_display_mode(im: Image.Image) -> Image.Image:
    """RGB, or RGBA when the image has transparency: what every protocol takes."""
    mode = im.mode
    if mode in ("RGB", "RGBA"):
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        # 16-bit/float samples: scale to 8 bits (a plain convert would clip to white).
        hi = 65535.0 if mode.startswith("I;16") or mode == "I" else 1.0
        im = im.convert("F").point(lambda v: v * (255.0 / hi)).convert("L")
        return im.convert("RGB")
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if alpha else "RGB")
    if mode in ("LA", "La", "RGBa"):
        return im.convert("RGBA")
    if mode == "L" and "transparency" in im.info:
        return im.convert("RGBA")
    return im.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV


def decode_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    box: tuple[int, int] = (80, 24),
    cell: tuple[int, int] = CELL,
) -> DecodedImage:
    """Decode the first frame and fit it into ``box`` (columns, rows) of ``cell`` pixels.

    CPU work (a few ms for a web image, ~0.1 s for a 24 MP JPEG): run it in a
    thread.  Never raises and never decodes more than ``max_pixels`` pixels.
    EXIF orientation is applied; palette, CMYK and 16-bit images come out RGB(A).
    """
    kind = sniff_image(data)
    if kind is None:
        return DecodedImage(error="not a PNG, JPEG, GIF or WebP image")
    cols, rows = max(1, box[0]), max(1, box[1])
    cw, ch = max(1, cell[0]), max(1, cell[1])
    target = (cols * cw, rows * ch)
    try:
        with warnings.catch_warnings():
            # Over MAX_IMAGE_PIXELS Pillow only warns; our own budget below decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[_FORMATS[kind]])
    except Image.DecompressionBombError as exc:
        m = _BOMB_PIXELS.search(str(exc))
        pixels = f"{int(m.group(1)):,} pixels" if m else "too many pixels"
        return DecodedImage(kind=kind, error=f"image too large to show ({pixels})")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return DecodedImage(kind=kind, error="the image is broken (its header is unreadable)")
    try:
        return _decode_opened(im, kind, max_pixels, target, (cw, ch))
    finally:
        im.close()


def _decode_opened(
    im: Image.Image,
    kind: str,
    max_pixels: int,
    target: tuple[int, int],
    cell: tuple[int, int],
) -> DecodedImage:
    width, height = im.size
    source = (width, height)
    frames = int(getattr(im, "n_frames", 1) or 1)
    if width <= 0 or height <= 0:
        return DecodedImage(kind=kind, source_size=source, error="the image is empty (0 pixels)")
    if kind == "jpeg" and width * height > target[0] * target[1]:
        # The decoder scales by 1/2..1/8 while decoding: never below the target size.
        im.draft(None, target)
    w, h = im.size
    if w * h > max_pixels:
        return DecodedImage(
            kind=kind,
            source_size=source,
            frames=frames,
            error=f"image too large to show ({width}×{height} pixels)",
        )
    try:
        im.seek(0)
        im.load()
        out = ImageOps.exif_transpose(im) or im
        out = _to_display_mode(out)
        if out is im:
            out = im.copy()  # the caller's image must outlive the file object
        out.thumbnail(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return DecodedImage(
            kind=kind, source_size=source, frames=frames, error="the image is broken or truncated"
        )
    # The nearest whole cells (an image is stretched to them by at most half a cell).
    cells = (_cells(out.width, cell[0]), _cells(out.height, cell[1]))
    return DecodedImage(out, kind, source, frames, cells)


def _cells(pixels: int, per_cell: int) -> int:
    return max(1, math.floor(pixels / per_cell + 0.5))


async def load_image(
    fetcher: Fetcher,
    url: str,
    cache_dir: Path,
    *,
    box: tuple[int, int] = (80, 24),
    cell: tuple[int, int] = CELL,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    executor: Executor | None = None,
) -> DecodedImage:
    """:func:`fetch_image` then :func:`decode_image` in ``executor`` (the loop's
    default thread pool when None): what the item pane's image worker awaits."""
    fetched = await fetch_image(fetcher, url, cache_dir, max_bytes=max_bytes)
    if fetched.error is not None:
        return DecodedImage(kind=fetched.kind, error=fetched.error)
    loop = asyncio.get_running_loop()

    def work() -> DecodedImage:
        return decode_image(fetched.data, max_pixels=max_pixels, box=box, cell=cell)

    return await loop.run_in_executor(executor, work)


# --------------------------------------------------------------------- policy
def link_speed(result: FetchResult) -> float | None:
    """Bytes per second of a finished fetch, or None when it was too small to tell
    (a small body measures the round trip, not the bandwidth)."""
    size = len(result.body or b"")
    if size < _SPEED_SAMPLE or result.elapsed <= 0:
        return None
    return size / result.elapsed


def images_wanted(mode: str, *, graphics: bool, speed: float | None = None) -> bool:
    """Whether the item pane should load inline images now.

    ``mode`` is the config key ``images``: "off" never, "on" whenever the
    terminal can draw them (``graphics``), "auto" (the default) as "on" unless
    the last measured link speed (:func:`link_speed`) was under ``SLOW_LINK``.
    Where images are not loaded the numbered ``[img N: alt]`` links remain.
    """
    if mode == "off" or not graphics:
        return False
    if mode == "on":
        return True
    return speed is None or speed >= SLOW_LINK
