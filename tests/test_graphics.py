"""The pixel protocols' bytes (render/graphics.py) and how the image service
chooses and sends them (tui/services/images.py).

The sixel encoder is checked by decoding its output back into pixels with a
small sixel reader written from the VT340 description (below); kitty's and
iTerm2's escapes by parsing them back.  A real terminal is checked in tmux in
``test_tui_reading.py``.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from veille.config import Config
from veille.render import graphics
from veille.render.images import decode_image
from veille.tui.services.images import ImageLoader, resolve_protocol


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def quadrants(width: int = 37, height: int = 23) -> Image.Image:
    """Four flat colours; odd sizes, so the last sixel band is partial."""
    im = Image.new("RGB", (width, height), (250, 0, 0))
    im.paste((0, 200, 0), (width // 2, 0, width, height // 2))
    im.paste((0, 0, 255), (0, height // 2, width // 2, height))
    im.paste((255, 255, 255), (width // 2, height // 2, width, height))
    return im


# -------------------------------------------------------------------- sixel
def read_sixel(data: str) -> tuple[tuple[int, int], dict[tuple[int, int], tuple[int, int, int]]]:
    """(declared size, {(x, y): rgb}) of a sixel string; pixels never painted are absent."""
    assert data.startswith("\x1bP") and data.endswith("\x1b\\")
    body = data[data.index("q") + 1 : -2]
    size = (0, 0)
    m = re.match(r'"1;1;(\d+);(\d+)', body)
    if m:
        size = (int(m.group(1)), int(m.group(2)))
        body = body[m.end() :]
    palette: dict[int, tuple[int, int, int]] = {}
    pixels: dict[tuple[int, int], tuple[int, int, int]] = {}
    x = y = colour = 0
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "#":
            m = re.match(r"#(\d+)(?:;2;(\d+);(\d+);(\d+))?", body[i:])
            assert m
            colour = int(m.group(1))
            if m.group(2) is not None:
                palette[colour] = tuple(round(int(v) * 255 / 100) for v in m.group(2, 3, 4))  # type: ignore[assignment]
            i += m.end()
            continue
        count = 1
        if ch == "!":
            m = re.match(r"!(\d+)(.)", body[i:])
            assert m
            count, ch = int(m.group(1)), m.group(2)
            i += m.end() - 1
        if ch == "$":
            x = 0
        elif ch == "-":
            x, y = 0, y + 6
        else:
            bits = ord(ch) - 63
            assert 0 <= bits < 64, repr(ch)
            for dx in range(count):
                for k in range(6):
                    if bits >> k & 1:
                        pixels[(x + dx, y + k)] = palette[colour]
            x += count
        i += 1
    return size, pixels


def test_sixel_paints_every_pixel_in_its_colour():
    im = quadrants()
    size, pixels = read_sixel(graphics.sixel(im))
    assert size == im.size
    assert len(pixels) == im.width * im.height  # every pixel, none outside
    for (x, y), rgb in pixels.items():
        want = im.getpixel((x, y))
        assert all(abs(a - b) <= 3 for a, b in zip(rgb, want, strict=True)), (x, y, rgb, want)


def test_sixel_of_a_photo_like_image_stays_close():
    """Many colours (a gradient): quantised to 255, each pixel near the original."""
    im = Image.linear_gradient("L").resize((64, 40)).convert("RGB")
    im = Image.merge("RGB", (im.getchannel(0), im.getchannel(0).rotate(90), im.getchannel(0)))
    _, pixels = read_sixel(graphics.sixel(im))
    assert len(pixels) == 64 * 40
    worst = max(
        max(abs(a - b) for a, b in zip(rgb, im.getpixel(xy), strict=True))  # type: ignore[arg-type]
        for xy, rgb in pixels.items()
    )
    assert worst <= 24


def test_sixel_flattens_transparency_onto_black():
    im = Image.new("RGBA", (8, 6), (255, 255, 255, 0))
    im.paste((255, 255, 255, 255), (0, 0, 4, 6))
    _, pixels = read_sixel(graphics.sixel(im))
    assert pixels[(0, 0)] == (255, 255, 255) and pixels[(7, 5)] == (0, 0, 0)


# -------------------------------------------------------------------- kitty
APC = re.compile(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\")


def test_kitty_transmission_is_chunked_with_its_keys_first():
    data = png(Image.effect_noise((200, 120), 64).convert("RGB"))  # noise: > 4 KiB
    sent = graphics.kitty_transmit(data, 4242, 20, 6)
    chunks = APC.findall(sent)
    assert len(chunks) > 1 and "".join(APC.sub("", sent)) == ""  # nothing between escapes
    keys = [dict(kv.split("=") for kv in k.split(",")) for k, _ in chunks]
    assert keys[0] == {
        "a": "T", "U": "1", "f": "100", "i": "4242", "c": "20", "r": "6", "q": "2", "m": "1"
    }  # fmt: skip
    assert all(k == {"m": "1", "q": "2"} for k in keys[1:-1])
    assert keys[-1] == {"m": "0", "q": "2"}
    assert all(len(payload) <= 4096 for _, payload in chunks)
    assert base64.b64decode("".join(p for _, p in chunks)) == data


def test_kitty_in_tmux_goes_through_passthrough():
    plain = graphics.kitty_transmit(b"png", 7, 1, 1)
    wrapped = graphics.kitty_transmit(b"png", 7, 1, 1, tmux=True)
    assert wrapped == "\x1bPtmux;" + plain.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    assert graphics.kitty_delete(7) == "\x1b_Ga=d,d=I,i=7,q=2\x1b\\"


def test_kitty_placeholders_name_the_image_row_and_column():
    rows = graphics.kitty_placeholders(0x123456, 5, 3)
    assert len(rows) == 3 and {r.cell_len for r in rows} == {5}
    for r, row in enumerate(rows):
        cells = re.findall("\U0010eeee(.)(.)", row.plain)
        assert len(cells) == 5
        for c, (row_mark, col_mark) in enumerate(cells):
            assert ord(row_mark) == graphics._DIACRITICS[r]
            assert ord(col_mark) == graphics._DIACRITICS[c]
        (span,) = row.spans
        colour = span.style.color  # type: ignore[union-attr]
        assert colour is not None and colour.triplet is not None
        assert tuple(colour.triplet) == (0x12, 0x34, 0x56)  # the id, as a true colour
    with pytest.raises(ValueError):
        graphics.kitty_placeholders(1 << 24, 1, 1)


def test_iterm_image_is_the_png_over_its_cells():
    data = png(quadrants())
    seq = graphics.iterm_image(data, 12, 4)
    m = re.fullmatch(r"\x1b\]1337;File=([^:]*):([A-Za-z0-9+/=]+)\a", seq)
    assert m
    args = dict(kv.split("=") for kv in m.group(1).split(";"))
    assert args["inline"] == "1" and args["width"] == "12" and args["height"] == "4"
    assert int(args["size"]) == len(data)
    assert base64.b64decode(m.group(2)) == data


# ---------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TERM": "xterm-kitty"}, "kitty"),
        ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "1"}, "kitty"),
        ({"TERM": "xterm-ghostty"}, "kitty"),
        ({"TERM_PROGRAM": "ghostty"}, "kitty"),
        ({"TERM_PROGRAM": "iTerm.app"}, "iterm"),
        ({"TERM_PROGRAM": "WezTerm"}, "iterm"),
        ({"TERM": "foot"}, "sixel"),
        ({"TERM": "xterm-256color", "KONSOLE_VERSION": "230401"}, "sixel"),
        ({"TERM": "xterm-256color"}, "blocks"),
        ({"TERM": "tmux-256color", "TMUX": "/tmp/x", "KITTY_WINDOW_ID": "1"}, "blocks"),
        ({}, "blocks"),
    ],
)
def test_the_protocol_is_read_from_the_environment(env: dict[str, str], expected: str):
    assert graphics.detect_protocol(env) == expected
    assert resolve_protocol("auto", env) == expected


def test_a_named_protocol_wins_and_kitty_needs_true_colour():
    assert resolve_protocol("sixel", {"TERM": "xterm-kitty"}) == "sixel"
    assert resolve_protocol("kitty", {"TMUX": "/tmp/x"}) == "kitty"  # you know your terminal
    assert resolve_protocol("kitty", {}, color_system="256") == "blocks"  # ids would be rounded
    assert resolve_protocol("blocks", {"TERM": "xterm-kitty"}) == "blocks"
    assert graphics.PROTOCOLS == ("auto", "kitty", "sixel", "iterm", "blocks")


def test_cell_pixels_of_something_not_a_terminal_is_none(tmp_path: Path):
    with open(tmp_path / "f", "w") as f:
        assert graphics.cell_pixels(f.fileno()) is None


# ------------------------------------------------------------------ service
def loader(tmp_path: Path, protocol: str) -> ImageLoader:
    return ImageLoader(Config(), tmp_path, protocol=protocol, cell=(8, 16))


def decoded(width: int = 160, height: int = 80):
    return decode_image(png(quadrants(width, height)), box=(40, 16), cell=(8, 16))


def test_each_protocol_draws_the_same_cells(tmp_path: Path):
    blocks = loader(tmp_path, "blocks").picture("u", decoded(), 30)
    assert blocks is not None and blocks.payload == "" and not blocks.overlay
    size = (blocks.rows[0].cell_len, len(blocks.rows))
    for protocol in ("kitty", "sixel", "iterm"):
        p = loader(tmp_path, protocol).picture("u", decoded(), 30)
        assert p is not None and p.protocol == protocol
        assert (p.rows[0].cell_len, len(p.rows)) == size  # same room in the pane
    sixel = loader(tmp_path, "sixel").picture("u", decoded(), 30)
    assert sixel is not None and sixel.overlay
    (w, h), _ = read_sixel(sixel.payload)
    assert (w, h) == (size[0] * 8, size[1] * 16)  # exactly its cells, to the edge


def test_a_kitty_image_is_sent_once_and_freed_when_it_leaves_the_cache(tmp_path: Path):
    service = loader(tmp_path, "kitty")
    first = service.picture("u0", decoded(), 30)
    assert first is not None
    assert service.escape(first).startswith("\x1b_Ga=T")
    assert service.escape(first) == ""  # the terminal holds it
    assert service.picture("u0", decoded(), 30) is first  # going back costs nothing
    for n in range(1, 40):  # push it out of the cache
        later = service.picture(f"u{n}", decoded(), 30)
        assert later is not None
    again = service.picture("u0", decoded(), 30)
    assert again is not None and again.image_id != first.image_id
    sent = service.escape(again)
    assert f"\x1b_Ga=d,d=I,i={first.image_id},q=2\x1b\\" in sent  # freed on the way
    assert sent.endswith(again.payload)


def test_overlays_are_painted_every_time(tmp_path: Path):
    service = loader(tmp_path, "iterm")
    p = service.picture("u", decoded(), 30)
    assert p is not None and service.escape(p) == service.escape(p) == p.payload
