"""Images of uploads, decoded and encoded again with Pillow (archipel/media.py says why).

Its own module so that Pillow is imported by the first upload, not by every process.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from archipel.errors import InvalidInput

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
MAX_SIDE = 4096  # larger images are scaled down to fit in MAX_SIDE x MAX_SIDE
MAX_PIXELS = 50_000_000  # refused before decoding: a small file can claim a huge canvas
MAX_ANIMATION_PIXELS = 100_000_000  # all frames of a GIF together; longer ones keep one frame
MAX_FRAMES = 200


def open_image(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES))
    except UnidentifiedImageError:
        return None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own limit, met while reading the header; its warning (an error where warnings
        # are errors) only happens above MAX_PIXELS, refused just below anyway.
        raise InvalidInput("Image trop grande (en pixels).") from None
    except (OSError, ValueError, SyntaxError):
        raise InvalidInput("Image illisible.") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise InvalidInput("Image trop grande (%(width)s × %(height)s pixels).", width=width, height=height)
    return image


def reencode(image: Image.Image) -> tuple[str, bytes, int, int]:
    """The image's type, its bytes re-encoded (pixels and colour profile only), its size."""
    # Phones write MPO: a JPEG followed by more pictures (depth, preview). Its first picture is kept.
    fmt = "JPEG" if image.format == "MPO" else image.format
    try:
        if fmt == "GIF" and getattr(image, "n_frames", 1) > 1:
            out, width, height = _reencode_animation(image)
        else:
            out, width, height = _reencode_still(image, fmt)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput("Image trop grande (en pixels).") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise InvalidInput("Image illisible.") from None
    return IMAGE_TYPES[fmt], out, width, height


def _fit(image: Image.Image) -> Image.Image:
    if image.width > MAX_SIDE or image.height > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def _pixels_only(image: Image.Image) -> Image.Image:
    """A copy without any of the metadata Pillow read (EXIF, XMP, text chunks, comments)."""
    transparency = image.info.get("transparency")
    image.info = {}
    if transparency is not None:
        image.info["transparency"] = transparency
    return image


def _reencode_still(image: Image.Image, fmt: str) -> tuple[bytes, int, int]:
    image.load()
    icc = image.info.get("icc_profile")  # colours, not a description of the picture or its author
    image = ImageOps.exif_transpose(image)  # a new image; the orientation tag goes with the rest
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
    elif fmt == "WEBP":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA")
    elif fmt == "GIF":
        if image.mode not in ("P", "L"):
            image = image.convert("RGBA").convert("P", palette=Image.Palette.ADAPTIVE)
    elif image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):  # PNG: 16-bit and others
        image = image.convert("RGBA")
    image = _pixels_only(_fit(image))
    options: dict = {}
    if icc and fmt in ("JPEG", "PNG", "WEBP"):
        options["icc_profile"] = icc
    if fmt == "JPEG":
        options.update(quality=88, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=88)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue(), image.width, image.height


def _reencode_animation(image: Image.Image) -> tuple[bytes, int, int]:
    frames = image.n_frames
    if frames > MAX_FRAMES or frames * image.width * image.height > MAX_ANIMATION_PIXELS:
        image.seek(0)
        return _reencode_still(image, "GIF")  # too long to keep moving: its first picture
    durations, pictures = [], []
    for frame in ImageSequence.Iterator(image):
        durations.append(frame.info.get("duration", 100))
        pictures.append(_pixels_only(_fit(frame.convert("RGBA"))))
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=durations, loop=image.info.get("loop", 0), disposal=2)
    return buffer.getvalue(), pictures[0].width, pictures[0].height
