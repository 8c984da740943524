"""The shipped default space is assembled offline from the wheels, and retraining on a catalog
makes a candidate that replaces the active space only when it wins on held-out products."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from PIL import Image

from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory
from tests.support import make_image_bytes, worker_until
from visualsearch import offline_model as om
from visualsearch import training
from visualsearch.default_space import (
    VERSION,
    default_space_assemble,
    default_space_ensure,
    shipped_towers,
)
from visualsearch.embedders import clear_cache, get_embedder
from visualsearch.heads import HEADS_FILE, heads_load
from visualsearch.models import EmbeddingSpace, ImageAttribute, ImageEmbedding
from visualsearch.services import images_embed
from visualsearch.spaces import space_activate, space_active, space_register

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _models_dir(settings, tmp_path):
    settings.MODELS_DIR = tmp_path / "models"
    yield
    clear_cache()


def _photo(colour, seed=0):

    return Image.open(__import__("io").BytesIO(make_image_bytes(colour=colour, seed=seed)))


def test_the_default_space_is_assembled_from_the_wheels_and_activated_without_training(settings):
    assert space_active() is None
    space = default_space_ensure()
    assert space.is_active and space.name == VERSION
    assert space.notes["source"] == "shipped"
    checkpoint = settings.MODELS_DIR / VERSION / f"{space.architecture}.pt"
    assert str(checkpoint) == space.pretrained and checkpoint.is_file()
    assert checkpoint.with_name(HEADS_FILE).is_file()
    embedder = get_embedder(architecture=space.architecture, pretrained=space.pretrained)
    vectors = embedder.encode_images([_photo((200, 30, 30)), _photo((30, 30, 200), seed=1)])
    assert vectors.shape == (2, space.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    heads = heads_load(space.pretrained)
    probs = heads.heads["colour"].probabilities(vectors)
    assert np.allclose(probs.sum(axis=1), 1.0)
    # the raw channel: the tower's pooled features from the same pass, and their own index
    same, raw = embedder.encode_images_raw([_photo((200, 30, 30)), _photo((30, 30, 200), seed=1)])
    assert np.allclose(same, vectors, atol=1e-5)
    assert raw.shape == (2, embedder.raw_dim) == (2, heads.domain.dim)
    assert np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-4)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                       [space.raw_index_name])  # fmt: skip
        (definition,) = cursor.fetchone()
    assert "raw_vector" in definition and f"halfvec({heads.domain.dim})" in definition
    # idempotent: a second start keeps the assembled files
    stamp = checkpoint.stat().st_mtime_ns
    assert default_space_ensure().pk == space.pk
    assert checkpoint.stat().st_mtime_ns == stamp
    assert EmbeddingSpace.objects.count() == 1
    # heads shipped since the assembly (a refit of the calibration) replace the stale copy
    copy = checkpoint.with_name(HEADS_FILE)
    shipped = copy.read_bytes()
    copy.write_bytes(b"stale heads")
    default_space_ensure()
    assert copy.read_bytes() == shipped
    assert checkpoint.stat().st_mtime_ns == stamp
    # the shipped heads read titles: a title naming a colour moves the stored attribute
    assert heads.heads["colour"].title_weight > 0 and heads.heads["category"].title_weight > 0


@pytest.mark.django_db(transaction=True)
def test_new_shipped_heads_refresh_the_stored_attributes_through_the_worker():
    """An upgrade that ships new heads for the same space: `serve` calls default_space_ensure,
    which copies them in and has the real worker recompute every stored attribute."""

    space = default_space_ensure()
    product = ProductFactory(title="Top")
    content = make_image_bytes(colour=(210, 30, 30), seed=3)
    image = ProductImageFactory(product=product, file=ContentFile(content, name="top.jpg"))
    images_embed(image_ids=[image.pk], space=space)
    fresh = ImageAttribute.objects.get(image=image, space=space, name="colour").value
    ImageAttribute.objects.filter(image=image, space=space).update(value="stale", confidence=1.0)
    Path(space.pretrained).with_name(HEADS_FILE).write_bytes(b"the previous release's heads")
    default_space_ensure()
    worker_until(
        lambda: not ImageAttribute.objects.filter(image=image, space=space, value="stale").exists(),
        timeout=120,
    )
    assert ImageAttribute.objects.get(image=image, space=space, name="colour").value == fresh
    assert not ImageAttribute.objects.filter(image=image, space=space, value="stale").exists()


def test_a_shoppers_photo_is_searched_by_its_subject_and_a_studio_shot_whole(settings):
    from visualsearch.search import query_vectors_build  # noqa: PLC0415

    space = default_space_ensure()
    studio = _photo((200, 30, 30))
    scene = Image.new("RGB", (240, 320), (90, 120, 60))
    scene.paste(studio.resize((90, 120)), (130, 180))

    def vector(image, on):
        settings.SEARCH_SUBJECT_CROP = on
        return query_vectors_build(space=space, images=[image])[0]

    assert np.allclose(vector(studio, True), vector(studio, False))
    subject, whole = vector(scene, True), vector(scene, False)
    assert not np.allclose(subject, whole)
    # the subject's vector is nearer the product's own photo than the whole scene's is
    own = vector(studio, False)
    assert float(subject @ own) > float(whole @ own)


def test_the_api_and_the_page_show_which_part_of_a_shoppers_photo_was_searched(client, settings):
    import io  # noqa: PLC0415
    from unittest import mock  # noqa: PLC0415

    from visualsearch import search as search_module  # noqa: PLC0415

    default_space_ensure()
    studio = _photo((200, 30, 30))
    scene = Image.new("RGB", (240, 320), (90, 120, 60))
    scene.paste(studio.resize((90, 120)), (130, 180))

    def upload(image, name):
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        buffer.seek(0)
        buffer.name = name
        return buffer

    calls = []
    encode = search_module.images_encode
    settings.SEARCH_SUBJECT_CUTOUT = False
    with mock.patch.object(search_module, "images_encode",
                           side_effect=lambda e, batch: calls.append(len(batch)) or encode(e, batch)):  # fmt: skip
        response = client.post("/api/search/", {"image": upload(scene, "scene.png")})
    assert response.status_code == 200, response.content
    (subject,) = response.json()["subjects"]
    assert (subject["width"], subject["height"]) == (240, 320)
    left, top, right, bottom = subject["box"]
    assert 0 <= left < right <= 240 and 0 <= top < bottom <= 320
    # a part of the scene, and one with more of the product (pasted at 130..220 × 180..300) in
    # it than the whole scene has (14%)
    overlap = max(0, min(right, 220) - max(left, 130)) * max(0, min(bottom, 300) - max(top, 180))
    area = (right - left) * (bottom - top)
    assert area < 240 * 320 and overlap / area > 2 * (90 * 120) / (240 * 320)
    assert calls == [28]  # the proposals, once: the chosen crop is not encoded a second time
    # with the cutout, at most the cutout is encoded besides; its bounds are the box
    settings.SEARCH_SUBJECT_CUTOUT = True
    calls.clear()
    with mock.patch.object(search_module, "images_encode",
                           side_effect=lambda e, batch: calls.append(len(batch)) or encode(e, batch)):  # fmt: skip
        cut = client.post("/api/search/", {"image": upload(scene, "scene.png")}).json()
    assert calls in ([28], [28, 1])
    (cut_subject,) = cut["subjects"]
    cl, ct, cr, cb = cut_subject["box"]
    assert 0 <= cl < cr <= 240 and 0 <= ct < cb <= 320

    studio_response = client.post("/api/search/", {"image": upload(studio, "studio.png")})
    assert studio_response.json()["subjects"] == [{"box": None, "width": 64, "height": 64}]
    text = client.post("/api/search/", {"text": "red shirt"}, content_type="application/json")
    assert text.json()["subjects"] == []

    page = client.post("/", {"image": upload(scene, "scene.png")}).content.decode()
    assert "data-subject-box" in page and "The outlined part is what was searched" in page
    plain = client.post("/", {"image": upload(studio, "studio.png")}).content.decode()
    assert "data-subject-box" not in plain and "outlined part" not in plain


def test_the_assembled_space_gives_the_same_vectors_on_every_assembly(tmp_path):
    first = default_space_assemble(out_dir=tmp_path / "a")
    second = default_space_assemble(out_dir=tmp_path / "b")

    photo = _photo((20, 160, 40))
    architecture = om.architecture_for(*shipped_towers())
    a = get_embedder(architecture=architecture, pretrained=str(first)).encode_images([photo])
    b = get_embedder(architecture=architecture, pretrained=str(second)).encode_images([photo])
    assert np.allclose(a, b, atol=1e-6)


def test_an_existing_active_space_is_not_replaced_by_the_default_one():
    space_register(name="mine", architecture="x", pretrained="y", dimension=8)
    space_activate(name="mine")
    default_space_ensure()
    assert space_active().name == "mine"


def _catalog(n=40):
    colours = {"red": (210, 30, 30), "blue": (30, 40, 210)}
    kinds = {"Shirts": "rect", "Watches": "circle"}
    categories = {name: CategoryFactory(name=name) for name in kinds}
    for i in range(n):
        colour, kind = list(colours)[i % 2], list(kinds)[(i // 2) % 2]
        product = ProductFactory(title=f"{colour.title()} {kind} {i}", category=categories[kind])
        content = make_image_bytes(colour=colours[colour], shape=kinds[kind], seed=i)
        ProductImageFactory(product=product, file=ContentFile(content, name=f"{i}.jpg"))


def _scores(candidate: float, active: float):
    def evaluate(*, space, items):
        value = active if space.name == "incumbent" else candidate
        return dict.fromkeys(training.MEASURES, value)

    return evaluate


def test_a_candidate_that_loses_on_held_out_products_is_not_activated(monkeypatch, capsys):
    _catalog()
    space_register(name="incumbent", architecture="x", pretrained="y", dimension=8)
    space_activate(name="incumbent")
    monkeypatch.setattr(training, "space_evaluate", _scores(candidate=0.4, active=0.6))
    call_command("train_embedder", "--space", "candidate", "--max-seconds", "15", "--activate")
    assert space_active().name == "incumbent"
    comparison = EmbeddingSpace.objects.get(name="candidate").notes["comparison"]
    assert comparison["wins"] is False
    assert comparison["active"]["name"] == "incumbent"
    assert comparison["candidate"]["photo_p10_category"] == 0.4
    assert "loses: not activated" in capsys.readouterr().out


def test_a_candidate_that_wins_is_backfilled_then_activated(monkeypatch):

    _catalog()
    space_register(name="incumbent", architecture="x", pretrained="y", dimension=8)
    space_activate(name="incumbent")
    monkeypatch.setattr(training, "space_evaluate", _scores(candidate=0.7, active=0.6))
    call_command("train_embedder", "--space", "candidate", "--max-seconds", "15", "--activate")
    space = space_active()
    assert space.name == "candidate" and space.notes["comparison"]["wins"] is True
    assert ImageEmbedding.objects.filter(space=space).count() == 40
    assert heads_load(space.pretrained).heads["category"].labels == ["shirts", "watches"]


def test_the_rule_needs_a_better_mean_and_no_measure_much_worse():
    active = dict.fromkeys(training.MEASURES, 0.5)
    assert training.candidate_wins(dict.fromkeys(training.MEASURES, 0.51), active)
    assert not training.candidate_wins(dict.fromkeys(training.MEASURES, 0.5), active)
    lopsided = {"title_photo_ndcg10": 0.9, "photo_p10_category": 0.9, "item_type_accuracy": 0.45}
    assert not training.candidate_wins(lopsided, active)


def test_every_part_of_the_split_has_products_however_small_the_catalog():
    for n in (6, 20, 37, 300):
        parts = training.splits(range(1000, 1000 + n))
        counts = {part: list(parts.values()).count(part) for part in ("train", "val", "holdout")}
        assert counts["holdout"] >= 2 and counts["val"] >= 2 and counts["train"] >= 2
        assert counts["holdout"] == counts["val"] == max(2, n // 10)
    assert training.splits(range(5)) == dict.fromkeys(range(5), "train")
