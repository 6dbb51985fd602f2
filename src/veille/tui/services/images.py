"""Inline images for the item pane: whether to load them, and loading them.

The policy and the work are ``render.images`` (fetch through the polite
fetcher with the ``images_max_mb`` cap, a disk cache under the cache folder,
decoding within a pixel budget in a thread); this adds what the app needs:

* whether images can be drawn at all: textual-image is an optional extra
  (``veille[images]``, LGPL-3.0+); it asks the terminal what it supports when
  imported (~200 ms, and only before Textual owns the terminal), so
  :func:`prepare` imports it before the app starts, and only when images are on;
* ``images = "auto"``: off once a download measured a slow link;
* the decoded images kept in memory (a few, LRU) so scrolling back is free.

Every failure is an ``DecodedImage.error`` line; nothing here raises.  No Textual.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

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

__all__ = ["ImageLoader", "graphics_available", "prepare"]

MEMORY_CACHE = 32  # decoded images kept
MAX_ROWS = 16  # rows an image takes at most in the pane
_renderer: Any = None  # textual-image's renderable class, once prepared
_prepared = False


def prepare(config: Config) -> bool:
    """Import textual-image when images may be shown (before the app takes the
    terminal: it queries the terminal on import); True when it is there."""
    global _renderer, _prepared
    if _prepared:
        return _renderer is not None
    _prepared = True
    if config["images"] == "off":
        return False
    try:
        from textual_image.renderable.halfcell import Image as Halfcell
    except Exception:  # absent (an optional extra), or a terminal it cannot talk to
        log.info("textual-image is not available: images stay numbered links", exc_info=True)
        return False
    _renderer = Halfcell
    return True


def graphics_available() -> bool:
    return _renderer is not None


def renderer() -> Any:
    """The Rich renderable class images are drawn with (None: not available)."""
    return _renderer


class ImageLoader:
    """Loads the images of the item shown, within the configured limits."""

    def __init__(self, config: Config, cache_dir: Path) -> None:
        self.mode = str(config["images"])
        self.max_bytes = int(float(config["images_max_mb"]) * 2**20)
        self.cache_bytes = int(float(config["images_cache_mb"]) * 2**20)
        self.cache_dir = Path(cache_dir)
        self.config = config
        self.speed: float | None = None  # bytes/s of the last big enough download
        self._decoded: OrderedDict[tuple[str, int, int], DecodedImage] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return images_wanted(self.mode, graphics=graphics_available(), speed=self.speed)

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


def image_rows(decoded: DecodedImage, width: int) -> list[Any]:
    """The image as rows of styled text (half blocks: two pixels a cell), at most
    ``width`` cells wide; [] when it cannot be drawn."""
    from rich.console import Console
    from rich.text import Text

    cls = renderer()
    if cls is None or not decoded.ok:
        return []
    cols = max(1, min(width, decoded.cells[0]))
    rows = max(1, min(MAX_ROWS, decoded.cells[1]))
    try:
        renderable = cls(decoded.image, width=cols, height=rows)
        console = Console(width=width, color_system="truecolor", force_terminal=True)
        lines = console.render_lines(renderable, console.options.update(width=width), pad=False)
    except Exception:
        log.exception("drawing an image failed")
        return []
    out = []
    for segments in lines:
        t = Text(end="")
        for seg in segments:
            if seg.text and not seg.control:
                t.append(seg.text, style=seg.style)
        out.append(t)
    return out
