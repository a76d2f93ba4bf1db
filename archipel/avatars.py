"""Default profile pictures: an avatar and a header drawn from the handle, so that a profile is
never empty for a new follower. The same handle always gives the same picture (no storage).
Pillow is imported by the first picture drawn, not by every process that serves pages."""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

AVATAR_SIZE = 400  # what Mastodon shows (it scales down larger ones)
HEADER_SIZE = (1500, 500)
GRID = 5  # a symmetric 5 x 5 pattern of cells, like the identicons of code forges


def _palette(digest: bytes) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A saturated colour and a pale one of the same hue: readable on light and dark themes."""
    hue = digest[0] / 255
    strong = colorsys.hls_to_rgb(hue, 0.38, 0.55)
    pale = colorsys.hls_to_rgb(hue, 0.93, 0.45)
    return (tuple(round(c * 255) for c in strong), tuple(round(c * 255) for c in pale))


def _cells(digest: bytes) -> list[tuple[int, int]]:
    """Cells to fill: the left half decides, the right half mirrors it."""
    filled = []
    half = (GRID + 1) // 2
    for row in range(GRID):
        for column in range(half):
            if digest[1 + row * half + column] % 2:
                filled += [(row, column), (row, GRID - 1 - column)]
    return filled


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


@functools.lru_cache(maxsize=256)
def default_avatar(handle: str) -> bytes:
    digest = hashlib.sha256(handle.encode()).digest()
    strong, pale = _palette(digest)
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (AVATAR_SIZE, AVATAR_SIZE), pale)
    draw = ImageDraw.Draw(image)
    margin, cell = 50, (AVATAR_SIZE - 100) // GRID
    for row, column in _cells(digest):
        x, y = margin + column * cell, margin + row * cell
        draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=strong)
    return _png(image)


@functools.lru_cache(maxsize=256)
def default_header(handle: str) -> bytes:
    """Diagonal bands of the handle's colours: calm behind the avatar and the name."""
    digest = hashlib.sha256(handle.encode()).digest()
    strong, pale = _palette(digest)
    width, height = HEADER_SIZE
    from PIL import Image, ImageDraw

    image = Image.new("RGB", HEADER_SIZE, pale)
    draw = ImageDraw.Draw(image)
    band = 60 + digest[2] % 60
    for index, start in enumerate(range(-height, width, band)):
        if (digest[3 + index % 20] % 3) == 0:
            draw.polygon([(start, height), (start + band, height), (start + band + height, 0),
                          (start + height, 0)], fill=strong)
    return _png(image)
