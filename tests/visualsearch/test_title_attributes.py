"""Title evidence in the attribute heads: the labels a product's title names, fused with its
photo, calibrated on rows that name one; photo-only rows and photo queries are unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import worker_until
from tests.visualsearch.search_helpers import DIM, add, axis
from visualsearch.attributes import TAXONOMY, labels_named, labels_named_matrix
from visualsearch.heads import (
    HEADS_FILE,
    Head,
    SpaceHeads,
    space_heads_fit,
    title_evidence_check,
    title_evidence_fit,
)
from visualsearch.models import ImageAttribute, ImageEmbedding
from visualsearch.services import image_attributes_compute, titles_embed
from visualsearch.spaces import space_activate, space_register

COLOURS = TAXONOMY["colour"]["labels"]
TYPES = TAXONOMY["category"]["labels"]


@pytest.mark.parametrize(
    ("title", "colours", "types"),
    [
        ("Turtle Check Men Navy Blue Shirt", ["navy blue"], ["shirts"]),
        ("Nike Men Black T-Shirt", ["black"], ["tshirts"]),
        ("Puma Women Off White Sports Shoes", ["off white"], ["sports shoes"]),
        ("Fabindia Men Ties", [], ["ties"]),
        ("Gini and Jony Girls Pink Dress", ["pink"], ["dresses"]),
        ("Titan Women Silver Watch", ["silver"], ["watches"]),
        ("Benetton Men Grey Melange Tshirts", ["grey melange"], ["tshirts"]),
        ("Red Tape Men Brown Formal Shoes", ["brown", "red"], ["formal shoes"]),
        ("Wireless noise cancelling headphones", [], []),
        ("", [], []),
    ],
)
def test_a_title_names_the_labels_it_spells_out_in_singular_or_plural(title, colours, types):
    assert sorted(labels_named(title, COLOURS)) == sorted(colours)
    assert labels_named(title, TYPES) == types


def test_a_longer_label_takes_its_words_so_a_shorter_one_inside_it_is_not_named_too():
    assert labels_named("Navy Blue Kurta", COLOURS) == ["navy blue"]
    assert labels_named("Navy Blue and Blue Kurta", COLOURS) == ["navy blue", "blue"]


@settings(max_examples=60, deadline=None)
@given(
    label=st.sampled_from(COLOURS + TYPES),
    before=st.lists(st.sampled_from(["acme", "men", "women", "new", "2024"]), max_size=3),
    after=st.lists(st.sampled_from(["cotton", "for", "summer", "xl"]), max_size=3),
    shout=st.booleans(),
)
def test_any_label_written_into_a_title_is_named(label, before, after, shout):
    title = " ".join([*before, label.title(), *after])
    labels = COLOURS if label in COLOURS else TYPES
    assert label in labels_named(title.upper() if shout else title, labels)


@given(
    words=st.lists(st.sampled_from(["acme", "wireless", "lamp", "oak", "2024", "x"]), max_size=6)
)
def test_a_title_of_no_label_words_names_nothing(words):
    assert labels_named(" ".join(words), COLOURS + TYPES) == []


def test_the_named_matrix_marks_each_rows_labels():
    named = labels_named_matrix(["Red scarf", None, "red and blue scarf"], ["blue", "red"])
    assert named.tolist() == [[0, 1], [0, 0], [1, 1]]


# --- the heads' title evidence ------------------------------------------------------------------


def _noisy_head_and_rows(n=600, labels=3, seed=0):
    """A head whose photo signal is weak, and titles that name the true label 80% of the time,
    a wrong one 10%, none 10%."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, labels, n)
    vectors = rng.normal(size=(n, labels)) + 0.6 * np.eye(labels)[targets]
    head = Head(labels=[f"l{i}" for i in range(labels)], weight=np.eye(labels),
                bias=np.zeros(labels))  # fmt: skip
    named = np.zeros((n, labels))
    draw = rng.random(n)
    named[draw < 0.8, targets[draw < 0.8]] = 1
    wrong = (draw >= 0.8) & (draw < 0.9)
    named[wrong, (targets[wrong] + 1) % labels] = 1
    return head, vectors, named, targets


def test_title_evidence_gets_a_positive_weight_and_makes_attributes_more_accurate():
    head, vectors, named, targets = _noisy_head_and_rows()
    fitted = title_evidence_fit(head, vectors=vectors[::2], named=named[::2], targets=targets[::2])
    assert fitted["weight"] > 0.5 and head.title_map is not None
    check = title_evidence_check(head, vectors=vectors[1::2], named=named[1::2],
                                 targets=targets[1::2])  # fmt: skip
    assert check["photo_and_title_all_accuracy"] > check["photo_all_accuracy"] + 0.2
    assert check["photo_and_title_titled_ece"] < 0.1


