"""Search in a space with calibrated heads: a relevance floor (no match for what the shop does
not sell), "like this, but in blue", "without stripes", and paging that never repeats."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.visualsearch.search_helpers import DIM, PALETTE, add, axis
from visualsearch.heads import HEADS_FILE, Head, Relevance, SpaceHeads
from visualsearch.models import ImageAttribute
from visualsearch.spaces import space_activate, space_register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]

COLOURS = ["red", "blue", "green"]
TYPES = ["scarf", "bag"]


def _head(labels):
    return Head(
        labels=labels, weight=np.stack([10 * axis(w) for w in labels]), bias=np.zeros(len(labels))
    )


@pytest.fixture
def calibrated_space(tmp_path, word_embedder):
    """The word space with heads: colour and type read off the word axes, and a relevance
    floor at score 0.5 for both modes."""
    checkpoint = tmp_path / "space" / "model.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"not used: the word embedder stands in for the model")
    SpaceHeads(
        heads={"colour": _head(COLOURS), "category": _head(TYPES)},
        relevance={
            "vector": Relevance(slope=20.0, intercept=-10.0, floor=0.5),
            "hybrid": Relevance(slope=20.0, intercept=-10.0, floor=0.5),
        },
        type_rerank_weight=0.5,
        modifier={"text": 1.0, "photo": 0.3, "colour": 0.5},
    ).save(checkpoint.with_name(HEADS_FILE))
    space = space_register(name="calibrated", architecture="x", pretrained=str(checkpoint),
                           dimension=DIM)  # fmt: skip
    space_activate(name="calibrated")
    return space


def _photo(colour: str) -> io.BytesIO:
    image = Image.new("RGB", (48, 48), (255, 255, 255))
    image.paste(PALETTE[colour], (8, 8, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = f"{colour}.png"
    return buffer


def test_a_query_for_something_the_shop_does_not_sell_is_answered_with_no_match(
    calibrated_space, client
):
    for colour in COLOURS:
        add(calibrated_space, axis(colour, "scarf"), title=f"{colour.title()} wool scarf")
    body = client.post("/api/search/", {"text": "lamp", "k": 5}).json()
    assert body["results"], "weaker results are still returned, marked"
    assert body["no_match"] is True
    assert all(hit["match"] is False and hit["relevance"] < 0.5 for hit in body["results"])
    page = client.post("/", {"text": "lamp"}).content.decode()
    assert "No good match" in page and "weaker result" in page


def test_a_query_the_shop_can_answer_is_marked_as_matching(calibrated_space, client):
    red = add(calibrated_space, axis("red", "scarf"), title="Red wool scarf")
    add(calibrated_space, axis("green", "bag"), title="Green tote bag")
    body = client.post("/api/search/", {"text": "red scarf", "k": 5}).json()
    assert body["no_match"] is False
    top = body["results"][0]
    assert top["product"]["id"] == red.pk and top["match"] is True and top["relevance"] > 0.5
    page = client.post("/", {"text": "red scarf"}).content.decode()
    assert "No good match" not in page


def test_a_photo_plus_in_blue_returns_the_same_kind_of_item_in_blue(calibrated_space, client):
    red_scarves = [add(calibrated_space, axis("red", "scarf"), title="Red scarf") for _ in range(3)]
    blue_scarf = add(calibrated_space, axis("blue", "scarf"), title="Blue scarf")
    add(calibrated_space, axis("blue", "bag"), title="Blue bag")
    plain = client.post("/api/search/", {"image": _photo("red"), "k": 3}).json()
    assert {h["product"]["id"] for h in plain["results"]} == {p.pk for p in red_scarves}
    modified = client.post("/api/search/", {"image": _photo("red"), "text": "but in blue", "k": 3})
    assert modified.status_code == 200, modified.json()
    assert modified.json()["results"][0]["product"]["id"] == blue_scarf.pk


def test_without_stripes_leaves_out_products_whose_pattern_is_striped(calibrated_space, client):
    striped = add(calibrated_space, axis("red", "scarf"), title="Red striped scarf")
    plain = add(calibrated_space, axis("red", "scarf"), title="Red plain scarf")
    image = striped.images.get()
    ImageAttribute.objects.create(image=image, product=striped, space=calibrated_space,
                                  name="pattern", value="striped", confidence=0.9)  # fmt: skip
    # pattern is scored zero-shot; this space has a calibrated temperature for it
    heads_path = calibrated_space.pretrained.replace("model.pt", HEADS_FILE)
    heads = SpaceHeads.load(heads_path)
    heads.zero_shot_temperature["pattern"] = 0.1
    heads.save(heads_path)
    body = client.post(
        "/api/search/", {"text": "red scarf", "negative_text": "stripes", "k": 5}
    ).json()
    shown = [h["product"]["id"] for h in body["results"]]
    assert plain.pk in shown and striped.pk not in shown


def test_photo_search_pages_never_repeat_a_product(calibrated_space, client):
    for n in range(9):
        add(calibrated_space, axis("red", *["scarf"] * (n % 3), *["bag"] * (n // 3)))
    seen = []
    for page in (1, 2, 3):
        body = client.post("/api/search/", {"image": _photo("red"), "k": 3, "page": page}).json()
        seen += [h["product"]["id"] for h in body["results"]]
    assert len(seen) == 9 and len(set(seen)) == 9


def test_the_search_page_searches_page_two_with_the_same_photo_as_page_one(
    calibrated_space, client, word_embedder, monkeypatch
):

    seen = []
    encode = word_embedder.encode_images
    monkeypatch.setattr(
        word_embedder,
        "encode_images",
        lambda images: (
            seen.append([np.asarray(im.convert("RGB")) for im in images]) or encode(images)
        ),
    )
    for n in range(6):
        add(calibrated_space, axis("red", *["scarf"] * n), title=f"Listing number {n}")
    first = client.post("/", {"image": _photo("red"), "k": 3}).content.decode()
    kept = re.findall(r'name="photo_kept" value="([^"]+)"', first)
    assert kept
    second = client.post("/", {"photo_kept": kept, "k": 3, "page": 2}).content.decode()
    assert len(seen) == 2
    assert np.array_equal(seen[0][0], seen[1][0]), "page 2 must rank the very same pixels"
    titles = lambda html: set(re.findall(r"Listing number \d", html))  # noqa: E731
    assert len(titles(first)) == 3 and len(titles(second)) == 3
    assert not titles(first) & titles(second)


def test_similar_items_on_a_product_page_are_in_score_order(calibrated_space, client):

    product = add(calibrated_space, axis("red", "scarf"))
    # near copies of one another, and two different ones: MMR picks a varied set, so its own
    # order puts a lower-scored different item before a near copy
    for words in [("red", "scarf", "scarf")] * 3 + [
        ("red", "scarf", "bag"),
        ("red", "scarf", "green"),
        ("red", "scarf", "scarf", "scarf"),
    ]:
        add(calibrated_space, axis(*words))
    page = client.get(product.get_absolute_url()).content.decode()
    scores = [float(s) for s in re.findall(r"score (\d\.\d{3})", page)]
    assert len(scores) == 6
    assert scores == sorted(scores, reverse=True)


def test_an_expanded_photo_search_keeps_the_photos_relevance(calibrated_space, client):
    for n in range(9):
        add(calibrated_space, axis("red", *["scarf"] * (n % 3), *["bag"] * (n // 3)))

    def hits(**extra):
        body = client.post("/api/search/", {"image": _photo("red"), "k": 9, **extra}).json()
        return {h["product"]["id"]: (h["relevance"], h["match"]) for h in body["results"]}

    plain, expanded = hits(), hits(expand="true")
    assert set(plain) == set(expanded) and len(plain) == 9
    assert expanded == plain  # relevance and match are the photo's, whatever the order
    seen = []
    for page in (1, 2, 3):
        body = client.post(
            "/api/search/", {"image": _photo("red"), "k": 3, "page": page, "expand": "true"}
        ).json()
        seen += [h["product"]["id"] for h in body["results"]]
    assert len(seen) == 9 and len(set(seen)) == 9


def test_hybrid_search_ranks_by_the_facet_term_and_reports_it(calibrated_space, settings):
    """Two products whose titles say nothing and whose photos are equally close to "red bag":
    without the facet term the tie goes to the older, the scarf; with it the one the heads read
    as a bag comes first, and score_parts shows the term."""
    from visualsearch.search import products_search_hybrid  # noqa: PLC0415

    scarf = add(calibrated_space, axis("red", "bag", "scarf", "scarf"), title="Item one")
    bag = add(calibrated_space, axis("red", "bag", "velvet", "velvet"), title="Item two")
    query = axis("red", "bag")

    def run(weight):
        settings.FUSION_FACET_WEIGHT = weight
        return products_search_hybrid(space=calibrated_space, text="red bag", query_vector=query)

    off, on = run(0.0), run(1.0)
    assert [p.pk for p, _ in off.results] == [scarf.pk, bag.pk]
    assert [p.pk for p, _ in on.results] == [bag.pk, scarf.pk]
    assert on.parts[bag.pk]["facets"] > 0.9 > 0.1 > on.parts[scarf.pk]["facets"]
    assert {pk: part["facets"] for pk, part in off.parts.items()} == {bag.pk: 0.0, scarf.pk: 0.0}
    unfaceted = {p.pk: s for p, s in off.results}
    for product, score in on.results:
        assert score == pytest.approx(unfaceted[product.pk] + on.parts[product.pk]["facets"],
                                      abs=1e-5)  # fmt: skip


def test_more_like_this_reads_the_products_item_type_from_its_title(calibrated_space, settings):
    """The product's photo is as much a scarf as a bag; its title says bag. Two candidates are
    equally close to it, one more scarf, one more bag: with titles read, the bag comes first;
    without, the tie goes to the older one, the scarf."""
    from visualsearch.search import products_similar  # noqa: PLC0415

    heads_file = calibrated_space.pretrained.replace("model.pt", HEADS_FILE)
    heads = SpaceHeads.load(Path(heads_file))
    heads.heads["category"].title_weight = 4.0
    heads.save(Path(heads_file))
    scarf = add(calibrated_space, axis("red", "scarf", "scarf", "bag"), title="Item one")
    bag = add(calibrated_space, axis("red", "bag", "bag", "scarf"), title="Item two")
    product = add(calibrated_space, axis("red", "scarf", "bag"), title="Red leather bag")

    def order(titles: bool) -> list[int]:
        settings.SEARCH_TYPE_RERANK_TITLES = titles
        return [p.pk for p, _ in products_similar(product=product, space=calibrated_space).results]

    assert order(False) == [scarf.pk, bag.pk]
    assert order(True) == [bag.pk, scarf.pk]
