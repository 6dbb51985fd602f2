"""Inline images for the item pane: whether to load them, loading them, and
the picture each becomes in the terminal's protocol.

The policy and the work are ``render.images`` (fetch through the polite
fetcher with the ``images_max_mb`` cap, a disk cache under the cache folder,
decoding within a pixel budget in a thread) and ``render.graphics`` (which
protocol, and its bytes); this adds what the app needs:

* which protocol to draw with (``images_protocol``: auto from the environment,
  or named), and whether the terminal can draw at all: half blocks (``▀``, two
  pixels a cell) need colours, kitty's placeholders a true colour for the
  image's id, so NO_COLOR keeps the numbered links;
* ``images = "auto"``: off once a download measured a slow link;
* the decoded images and their pictures kept in memory (a few, LRU) so
  scrolling back is free, and which kitty images the terminal already holds
  (each is sent once, and freed when it leaves the cache).

Every failure is a ``DecodedImage.error`` line; nothing here raises.  No Textual.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from rich.color import Color
from rich.style import Style
from rich.text import Text

from veille.config import Config
from veille.render import graphics
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

__all__ = [
    "MAX_ROWS",
    "ImageLoader",
    "Picture",
    "graphics_available",
    "image_rows",
    "resolve_protocol",
]

MEMORY_CACHE = 32  # decoded images kept
MAX_ROWS = 16  # rows an image takes at most in the pane
HALF_BLOCK = "▀"


def graphics_available(*, no_color: bool = False, color_system: str | None = "truecolor") -> bool:
    """Whether the terminal can draw half-block images: it needs colours (with 16,
    as TERM=xterm claims, a picture is coarse but its shapes are there)."""
    return not no_color and color_system is not None


def resolve_protocol(
    setting: str, environ: Mapping[str, str], *, color_system: str | None = "truecolor"
) -> str:
    """The protocol to draw with: ``images_protocol`` as set, ``auto`` read from
    the environment (``graphics.detect_protocol``).  Kitty's placeholders carry
    the image's id as a 24-bit colour, which a 256-colour console would round
    to another id: without true colour they fall back to half blocks."""
    protocol = graphics.detect_protocol(environ) if setting == "auto" else setting
    if protocol not in graphics.PIXEL_PROTOCOLS:
        return "blocks"
    if protocol == "kitty" and color_system != "truecolor":
        log.info("kitty images need true colour (console: %s): half blocks", color_system)
        return "blocks"
    return protocol


def _terminal_cell() -> tuple[int, int]:
    """A cell's size in pixels, from whichever standard stream is the terminal."""
    for stream in (sys.__stdout__, sys.__stderr__, sys.__stdin__):
        try:
            fd = stream.fileno() if stream is not None else -1
        except (OSError, ValueError):
            continue
        if fd >= 0 and os.isatty(fd):
            cell = graphics.cell_pixels(fd)
            if cell is not None:
                return cell
    return CELL


@dataclass(frozen=True, slots=True)
class Picture:
    """An image as the item pane draws it: ``rows`` of text cells (half blocks, or
    kitty's placeholders) and, for the pixel protocols, the escape that puts
    the pixels there (kitty: once; sixel and iTerm2: over the rows each time
    the whole image is on screen)."""

    rows: list[Text]
    protocol: str = "blocks"
    payload: str = ""
    image_id: int = 0

    @property
    def overlay(self) -> bool:
        """Painted over its rows at the cursor (sixel, iTerm2), not by the cells."""
        return self.protocol in ("sixel", "iterm") and bool(self.payload)