def test_fused_confidences_are_within_0_and_1_and_the_title_map_is_monotone():
    head, vectors, named, targets = _noisy_head_and_rows(seed=1)
    title_evidence_fit(head, vectors=vectors, named=named, targets=targets)
    probs = head.confidences(vectors, named)
    assert (probs >= 0).all() and (probs <= 1 + 1e-9).all()
    assert (np.diff(head.title_map.y) >= 0).all()
    grid = np.linspace(0, 1, 50)
    assert (np.diff(head.title_map(grid)) >= -1e-12).all()


def test_a_row_whose_title_names_nothing_keeps_its_photo_only_confidences():
    head, vectors, named, targets = _noisy_head_and_rows(seed=2)
    title_evidence_fit(head, vectors=vectors, named=named, targets=targets)
    untitled = ~named.any(axis=1)
    assert untitled.any()
    np.testing.assert_allclose(
        head.confidences(vectors, named)[untitled], head.confidences(vectors)[untitled]
    )


def test_too_few_titled_rows_leave_the_head_reading_the_photo_only():
    head, vectors, named, targets = _noisy_head_and_rows(n=60)
    fitted = title_evidence_fit(head, vectors=vectors, named=named, targets=targets)
    assert fitted["weight"] == 0.0 and "skipped" in fitted
    np.testing.assert_allclose(head.confidences(vectors, named), head.confidences(vectors))


def test_a_catalog_retrain_fits_title_evidence_only_for_the_facets_it_is_asked_for():
    """A live catalog's colour labels are read from its titles: fusing titles into that head
    would check the labels against their source, so a catalog retrain leaves colour out."""
    rng = np.random.default_rng(3)
    n, types, colours = 1000, ["shirts", "watches", "bags"], ["red", "blue"]
    t, c = rng.integers(0, 3, n), rng.integers(0, 2, n)
    vectors = np.hstack([np.eye(3)[t] * 0.5, np.eye(2)[c] * 0.5]) + rng.normal(size=(n, 5))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    named = rng.random(n) < 0.8
    titles = [f"{colours[c[i]]} {types[t[i]]} {i}" if named[i] else f"item {i}" for i in range(n)]
    values = {"category": [types[i] for i in t], "colour": [colours[i] for i in c]}
    common = {"vectors": vectors, "values": values, "fit_rows": np.arange(600),
              "val_rows": np.arange(600, n), "titles": titles}  # fmt: skip
    both, _ = space_heads_fit(**common)
    assert both.heads["category"].title_weight > 0 and both.heads["colour"].title_weight > 0
    catalog, report = space_heads_fit(**common, title_facets=("category",))
    assert catalog.heads["category"].title_weight > 0
    assert catalog.heads["colour"].title_weight == 0.0 and "title_colour" not in report


def test_title_evidence_survives_save_and_load_and_older_files_read_the_photo_only(tmp_path):
    head, vectors, named, targets = _noisy_head_and_rows(seed=3)
    plain = Head(labels=list(head.labels), weight=head.weight.copy(), bias=head.bias.copy())
    title_evidence_fit(head, vectors=vectors, named=named, targets=targets)
    SpaceHeads(heads={"colour": head}).save(tmp_path / "with.safetensors")
    SpaceHeads(heads={"colour": plain}).save(tmp_path / "without.safetensors")
    loaded = SpaceHeads.load(tmp_path / "with.safetensors").heads["colour"]
    assert loaded.title_weight == pytest.approx(head.title_weight)
    np.testing.assert_allclose(loaded.confidences(vectors, named), head.confidences(vectors, named))
    old = SpaceHeads.load(tmp_path / "without.safetensors").heads["colour"]
    assert old.title_weight == 0.0 and old.title_map is None
    np.testing.assert_allclose(old.confidences(vectors, named), old.confidences(vectors))


# --- stored attributes read the title -----------------------------------------------------------

SPACE_COLOURS = ["red", "blue", "green"]


@pytest.fixture
def titled_space(tmp_path, word_embedder):
    """A word space whose colour head reads the colour axes and trusts a named colour a bit."""
    checkpoint = tmp_path / "space" / "model.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"not used: the word embedder stands in for the model")
    head = Head(labels=SPACE_COLOURS, weight=np.stack([10 * axis(c) for c in SPACE_COLOURS]),
                bias=np.zeros(3), title_weight=3.0)  # fmt: skip
    SpaceHeads(heads={"colour": head}).save(checkpoint.with_name(HEADS_FILE))
    return space_register(name="titled", architecture="x", pretrained=str(checkpoint),
                          dimension=DIM)  # fmt: skip


def _stored_colour(product):
    return ImageAttribute.objects.get(product=product, name="colour")


@pytest.mark.django_db
def test_a_stored_colour_follows_the_title_where_the_photo_is_unsure_and_a_title_change(
    titled_space,
):
    # the photo is half red, half blue: alone it cannot tell
    product = add(titled_space, axis("red", "blue"), title="Blue wool scarf")
    image_id = ImageEmbedding.objects.get(product=product).image_id
    assert image_attributes_compute(image_ids=[image_id], space=titled_space) == 1
    assert _stored_colour(product).value == "blue"
    titles_embed(product_ids=[product.pk], space=titled_space)  # the first title embedding
    product.title = "Red wool scarf"
    product.save()
    titles_embed(product_ids=[product.pk], space=titled_space)
    assert _stored_colour(product).value == "red"


