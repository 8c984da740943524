"""A corpus of bad uploads, generated here: each is a 4xx whose message names the real cause,
on the search API and on a product's photo upload. And what a good upload keeps: its pixels
(EXIF orientation applied) and ICC profile, never its EXIF/GPS (issue 14, defects 5 and 9)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from catalog.images import size_human
from catalog.models import ProductImage
from tests.factories import ProductFactory
from tests.support import make_image_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def frames_gif(count: int) -> bytes:
    frames = [Image.new("L", (8, 8), n % 256) for n in range(count)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])


def pixel_bomb() -> bytes:
    """A 1-colour PNG whose header says 20,000 × 20,000 pixels: a few KB on disk."""
    return encoded(Image.new("1", (20_000, 20_000)), "PNG", optimize=True)


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (16, 16), (n * 80, 0, 0)) for n in range(3)]
    return encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50)


JPEG = make_image_bytes(size=(64, 64))
PNG = make_image_bytes(size=(64, 64), fmt="PNG")

# (name, file name, bytes, words the message must contain)
CORPUS = [
    ("empty", "empty.jpg", b"", ["empty"]),
    ("text", "notes.jpg", b"Just some notes, not a photo.\n" * 20, ["text"]),
    ("truncated jpeg", "cut.jpg", JPEG[: len(JPEG) // 2], ["truncated"]),
    ("truncated png", "cut.png", PNG[: len(PNG) // 2], ["truncated"]),
    ("pixel bomb", "bomb.png", pixel_bomb(), ["pixels", "limit"]),
    ("1000-frame gif", "movie.gif", frames_gif(1000), ["animated"]),
    (
        "svg with script",
        "logo.jpg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        ["svg"],
    ),
    ("html/jpeg polyglot", "poly.jpg", JPEG + b"<html><script>alert(1)</script></html>", ["html"]),
    ("cmyk", "print.jpg", encoded(Image.new("CMYK", (32, 32), (0, 50, 50, 0)), "JPEG"), ["cmyk"]),
    ("16-bit", "deep.png", encoded(Image.new("I;16", (32, 32), 40000), "PNG"), ["8 bits"]),
    ("animated webp", "anim.webp", animated_webp(), ["animated"]),
    ("tiff", "scan.tif", encoded(Image.new("RGB", (32, 32)), "TIFF"), ["tiff", "not accepted"]),
]


def message_of(response, field="image") -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    errors = response.json()["errors"]
    return " ".join(errors.get(field, []) + errors.get("non_field_errors", [])).lower()


@pytest.mark.parametrize(
    ("name", "filename", "content", "words"), CORPUS, ids=[c[0] for c in CORPUS]
)
def test_a_bad_upload_to_search_is_a_4xx_naming_the_cause(name, filename, content, words, settings):
    settings.MAX_IMAGE_PIXELS = 40_000_000
    upload = SimpleUploadedFile(filename, content, "image/jpeg")
    response = APIClient().post("/api/search/", {"image": [upload]}, format="multipart")
    message = message_of(response)
    assert all(word in message for word in words), message


@pytest.mark.parametrize(
    ("name", "filename", "content", "words"), CORPUS, ids=[c[0] for c in CORPUS]
)
def test_a_bad_photo_upload_to_a_product_is_a_4xx_naming_the_cause(
    name, filename, content, words, settings
):
    product = ProductFactory()
    api = APIClient()
    api.force_authenticate(product.seller.user)
    upload = SimpleUploadedFile(filename, content, "image/jpeg")
    response = api.post(f"/api/products/{product.pk}/images/", {"image": [upload]})
    message = message_of(response)
    assert all(word in message for word in words), message
    assert not ProductImage.objects.filter(product=product).exists()


def test_an_empty_file_on_the_search_page_says_it_is_empty(client):
    response = client.post("/", {"image": SimpleUploadedFile("a.jpg", b"", "image/jpeg")})
    assert response.status_code == 400
    assert "empty" in response.content.decode().lower()


def test_an_oversized_upload_gives_sizes_in_human_units(settings):
    settings.MAX_UPLOAD_BYTES = 10 * 1024
    upload = SimpleUploadedFile("big.jpg", b"\xff" * 15_000, "image/jpeg")
    message = message_of(APIClient().post("/api/search/", {"image": [upload]}))
    assert "14.6 kb" in message and "10 kb" in message
    assert size_human(10 * 1024 * 1024) == "10 MB" and size_human(900) == "900 bytes"


def test_an_uploaded_photo_loses_its_exif_and_gps_but_keeps_orientation_and_icc():
    picture = Image.new("RGB", (40, 20), (200, 20, 20))
    picture.paste((20, 20, 200), (0, 0, 10, 20))  # a blue band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "SpyCam"  # camera make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS
    icc = b"\x00" * 128  # any bytes survive as the profile; Pillow does not parse it
    content = encoded(picture, "JPEG", exif=exif, icc_profile=icc, quality=95)
    assert b"SpyCam" in content
    product = ProductFactory()
    api = APIClient()
    api.force_authenticate(product.seller.user)
    response = api.post(
        f"/api/products/{product.pk}/images/", {"image": [SimpleUploadedFile("a.jpg", content)]}
    )
    assert response.status_code == 201, response.content
    stored = ProductImage.objects.get(product=product)
    with stored.file.open("rb") as handle:
        data = handle.read()
    assert b"SpyCam" not in data and b"Exif" not in data
    clean = Image.open(io.BytesIO(data))
    assert not clean.getexif()
    assert clean.info.get("icc_profile") == icc
    assert clean.size == (20, 40) and (stored.width, stored.height) == (20, 40)
    # Orientation 6 means the left edge of the sensor is at the top once displayed.
    red, green, blue = clean.convert("RGB").getpixel((10, 2))
    assert blue > 150 and red < 100