class ImageLoader:
    """Loads the images of the item shown, within the configured limits."""

    def __init__(
        self,
        config: Config,
        cache_dir: Path,
        *,
        graphics: bool = True,
        protocol: str = "blocks",
        tmux: bool = False,
        cell: tuple[int, int] | None = None,
    ) -> None:
        self.mode = str(config["images"])
        self.graphics = graphics  # the terminal can draw them (see graphics_available)
        self.protocol = protocol  # see resolve_protocol
        self.tmux = tmux  # kitty's escapes go through tmux's passthrough
        self.cell = (
            cell if cell is not None else (_terminal_cell() if protocol != "blocks" else CELL)
        )
        self.max_bytes = int(float(config["images_max_mb"]) * 2**20)
        self.cache_bytes = int(float(config["images_cache_mb"]) * 2**20)
        self.cache_dir = Path(cache_dir)
        self.config = config
        self.speed: float | None = None  # bytes/s of the last big enough download
        self._decoded: OrderedDict[tuple[str, int, int], DecodedImage] = OrderedDict()
        self._pictures: OrderedDict[tuple[str, int], Picture] = OrderedDict()
        # Kitty ids: 24 bits, from a random start so two apps in one terminal rarely meet.
        self._next_id = random.randrange(1, 1 << 23)
        self._sent: set[int] = set()  # kitty images the terminal holds
        self._freed: list[int] = []  # and those to free with the next escape

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
            return await asyncio.to_thread(decode_image, data, box=box, cell=self.cell)
        except Exception as exc:  # a bug must cost one image, not the pane
            log.exception("loading the image %s failed", url)
            return DecodedImage(error=f"could not load the image: {type(exc).__name__}")

    def picture(self, url: str, decoded: DecodedImage, width: int) -> Picture | None:
        """``decoded`` as this terminal draws it, at most ``width`` cells wide; None
        when there is nothing to draw.  CPU work (a sixel is ~40 ms): call it off
        the UI thread.  Kept per (url, width) so going back to an item is free."""
        key = (url, width)
        hit = self._pictures.get(key)
        if hit is not None:
            self._pictures.move_to_end(key)
            return hit
        blocks = image_rows(decoded, width)
        if not blocks or decoded.image is None:
            return None
        picture = Picture(blocks)
        if self.protocol in graphics.PIXEL_PROTOCOLS:
            try:
                picture = self._pixels(decoded.image, blocks)
            except (OSError, ValueError):
                log.exception("encoding an image for %s failed: half blocks", self.protocol)
        self._pictures[key] = picture
        while len(self._pictures) > MEMORY_CACHE:
            _, old = self._pictures.popitem(last=False)
            if old.image_id in self._sent:
                self._sent.discard(old.image_id)
                self._freed.append(old.image_id)
        return picture

    def _pixels(self, im: Image.Image, blocks: list[Text]) -> Picture:
        cols, rows = blocks[0].cell_len, len(blocks)
        cw, ch = self.cell
        # Exactly the cells' pixels (as the half blocks, stretched by under half a
        # cell), transparency over black: an overlay then covers its rows whole.
        canvas = graphics.on_black(im).resize((cols * cw, rows * ch), Image.Resampling.LANCZOS)
        if self.protocol == "sixel":
            return Picture(blocks, "sixel", graphics.sixel(canvas))
        png = graphics.png_bytes(canvas)
        if self.protocol == "iterm":
            return Picture(blocks, "iterm", graphics.iterm_image(png, cols, rows))
        image_id = self._next_id
        self._next_id = self._next_id % ((1 << 24) - 1) + 1
        return Picture(
            graphics.kitty_placeholders(image_id, cols, rows),
            "kitty",
            graphics.kitty_transmit(png, image_id, cols, rows, tmux=self.tmux),
            image_id,
        )

    def escape(self, picture: Picture) -> str:
        """What to write for ``picture`` now: a kitty image the terminal does not
        hold yet (then it does), an overlay's pixels; "" when nothing is due.
        Images that left the cache are freed on the way."""
        if picture.overlay:
            return picture.payload
        if picture.protocol != "kitty" or picture.image_id in self._sent:
            return ""
        self._sent.add(picture.image_id)
        freed = "".join(graphics.kitty_delete(i, tmux=self.tmux) for i in self._freed)
        self._freed.clear()
        return freed + picture.payload

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
        im = graphics.on_black(im)
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