@pytest.mark.django_db
def test_a_title_naming_no_colour_leaves_the_photos_own_colour_and_confidence(titled_space):
    product = add(titled_space, axis("green", "blue", "green"), title="Wool scarf")
    image_id = ImageEmbedding.objects.get(product=product).image_id
    image_attributes_compute(image_ids=[image_id], space=titled_space)
    head = SpaceHeads.load(
        titled_space.pretrained.replace("model.pt", HEADS_FILE)
    ).heads["colour"]  # fmt: skip
    photo_only = head.confidences(axis("green", "blue", "green")[None, :])[0]
    stored = _stored_colour(product)
    assert stored.value == "green"
    assert stored.confidence == pytest.approx(photo_only.max(), abs=1e-4)


@pytest.mark.django_db(transaction=True)
def test_reconcile_refresh_recomputes_attributes_stored_before_the_heads_read_titles(
    titled_space,
):
    """Through the real Redis queue and an in-process dramatiq worker."""
    space_activate(name="titled")
    product = add(titled_space, axis("red", "blue"), title="Blue wool scarf")
    image_id = ImageEmbedding.objects.get(product=product).image_id
    stale = ImageAttribute.objects.create(image_id=image_id, product=product, space=titled_space,
                                          name="colour", value="red", confidence=0.5)  # fmt: skip
    call_command("reconcile")  # attributes exist: nothing to backfill
    call_command("reconcile", "--refresh-attributes")
    worker_until(lambda: not ImageAttribute.objects.filter(pk=stale.pk).exists())
    assert _stored_colour(product).value == "blue"


# --- photo search: the type re-rank reads candidates' titles ------------------------------------


def _typed_heads(title_weight: float) -> SpaceHeads:
    types = ["scarf", "bag"]
    head = Head(labels=types, weight=np.stack([10 * axis(t) for t in types]), bias=np.zeros(2),
                title_weight=title_weight)  # fmt: skip
    return SpaceHeads(heads={"category": head}, type_rerank_weight=2.0)


def _two_candidates():
    """A scarf photo as the query; candidate 1 looks like a bag but its title says scarf,
    candidate 2 is a bag and nearer the query's photo."""
    query = axis("red", "scarf")
    vectors = {1: axis("red", "bag"), 2: axis("red", "red", "bag")}
    ranked = sorted(((pid, float(v @ query)) for pid, v in vectors.items()), key=lambda r: -r[1])
    return query, vectors, ranked, {1: "Red wool scarf", 2: "Red leather bag"}


def test_the_type_rerank_reads_a_candidates_title_and_relevance_stays_the_photos():
    from visualsearch.search import _photo_scores  # noqa: PLC0415

    query, vectors, ranked, titles = _two_candidates()
    heads = _typed_heads(title_weight=8.0)
    plain, plain_photo = _photo_scores(query_vectors=[query], ranked=ranked, vectors=vectors,
                                       heads=heads, colour=None, modifier_vector=None)  # fmt: skip
    assert [pid for pid, _ in plain] == [2, 1]
    read, read_photo = _photo_scores(query_vectors=[query], ranked=ranked, vectors=vectors,
                                     heads=heads, colour=None, modifier_vector=None,
                                     titles=titles)  # fmt: skip
    assert [pid for pid, _ in read] == [1, 2]
    assert read_photo == pytest.approx(plain_photo)  # what relevance and the floor read
    # heads without title evidence ignore titles
    flat = _typed_heads(title_weight=0.0)
    same, _ = _photo_scores(query_vectors=[query], ranked=ranked, vectors=vectors, heads=flat,
                            colour=None, modifier_vector=None, titles=titles)  # fmt: skip
    assert [pid for pid, _ in same] == [2, 1]


@pytest.mark.django_db
@pytest.mark.parametrize("on", [False, True])
def test_photo_search_reads_titles_in_the_type_rerank_when_the_setting_is_on(
    tmp_path, settings, word_embedder, on
):
    from visualsearch.search import products_search  # noqa: PLC0415

    settings.SEARCH_TYPE_RERANK_TITLES = on
    settings.SEARCH_CATEGORY_VOTE_WEIGHT = 0.0
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"unused")
    _typed_heads(title_weight=8.0).save(checkpoint.with_name(HEADS_FILE))
    space = space_register(name="typed", architecture="x", pretrained=str(checkpoint),
                           dimension=DIM)  # fmt: skip
    query, vectors, _, titles = _two_candidates()
    scarf = add(space, vectors[1], title=titles[1])
    bag = add(space, vectors[2], title=titles[2])
    found = products_search(space=space, query_vector=query, k=2)
    order = [product.pk for product, _ in found.results]
    assert order == ([scarf.pk, bag.pk] if on else [bag.pk, scarf.pk])
