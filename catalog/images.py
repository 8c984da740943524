"""Validate and decode uploaded or imported image bytes. No ORM.

Checks happen in the order that costs least first: byte size, then the header's pixel count (a
decompression bomb is refused before it is decoded), then a full decode, which catches truncated
and corrupt files.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}


class ImageRejected(ValueError):
    """The bytes are not an acceptable image; the message says why, for a person."""


@dataclass(frozen=True)
class CheckedImage:
    content: bytes
    format: str
    extension: str
    width: int
    height: int
    sha256: str

    def open(self) -> Image.Image:
        return Image.open(io.BytesIO(self.content))

    def rgb(self) -> Image.Image:
        return decode_rgb(self.content)


def image_check(content: bytes, *, max_bytes: int, max_pixels: int) -> CheckedImage:
    if not content:
        raise ImageRejected("The file is empty.")
    if len(content) > max_bytes:
        raise ImageRejected(
            f"The file is {len(content):,} bytes; the limit is {max_bytes:,} bytes."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(content))
            width, height = probe.size
            fmt = probe.format
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The file is not an image this site can read.") from None
    except Exception:
        raise ImageRejected("The file is not an image this site can read.") from None
    if fmt not in ALLOWED_FORMATS:
        raise ImageRejected(f"{fmt} images are not accepted; use JPEG, PNG, WebP, GIF or BMP.")
    if width < 1 or height < 1:
        raise ImageRejected("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageRejected(
            f"The image is {width}×{height} pixels; the limit is {max_pixels:,} pixels."
        )
    try:
        decode_rgb(content)
    except Exception:
        raise ImageRejected("The image is truncated or corrupt.") from None
    return CheckedImage(
        content=content,
        format=fmt,
        extension=ALLOWED_FORMATS[fmt],
        width=width,
        height=height,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def decode_rgb(content: bytes) -> Image.Image:
    """Fully decode to RGB. Truncated files raise instead of coming back half grey."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image = Image.open(io.BytesIO(content))
        image.load()
        if image.mode != "RGB":
            if image.mode in ("RGBA", "LA", "P"):
                image = image.convert("RGBA")
                background = Image.new("RGB", image.size, (255, 255, 255))
                background.paste(image, mask=image.split()[-1])
                return background
            return image.convert("RGB")
        return image
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
