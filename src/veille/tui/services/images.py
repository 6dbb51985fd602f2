"""Inline images for the item pane: whether to load them, loading them, and
drawing them as rows of half blocks.

The policy and the work are ``render.images`` (fetch through the polite
fetcher with the ``images_max_mb`` cap, a disk cache under the cache folder,
decoding within a pixel budget in a thread); this adds what the app needs:

* whether the terminal can draw them: half blocks (``▀``, two pixels a cell,
  foreground above, background below) need colours, so a terminal run with
  NO_COLOR keeps the numbered links;
* ``images = "auto"``: off once a download measured a slow link;
* the decoded images kept in memory (a few, LRU) so scrolling back is free.

Why half blocks drawn here rather than textual-image (evaluated for this): its
kitty and iTerm2 renderables write the image to the terminal themselves,
outside Textual's frames, which the item pane (a Line-API widget drawing rows
of text) cannot host without tearing frames; its half-cell renderer is the
same twenty lines over Pillow as :func:`image_rows`; and importing it asks the
terminal what it supports (~0.1-0.2 s measured in tmux) at every start, with
images on by default.  So no dependency, and no terminal query.

Every failure is a ``DecodedImage.error`` line; nothing here raises.  No Textual.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PIL import Image
from rich.color import Color
from rich.style import Style
from rich.text import Text

from veille.config import Config
from veille.render.images import (
    CELL,
    DecodedImage,
    decode_image,
    fetch_image,
    images_wanted,
    link_speed,
    prune_cache,
)

log = logging.getLogger(__name__)

__all__ = ["MAX_ROWS", "ImageLoader", "graphics_available", "image_rows"]

MEMORY_CACHE = 32  # decoded images kept
MAX_ROWS = 16  # rows an image takes at most in the pane
HALF_BLOCK = "▀"


def graphics_available(*, no_color: bool = False, color_system: str | None = "truecolor") -> bool:
    """Whether the terminal can draw half-block images: it needs colours (with 16,
    as TERM=xterm claims, a picture is coarse but its shapes are there)."""
    return not no_color and color_system is not None


class ImageLoader:
    """Loads the images of the item shown, within the configured limits."""

    def __init__(self, config: Config, cache_dir: Path, *, graphics: bool = True) -> None:
        self.mode = str(config["images"])
        self.graphics = graphics  # the terminal can draw them (see graphics_available)
        self.max_bytes = int(float(config["images_max_mb"]) * 2**20)
        self.cache_bytes = int(float(config["images_cache_mb"]) * 2**20)
        self.cache_dir = Path(cache_dir)
        self.config = config
        self.speed: float | None = None  # bytes/s of the last big enough download
        self._decoded: OrderedDict[tuple[str, int, int], DecodedImage] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return images_wanted(self.mode, graphics=self.graphics, speed=self.speed)

    def prune(self) -> int:
        """Keep the disk cache within ``images_cache_mb`` (at start, on a thread)."""
        try:
            return prune_cache(self.cache_dir, self.cache_bytes)
        except Exception:
            log.exception("pruning the image cache failed")
            return 0

    def cached(self, url: str, box: tuple[int, int]) -> DecodedImage | None:
        hit = self._decoded.get((url, *box))
        if hit is not None:
            self._decoded.move_to_end((url, *box))
        return hit

    async def load(self, urls: list[str], box: tuple[int, int]) -> dict[str, DecodedImage]:
        """Every image of ``urls`` fitted into ``box`` (columns, rows); each one
        that cannot be shown carries its one-line reason."""
        from veille.refresh.runner import fetcher_for

        out: dict[str, DecodedImage] = {}
        todo = []
        for url in urls:
            hit = self.cached(url, box)
            if hit is not None:
                out[url] = hit
            else:
                todo.append(url)
        if not todo:
            return out
        fetcher = fetcher_for(self.config)
        fetcher.max_body = self.max_bytes  # an oversized image is cut off while downloading
        async with fetcher:
            results = await asyncio.gather(*(self._one(fetcher, u, box) for u in todo))
        for url, decoded in zip(todo, results, strict=True):
            out[url] = decoded
            self._decoded[(url, *box)] = decoded
            while len(self._decoded) > MEMORY_CACHE:
                self._decoded.popitem(last=False)
        return out

    async def _one(self, fetcher: Any, url: str, box: tuple[int, int]) -> DecodedImage:
        try:
            start = time.monotonic()
            fetched = await fetch_image(fetcher, url, self.cache_dir, max_bytes=self.max_bytes)
            if fetched.error is not None:
                return DecodedImage(kind=fetched.kind, error=fetched.error)
            if not fetched.cached:
                self._measure(url, fetched.data, time.monotonic() - start)
            data = fetched.data
            return await asyncio.to_thread(decode_image, data, box=box, cell=CELL)
        except Exception as exc:  # a bug must cost one image, not the pane
            log.exception("loading the image %s failed", url)
            return DecodedImage(error=f"could not load the image: {type(exc).__name__}")

    def _measure(self, url: str, data: bytes, elapsed: float) -> None:
        from veille.net.fetcher import FetchResult

        speed = link_speed(FetchResult(url, url, None, 200, body=data, elapsed=elapsed))
        if speed is not None:
            self.speed = speed


def image_rows(decoded: DecodedImage, width: int, *, max_rows: int = MAX_ROWS) -> list[Text]:
    """The image as rows of half blocks (two pixels a cell: the upper one the
    foreground, the lower one the background), at most ``width`` cells wide and
    ``max_rows`` rows high, its aspect kept; [] when there is nothing to draw.
    A few milliseconds for a pane-wide image: call it off the UI thread."""
    im = decoded.image
    if im is None or not decoded.ok or width < 1:
        return []
    cols, rows = max(1, decoded.cells[0]), max(1, decoded.cells[1])
    scale = min(1.0, width / cols, max_rows / rows)
    cols, rows = max(1, int(cols * scale)), max(1, int(rows * scale))
    try:
        if im.mode == "RGBA":  # transparent parts over black, like a dark pane
            flat = Image.new("RGB", im.size)
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        elif im.mode != "RGB":
            im = im.convert("RGB")
        small = im.resize((cols, rows * 2), Image.Resampling.LANCZOS)
    except (OSError, ValueError):
        log.exception("drawing an image failed")
        return []
    pixels: Any = small.load()
    styles: dict[tuple[Any, Any], Style] = {}
    out = []
    for y in range(0, rows * 2, 2):
        row = Text(end="", no_wrap=True)
        for x in range(cols):
            key = (pixels[x, y], pixels[x, y + 1])
            style = styles.get(key)
            if style is None:
                style = styles[key] = Style(
                    color=Color.from_rgb(*key[0][:3]), bgcolor=Color.from_rgb(*key[1][:3])
                )
            row.append(HALF_BLOCK, style)
        out.append(row)
    return out
