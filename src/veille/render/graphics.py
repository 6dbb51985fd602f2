"""Pixel images in a terminal: which protocol it speaks, and the bytes of each.

Three protocols draw real pixels, each in its own way:

* **kitty graphics with Unicode placeholders** (kitty, Ghostty): the image is
  sent once, then drawn by ordinary text cells (U+10EEEE, its row and column
  as combining diacritics, the image's id as the foreground colour).  Because
  the cells are text, they scroll, clip and repaint with the rest of the pane,
  and tmux keeps them like any text (the image itself goes through tmux's
  passthrough).  This is the protocol that fits a text UI, and the preferred one.
* **sixel** (foot, xterm -ti vt340, mlterm, WezTerm, Konsole, Windows Terminal)
  and **iTerm2 inline images** (iTerm2, WezTerm): the image is painted at the
  cursor over whatever cells are there, and gone when they are rewritten.  The
  pane paints it over its rows of half blocks when the whole image is on
  screen, so a half-scrolled image shows as half blocks, never torn.

Detection reads the environment only.  Asking the terminal (a DA1 or kitty
query) would need to read its answer from stdin, which Textual owns once it
runs, and costs a round trip at every start; the config key
``images_protocol`` names the protocol where the environment cannot tell
(inside tmux, over ssh).

Why not textual-image: its kitty and sixel renderers write to the terminal
outside Textual's frames and ask the terminal at import; here every byte goes
out inside the frame that needs it (see ``tui/widgets/item.py``), and the
encoders are a hundred lines over Pillow.  No Textual here.
"""

from __future__ import annotations

import base64
import io
import re
import struct
from collections.abc import Mapping

from PIL import Image
from rich.color import Color
from rich.style import Style
from rich.text import Text

from veille.config import SCHEMA

__all__ = [
    "PIXEL_PROTOCOLS",
    "PROTOCOLS",
    "cell_pixels",
    "detect_protocol",
    "iterm_image",
    "kitty_delete",
    "kitty_placeholders",
    "kitty_transmit",
    "on_black",
    "passthrough",
    "png_bytes",
    "sixel",
]

#: Values of the config key ``images_protocol``.
PROTOCOLS = SCHEMA["images_protocol"].choices
#: The ones that draw pixels (``blocks`` is colour half blocks, two pixels a cell).
PIXEL_PROTOCOLS = ("kitty", "sixel", "iterm")

ESC = "\x1b"
ST = ESC + "\\"


# --------------------------------------------------------------- detection
def detect_protocol(environ: Mapping[str, str]) -> str:
    """The best protocol the terminal is known to speak, from its environment.

    Inside tmux the outer terminal is unknown (and tmux drops graphics unless
    ``allow-passthrough`` is on): half blocks, unless the config says otherwise.
    """
    term = environ.get("TERM", "")
    program = environ.get("TERM_PROGRAM", "")
    if environ.get("TMUX") or term.startswith(("screen", "tmux")):
        return "blocks"
    if "kitty" in term or environ.get("KITTY_WINDOW_ID") or program == "ghostty":
        return "kitty"
    if term == "xterm-ghostty":
        return "kitty"
    if program == "iTerm.app" or environ.get("LC_TERMINAL") == "iTerm2":
        return "iterm"
    if program == "WezTerm":
        return "iterm"  # its kitty support has no Unicode placeholders
    if term.startswith(("foot", "mlterm", "contour")) or environ.get("KONSOLE_VERSION"):
        return "sixel"
    return "blocks"


