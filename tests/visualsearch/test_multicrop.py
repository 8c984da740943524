"""Multi-crop photo search: the whole photo plus a centre and four corner crops, each product
keeping its best similarity over them."""

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.visualsearch.search_helpers import add, axis
from visualsearch.search import image_crops, products_search, query_vectors_build
from visualsearch.spaces import space_activate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]


def corner_photo() -> Image.Image:
    """Blue, with a small red square in the top-left corner (16% of the photo)."""
    image = Image.new("RGB", (100, 100), (0, 0, 250))
    image.paste((250, 0, 0), (0, 0, 40, 40))
    return image


def test_the_crops_are_the_centre_and_the_four_corners_at_sixty_percent():
    crops = image_crops(Image.new("RGB", (100, 50)))
    assert [c.size for c in crops] == [(60, 30)] * 5
    marked = Image.new("RGB", (100, 100), (0, 0, 0))
    marked.putpixel((0, 0), (255, 0, 0))
    marked.putpixel((99, 99), (0, 255, 0))
    top_left, bottom_right = image_crops(marked)[1], image_crops(marked)[4]
    assert top_left.getpixel((0, 0)) == (255, 0, 0)
    assert bottom_right.getpixel((59, 59)) == (0, 255, 0)


def test_crops_add_one_query_vector_per_crop(word_space, word_embedder):
    whole_only = query_vectors_build(space=word_space, images=[corner_photo()])
    with_crops = query_vectors_build(space=word_space, images=[corner_photo()], crops=True)
    assert len(whole_only) == 1 and len(with_crops) == 6
    np.testing.assert_allclose(with_crops[0], whole_only[0], atol=1e-6)
    top_left = word_embedder.encode_images([image_crops(corner_photo())[1]])[0]
    np.testing.assert_allclose(with_crops[2], top_left, atol=1e-6)


def test_a_product_in_a_corner_of_the_photo_is_found_with_crops(word_space, word_embedder):
    blue = add(word_space, axis("blue"))
    red = add(word_space, axis("red"))
    other = add(word_space, axis("blue", "green", "green"))
    vectors = query_vectors_build(space=word_space, images=[corner_photo()], crops=True)
    plain = products_search(space=word_space, query_vector=vectors[0])
    cropped = products_search(space=word_space, query_vector=vectors[0], query_vectors=vectors[1:])
    assert [p.pk for p, _ in plain.results] == [blue.pk, other.pk, red.pk]
    assert [p.pk for p, _ in cropped.results] == [blue.pk, red.pk, other.pk]
    best_red = max(float(v @ axis("red")) for v in vectors)
    assert dict((p.pk, s) for p, s in cropped.results)[red.pk] == pytest.approx(best_red, abs=2e-3)


def test_the_api_takes_crops_for_photo_queries(word_space, word_embedder, client):

    space_activate(name="words")
    add(word_space, axis("blue"))
    red = add(word_space, axis("red"))
    buffer = io.BytesIO()
    corner_photo().save(buffer, "PNG")

    def red_score(crops: str) -> float:
        upload = SimpleUploadedFile("q.png", buffer.getvalue(), "image/png")
        body = client.post("/api/search/", {"image": upload, "crops": crops}).json()
        return {h["product"]["id"]: h["score"] for h in body["results"]}[red.pk]

    assert red_score("true") > red_score("false") + 0.3
