"""The raw channel: a photo of a kind the fitted space never saw (outside the training domain in
its heads) is ranked by the image tower's own features; one inside stays in the space. The
embedder here is the word embedder plus a raw channel whose vectors the tests choose."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.db import connection
from PIL import Image

from tests.factories import ProductFactory, ProductImageFactory
from tests.visualsearch.search_helpers import DIM, PALETTE, WordEmbedder, axis
from visualsearch.heads import HEADS_FILE, Domain, Relevance, SpaceHeads
from visualsearch.models import ImageEmbedding
from visualsearch.search import SearchQuery, products_similar, search
from visualsearch.services import images_embed
from visualsearch.spaces import space_activate, space_register
from visualsearch.vector_sql import halfvec_decode

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]

RAW = 8  # the raw channel's width here
INSIDE, OUTSIDE = 0, 1  # raw axes: the training domain is raw axis 0


def raw_axis(i: int, j: int | None = None, w: float = 0.0) -> np.ndarray:
    v = np.zeros(RAW, dtype=np.float32)
    v[i] = 1.0
    if j is not None:
        v[j] += w
    return v / np.linalg.norm(v)


class RawWordEmbedder(WordEmbedder):
    """Word vectors as before; raw vectors: red photos lie on the domain's axis (inside),
    anything else on another axis (outside)."""

    raw_dim = RAW

    def encode_images_raw(self, images):
        vectors = self.encode_images(images)
        raws = []
        for image in images:
            pixels = np.asarray(image.convert("RGB"), dtype=np.int32).reshape(-1, 3)
            red = (np.abs(pixels - np.array(PALETTE["red"])).sum(axis=1) < 150).any()
            raws.append(raw_axis(INSIDE if red else OUTSIDE))
        return vectors, np.stack(raws)


def _active_space(tmp_path, monkeypatch, *, name: str, relevance: dict):
    """An active space of the raw word embedder whose heads hold ``relevance`` and a training
    domain on raw axis 0."""
    embedder = RawWordEmbedder()
    monkeypatch.setattr("visualsearch.spaces.embedder_for", lambda space: embedder)
    checkpoint = tmp_path / name / "model.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"not used: the word embedder stands in for the model")
    SpaceHeads(
        relevance=relevance,
        domain=Domain(centroids=raw_axis(INSIDE)[None, :], top_k=1, threshold=0.9),
    ).save(checkpoint.with_name(HEADS_FILE))
    space = space_register(name=name, architecture="x", pretrained=str(checkpoint),
                           dimension=DIM)  # fmt: skip
    space_activate(name=name)
    return space


# P(relevant) = 0.5 at score 0.5, the floor
CATALOG = Relevance(slope=20.0, intercept=-10.0, floor=0.5)


@pytest.fixture
def raw_space(tmp_path, monkeypatch):
    return _active_space(tmp_path, monkeypatch, name="rawch",
                         relevance={"vector": CATALOG, "raw": CATALOG})  # fmt: skip


def _add(space, vector, raw, **fields):
    product = ProductFactory(**fields)
    image = ProductImageFactory(product=product)
    ImageEmbedding.objects.create(
        image=image, product=product, space=space, vector=list(map(float, vector)),
        raw_vector=list(map(float, raw)), image_sha256=image.sha256,
    )  # fmt: skip
    return product


def _photo(colour: str) -> io.BytesIO:
    image = Image.new("RGB", (48, 48), (255, 255, 255))
    image.paste(PALETTE[colour], (8, 8, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = f"{colour}.png"
    return buffer


def _ids(body):
    return [hit["product"]["id"] for hit in body["results"]]


def test_registering_a_space_with_a_domain_indexes_its_raw_vectors(raw_space):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                       [raw_space.raw_index_name])  # fmt: skip
        (definition,) = cursor.fetchone()
    assert "hnsw" in definition and f"raw_vector)::halfvec({RAW})" in definition


def test_a_photo_outside_the_domain_is_ranked_by_the_raw_channel(raw_space, client):
    # the space says "space_first" is nearest a blue photo; the raw channel says "raw_first"
    space_first = _add(raw_space, axis("blue"), raw_axis(OUTSIDE, 2, 2.0), title="Space pick")
    raw_first = _add(raw_space, axis("blue", "green"), raw_axis(OUTSIDE), title="Raw pick")
    body = client.post("/api/search/", {"image": _photo("blue"), "k": 2}).json()
    assert body["channel"] == "raw"
    assert _ids(body) == [raw_first.pk, space_first.pk]
    top = body["results"][0]
    assert top["score"] == pytest.approx(1.0, abs=1e-3)  # the raw cosine
    assert top["match"] is True and top["relevance"] > 0.5  # the "raw" calibration


def test_a_photo_inside_the_domain_stays_in_the_fitted_space(raw_space, client):
    space_first = _add(raw_space, axis("red"), raw_axis(INSIDE, 2, 2.0), title="Space pick")
    raw_first = _add(raw_space, axis("red", "green"), raw_axis(INSIDE), title="Raw pick")
    body = client.post("/api/search/", {"image": _photo("red"), "k": 2}).json()
    assert body["channel"] == "space"
    assert _ids(body) == [space_first.pk, raw_first.pk]


def test_a_photo_with_words_stays_in_the_space_where_the_words_are(raw_space):
    _add(raw_space, axis("blue"), raw_axis(OUTSIDE))
    photo = Image.open(_photo("blue"))
    assert search(SearchQuery(images=[photo])).channel == "raw"
    assert search(SearchQuery(images=[photo], text="velvet")).channel == "space"


def test_more_like_this_follows_the_products_own_raw_vectors(raw_space):
    seed = _add(raw_space, axis("blue"), raw_axis(OUTSIDE))
    space_first = _add(raw_space, axis("blue"), raw_axis(OUTSIDE, 2, 2.0))
    raw_first = _add(raw_space, axis("blue", "green"), raw_axis(OUTSIDE))
    result = products_similar(product=seed, k=2)
    assert result.channel == "raw"
    assert [p.pk for p, _ in result.results] == [raw_first.pk, space_first.pk]


def test_without_raw_vectors_the_space_answers(raw_space):
    """Vectors written before the channel existed have no raw vector: the space ranks them."""
    product = ProductFactory()
    image = ProductImageFactory(product=product)
    ImageEmbedding.objects.create(image=image, product=product, space=raw_space,
                                  vector=list(map(float, axis("blue"))), image_sha256=image.sha256)  # fmt: skip
    result = search(SearchQuery(images=[Image.open(_photo("blue"))]))
    assert result.channel == "space" and [p.pk for p, _ in result.results] == [product.pk]


def test_embedding_writes_raw_vectors_only_for_a_space_with_a_raw_channel(raw_space, word_space):
    image = ProductImageFactory()
    assert images_embed(image_ids=[image.pk], space=raw_space) == 1
    stored = ImageEmbedding.objects.get(image=image, space=raw_space)
    assert stored.raw_vector is not None and len(halfvec_decode(stored.raw_vector)) == RAW
    # a space whose heads hold no domain keeps no raw vector, whatever the embedder gives
    assert images_embed(image_ids=[image.pk], space=word_space) == 1
    assert ImageEmbedding.objects.get(image=image, space=word_space).raw_vector is None


def test_the_search_page_says_when_the_photos_own_features_ranked_it(raw_space, client):
    _add(raw_space, axis("blue"), raw_axis(OUTSIDE), title="Blue thing")
    page = client.post("/", {"image": _photo("blue")}).content.decode()
    assert "Blue thing" in page and "by the photo's own features" in page
    page = client.post("/", {"text": "blue"}).content.decode()
    assert "own features" not in page


# --- photos searched by their subject read the calibration fitted on such queries -----------
# A catalog shot's calibration: P(relevant) = 0.5 at score 0.5; the subject queries': at 0.2.
SUBJECT = Relevance(slope=20.0, intercept=-4.0, floor=0.5)


@pytest.fixture
def subject_space(tmp_path, monkeypatch):
    return _active_space(tmp_path, monkeypatch, name="subj",
                         relevance={"vector": CATALOG, "raw": CATALOG, "subject": SUBJECT})  # fmt: skip


@pytest.fixture
def boxed(monkeypatch):
    """Every photo's subject is found in a box (as for a shopper's photo), or with
    ``boxed(False)`` searched whole (a studio shot)."""
    from visualsearch import search as search_module  # noqa: PLC0415
    from visualsearch.subject import Subject  # noqa: PLC0415

    def use(found: bool = True):
        def subject_find(image, **kwargs):
            box = (0, 0, image.width, image.height) if found else None
            return Subject(image=image, box=box, size=image.size)

        monkeypatch.setattr(search_module, "subject_find", subject_find)

    return use


# cosine 1/√7 ≈ 0.38 to a red photo: under a catalog shot's floor, over a subject query's
FAR_RED = ("red", "green", "blue", "velvet", "scarf", "bag", "lamp")


def _answer(client, colour, product, channel):
    body = client.post("/api/search/", {"image": _photo(colour), "k": 5}).json()
    assert body["channel"] == channel and _ids(body) == [product.pk]
    return body


def test_a_photo_searched_by_its_subject_reads_the_calibration_fitted_on_such_queries(
    subject_space, boxed, client, settings
):
    product = _add(subject_space, axis(*FAR_RED), raw_axis(INSIDE))  # a red photo is inside
    boxed(True)
    body = _answer(client, "red", product, "space")
    top = body["results"][0]
    assert body["subjects"][0]["box"] is not None
    assert top["match"] is True and top["relevance"] == pytest.approx(
        float(SUBJECT.probability(top["score"])), abs=1e-3
    )
    assert body["no_match"] is False
    settings.SEARCH_SUBJECT_RELEVANCE = False  # the catalog shots' calibration
    body = _answer(client, "red", product, "space")
    assert body["results"][0]["match"] is False and body["no_match"] is True
    settings.SEARCH_SUBJECT_RELEVANCE = True
    boxed(False)  # the same photo searched whole: a catalog shot's calibration
    body = _answer(client, "red", product, "space")
    assert body["subjects"][0]["box"] is None
    assert body["results"][0]["match"] is False and body["no_match"] is True


def test_a_subject_in_the_raw_channel_keeps_the_raw_calibration(subject_space, boxed, client):
    """Photos of things the shop does not sell mostly land there: its own floor stays."""
    product = _add(subject_space, axis("blue"), raw_axis(OUTSIDE, 2, 2.0))  # raw cosine ≈ 0.45
    boxed(True)
    body = _answer(client, "blue", product, "raw")
    assert body["subjects"][0]["box"] is not None
    assert body["results"][0]["match"] is False and body["no_match"] is True