def cell_pixels(fd: int) -> tuple[int, int] | None:
    """A cell's size in pixels as the terminal reports it (TIOCGWINSZ), or None.

    Most terminals fill in the pixel size of the window; a sixel image is
    sized in pixels, so it must be drawn at this size to cover its cells."""
    try:
        import fcntl  # POSIX only; elsewhere the default cell size is used
        import termios

        rows, cols, xpix, ypix = struct.unpack(
            "HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
        )
    except (ImportError, OSError, ValueError):
        return None
    if not (rows and cols and xpix and ypix):
        return None
    return (max(1, xpix // cols), max(1, ypix // rows))


def passthrough(sequence: str, *, tmux: bool) -> str:
    """``sequence`` as tmux forwards it to the outer terminal (each ESC doubled in
    a DCS ``tmux;`` string; needs ``set -g allow-passthrough on``)."""
    if not tmux:
        return sequence
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ST}"


def on_black(im: Image.Image) -> Image.Image:
    """RGB, transparent parts over black (as on a dark pane): what every protocol
    here draws, since none of them can show the pane's own colour through."""
    if im.mode == "RGBA":
        flat = Image.new("RGB", im.size)
        flat.paste(im, mask=im.getchannel("A"))
        return flat
    return im if im.mode == "RGB" else im.convert("RGB")


def png_bytes(im: Image.Image) -> bytes:
    """The image as PNG, compressed lightly: it crosses a local pty, not a network."""
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


# ------------------------------------------------------------------- kitty
_CHUNK = 4096  # the protocol's largest payload per escape

# The row/column diacritics of kitty's rowcolumn-diacritics.txt, in order.
_DIACRITICS = [
    0x0305, 0x030D, 0x030E, 0x0310, 0x0312, 0x033D, 0x033E, 0x033F, 0x0346, 0x034A,
    0x034B, 0x034C, 0x0350, 0x0351, 0x0352, 0x0357, 0x035B, 0x0363, 0x0364, 0x0365,
    0x0366, 0x0367, 0x0368, 0x0369, 0x036A, 0x036B, 0x036C, 0x036D, 0x036E, 0x036F,
    0x0483, 0x0484, 0x0485, 0x0486, 0x0487, 0x0592, 0x0593, 0x0594, 0x0595, 0x0597,
    0x0598, 0x0599, 0x059C, 0x059D, 0x059E, 0x059F, 0x05A0, 0x05A1, 0x05A8, 0x05A9,
    0x05AB, 0x05AC, 0x05AF, 0x05C4, 0x0610, 0x0611, 0x0612, 0x0613, 0x0614, 0x0615,
    0x0616, 0x0617, 0x0657, 0x0658, 0x0659, 0x065A, 0x065B, 0x065D, 0x065E, 0x06D6,
    0x06D7, 0x06D8, 0x06D9, 0x06DA, 0x06DB, 0x06DC, 0x06DF, 0x06E0, 0x06E1, 0x06E2,
    0x06E4, 0x06E7, 0x06E8, 0x06EB, 0x06EC, 0x0730, 0x0732, 0x0733, 0x0735, 0x0736,
    0x073A, 0x073D, 0x073F, 0x0740, 0x0741, 0x0743, 0x0745, 0x0747, 0x0749, 0x074A,
    0x07EB, 0x07EC, 0x07ED, 0x07EE, 0x07EF, 0x07F0, 0x07F1, 0x07F3, 0x0816, 0x0817,
    0x0818, 0x0819, 0x081B, 0x081C, 0x081D, 0x081E, 0x081F, 0x0820, 0x0821, 0x0822,
    0x0823, 0x0825, 0x0826, 0x0827, 0x0829, 0x082A, 0x082B, 0x082C, 0x082D, 0x0951,
    0x0953, 0x0954, 0x0F82, 0x0F83, 0x0F86, 0x0F87, 0x135D, 0x135E, 0x135F, 0x17DD,
    0x193A, 0x1A17, 0x1A75, 0x1A76, 0x1A77, 0x1A78, 0x1A79, 0x1A7A, 0x1A7B, 0x1A7C,
    0x1B6B, 0x1B6D, 0x1B6E, 0x1B6F, 0x1B70, 0x1B71, 0x1B72, 0x1B73, 0x1CD0, 0x1CD1,
    0x1CD2, 0x1CDA, 0x1CDB, 0x1CE0, 0x1DC0, 0x1DC1, 0x1DC3, 0x1DC4, 0x1DC5, 0x1DC6,
    0x1DC7, 0x1DC8, 0x1DC9, 0x1DCB, 0x1DCC, 0x1DD1, 0x1DD2, 0x1DD3, 0x1DD4, 0x1DD5,
    0x1DD6, 0x1DD7, 0x1DD8, 0x1DD9, 0x1DDA, 0x1DDB, 0x1DDC, 0x1DDD, 0x1DDE, 0x1DDF,
    0x1DE0, 0x1DE1, 0x1DE2, 0x1DE3, 0x1DE4, 0x1DE5, 0x1DE6, 0x1DFE, 0x20D0, 0x20D1,
    0x20D4, 0x20D5, 0x20D6, 0x20D7, 0x20DB, 0x20DC, 0x20E1, 0x20E7, 0x20E9, 0x20F0,
    0x2CEF, 0x2CF0, 0x2CF1, 0x2DE0, 0x2DE1, 0x2DE2, 0x2DE3, 0x2DE4, 0x2DE5, 0x2DE6,
    0x2DE7, 0x2DE8, 0x2DE9, 0x2DEA, 0x2DEB, 0x2DEC, 0x2DED, 0x2DEE, 0x2DEF, 0x2DF0,
    0x2DF1, 0x2DF2, 0x2DF3, 0x2DF4, 0x2DF5, 0x2DF6, 0x2DF7, 0x2DF8, 0x2DF9, 0x2DFA,
    0x2DFB, 0x2DFC, 0x2DFD, 0x2DFE, 0x2DFF, 0xA66F, 0xA67C, 0xA67D, 0xA6F0, 0xA6F1,
    0xA8E0, 0xA8E1, 0xA8E2, 0xA8E3, 0xA8E4, 0xA8E5, 0xA8E6, 0xA8E7, 0xA8E8, 0xA8E9,
    0xA8EA, 0xA8EB, 0xA8EC, 0xA8ED, 0xA8EE, 0xA8EF, 0xA8F0, 0xA8F1, 0xAAB0, 0xAAB2,
    0xAAB3, 0xAAB7, 0xAAB8, 0xAABE, 0xAABF, 0xAAC1, 0xFE20, 0xFE21, 0xFE22, 0xFE23,
    0xFE24, 0xFE25, 0xFE26, 0x10A0F, 0x10A38, 0x1D185, 0x1D186, 0x1D187, 0x1D188,
    0x1D189, 0x1D1AA, 0x1D1AB, 0x1D1AC, 0x1D1AD, 0x1D242, 0x1D243, 0x1D244,
]  # fmt: skip
#: Placeholder rows and columns an image may span.
KITTY_MAX_CELLS = len(_DIACRITICS)
PLACEHOLDER = "\U0010eeee"


def kitty_transmit(png: bytes, image_id: int, cols: int, rows: int, *, tmux: bool = False) -> str:
    """Escapes that send ``png`` as image ``image_id`` with a virtual placement of
    ``cols`` x ``rows`` cells, drawn wherever placeholder cells name it.

    ``q=2``: the terminal answers nothing (Textual reads stdin, and an answer
    would arrive as keys).  Chunked at 4096 bytes of base64; only the first
    chunk carries the keys, as the protocol asks."""
    data = base64.standard_b64encode(png).decode("ascii")
    chunks = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [""]
    out = []
    for n, chunk in enumerate(chunks):
        more = 1 if n < len(chunks) - 1 else 0
        keys = (
            f"a=T,U=1,f=100,i={image_id},c={cols},r={rows},q=2,m={more}"
            if n == 0
            else f"m={more},q=2"
        )
        out.append(passthrough(f"{ESC}_G{keys};{chunk}{ST}", tmux=tmux))
    return "".join(out)


def kitty_delete(image_id: int, *, tmux: bool = False) -> str:
    """The escape that frees image ``image_id`` in the terminal (and its placements)."""
    return passthrough(f"{ESC}_Ga=d,d=I,i={image_id},q=2{ST}", tmux=tmux)


def kitty_placeholders(image_id: int, cols: int, rows: int) -> list[Text]:
    """The text rows that show image ``image_id``: one placeholder a cell, its
    row and column as diacritics, the id (24 bits) as a true foreground colour."""
    if not (0 < image_id < 1 << 24):
        raise ValueError("a placeholder image id is 1 to 2**24 - 1")
    cols, rows = min(cols, KITTY_MAX_CELLS), min(rows, KITTY_MAX_CELLS)
    style = Style(color=Color.from_rgb(image_id >> 16 & 255, image_id >> 8 & 255, image_id & 255))
    out = []
    for r in range(rows):
        row = chr(_DIACRITICS[r])
        line = "".join(PLACEHOLDER + row + chr(_DIACRITICS[c]) for c in range(cols))
        text = Text(end="", no_wrap=True)
        text.append(line, style)  # a span, not the base style: the pane's style goes under it
        out.append(text)
    return out


# ------------------------------------------------------------------- iTerm2
def iterm_image(png: bytes, cols: int, rows: int) -> str:
    """iTerm2's inline image (OSC 1337), stretched over ``cols`` x ``rows`` cells
    (the image already has the cells' aspect); the cursor stays where it was
    where the terminal honours ``doNotMoveCursor`` (WezTerm)."""
    data = base64.standard_b64encode(png).decode("ascii")
    return (
        f"{ESC}]1337;File=inline=1;size={len(png)};width={cols};height={rows};"
        f"preserveAspectRatio=0;doNotMoveCursor=1:{data}\a"
    )


# -------------------------------------------------------------------- sixel
_SIXEL_COLOURS = 255
_LONG_RUN = re.compile(rb"(.)\1{3,}")


def _rle(match: re.Match[bytes]) -> bytes:
    run = match.group(0)
    return b"!%d%s" % (len(run), run[:1])


def sixel(im: Image.Image) -> str:
    """The image as one sixel string (DCS ... ST), in at most 255 colours.

    Sixel paints six pixel rows a band, one colour at a time.  Each colour's
    six-bit column masks are built with ``bytes.translate`` and big-int sums
    (bits of different rows never overlap), so the Python loop runs per band
    and colour, never per pixel: ~40 ms for a 800 x 320 image.  Transparent
    parts are flattened onto black, as the half blocks do."""
    im = on_black(im)
    width, height = im.size
    q = im.quantize(
        colors=_SIXEL_COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    palette = q.getpalette() or []
    pixels = q.tobytes()
    used = sorted(set(pixels))
    out = [b"\x1bP0;1;0q", b'"1;1;%d;%d' % (width, height)]
    for c in used:
        r, g, b = palette[3 * c : 3 * c + 3]
        out.append(b"#%d;2;%d;%d;%d" % (c, r * 100 // 255, g * 100 // 255, b * 100 // 255))
    to_char = bytes(range(63, 127)) + bytes(192)
    for top in range(0, height, 6):
        band = [
            pixels[(top + k) * width : (top + k + 1) * width] for k in range(min(6, height - top))
        ]
        colours = sorted(set(b"".join(band)))
        for n, c in enumerate(colours):
            total = 0
            for k, row in enumerate(band):
                table = bytes(c) + bytes((1 << k,)) + bytes(255 - c)
                total += int.from_bytes(row.translate(table), "big")
            masks = total.to_bytes(width, "big").translate(to_char)
            out.append(
                b"#%d%s%s" % (c, _LONG_RUN.sub(_rle, masks), b"$" if n < len(colours) - 1 else b"")
            )
        out.append(b"-")
    out.append(b"\x1b\\")
    return b"".join(out).decode("ascii")
