"""Validate, decode and clean uploaded or imported image bytes. No ORM.

Checks happen in the order that costs least first: byte size, then what the bytes are (text,
markup, a format this site takes), then the header's pixel count (a decompression bomb is refused
before it is decoded), the colour mode and animation, then a full decode, which catches truncated
and corrupt files. Every message names the real cause, for a person.

What is stored is not the uploaded file but a clean copy (``image_clean``): the EXIF orientation
is applied to the pixels, then the picture is encoded afresh with no metadata at all (no EXIF, so
no GPS position, camera or date; no XMP, IPTC, comments or PNG text chunks). Only the pixels and
the ICC colour profile are kept. JPEG stays JPEG (quality 95); every other format becomes PNG.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}
# 8 bits per channel; "P" and "1" are palette and bilevel pictures (GIF, PNG, BMP).
ALLOWED_MODES = {"RGB", "RGBA", "L", "LA", "P", "PA", "1"}
HIGH_DEPTH_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F", "RGB;16", "RGBA;16"}
MARKUP = re.compile(rb"<\s*(script|html|svg|body|iframe|object|embed|\?xml)\b", re.IGNORECASE)
JPEG_QUALITY = 95
MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")


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


def size_human(size: int) -> str:
    """Bytes as a person reads them: 900 bytes, 12 KB, 10 MB, 10.5 MB (1 MB = 1,048,576 B)."""
    if size < 1024:
        return f"{size:,} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    raise AssertionError("unreachable")


def too_big_message(*, name: str | None, size: int, limit: int) -> str:
    subject = f"“{name}”" if name else "The file"
    return f"{subject} is {size_human(size)}; the limit is {size_human(limit)}."


def _not_an_image(content: bytes) -> str:
    if content.startswith(MAGIC) or (content[:4] == b"RIFF" and content[8:12] == b"WEBP"):
        return "The image is truncated or corrupt."
    head = content[:512].lstrip()
    if head[:1] == b"<" or MARKUP.search(head):
        return "The file is SVG, HTML or XML text, not a photo; upload a JPEG, PNG or WebP."
    try:
        content[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "The file is not an image this site can read; use JPEG, PNG, WebP, GIF or BMP."
    return "The file is text, not an image; upload a JPEG, PNG, WebP, GIF or BMP photo."


def image_check(content: bytes, *, max_bytes: int, max_pixels: int) -> CheckedImage:
    """Check the bytes and return the clean copy to store (see the module's docstring)."""
    if not content:
        raise ImageRejected("The file is empty.")
    if len(content) > max_bytes:
        raise ImageRejected(too_big_message(name=None, size=len(content), limit=max_bytes))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(content))
            width, height = probe.size
            fmt, mode = probe.format, probe.mode
            animated = bool(getattr(probe, "is_animated", False))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            f"The image has too many pixels; the limit is {max_pixels:,} pixels (width × height)."
        ) from None
    except Exception:  # UnidentifiedImageError, and whatever a malformed header raises
        raise ImageRejected(_not_an_image(content)) from None
    if fmt not in ALLOWED_FORMATS:
        raise ImageRejected(f"{fmt} images are not accepted; use JPEG, PNG, WebP, GIF or BMP.")
    if width < 1 or height < 1:
        raise ImageRejected("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageRejected(
            f"The image is {width:,}×{height:,} = {width * height:,} pixels; the limit is "
            f"{max_pixels:,} pixels."
        )
    if MARKUP.search(content):
        raise ImageRejected(
            "The file holds HTML or script as well as a picture; upload a plain photo."
        )
    if animated:
        raise ImageRejected(f"Animated {fmt} images are not accepted; upload a still photo.")
    if mode == "CMYK":
        raise ImageRejected("CMYK images (for print) are not accepted; save the photo as RGB.")
    if mode in HIGH_DEPTH_MODES:
        raise ImageRejected(
            "Images with more than 8 bits per channel are not accepted; save it as 8-bit RGB."
        )
    if mode not in ALLOWED_MODES:
        raise ImageRejected(f"{mode} images are not accepted; save the photo as RGB.")
    try:
        picture = _decode(content)
    except Exception:
        raise ImageRejected("The image is truncated or corrupt.") from None
    return image_clean(picture, source_format=fmt)


def image_clean(picture: Image.Image, *, source_format: str) -> CheckedImage:
    """A decoded, orientation-applied picture encoded afresh with no metadata but its ICC
    profile: JPEG as JPEG, anything else as PNG."""
    icc = picture.info.get("icc_profile")
    if source_format == "JPEG":
        fmt = "JPEG"
        if picture.mode not in ("RGB", "L"):
            picture = picture.convert("RGB")
        options = {"quality": JPEG_QUALITY, "optimize": True}
    else:
        fmt = "PNG"
        if picture.mode in ("P", "PA"):
            picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
        options = {"optimize": False}
    clean = Image.new(picture.mode, picture.size)
    clean.paste(picture)  # a new image: none of the source's info dict comes along
    buffer = io.BytesIO()
    clean.save(buffer, fmt, **options, **({"icc_profile": icc} if icc else {}))
    content = buffer.getvalue()
    return CheckedImage(
        content=content,
        format=fmt,
        extension=ALLOWED_FORMATS[fmt],
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _decode(content: bytes) -> Image.Image:
    """Fully decode, EXIF orientation applied. Truncated files raise instead of coming back
    half grey."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image = Image.open(io.BytesIO(content))
        image.load()
        icc = image.info.get("icc_profile")
        image = ImageOps.exif_transpose(image)
        if icc:
            image.info["icc_profile"] = icc
        return image
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def decode_rgb(content: bytes) -> Image.Image:
    """Fully decode to RGB (transparent parts on white), EXIF orientation applied."""
    image = _decode(content)
    if image.mode != "RGB":
        if image.mode in ("RGBA", "LA", "P", "PA"):
            image = image.convert("RGBA")
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(image, mask=image.split()[-1])
            return background
        return image.convert("RGB")
    return image
