"""Hybrid text search: text-only queries fuse image vectors, title vectors and full-text rank
with the formula of visualsearch.fusion; photo queries stay vector-only."""

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import CategoryFactory, SellerFactory
from tests.visualsearch.search_helpers import add, axis, ids
from visualsearch.fusion import DEFAULT_WEIGHTS, fuse
from visualsearch.search import fusion_weights, products_search, products_search_hybrid
from visualsearch.services import titles_embed
from visualsearch.spaces import space_activate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]


def keyword_rank(product, text: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ts_rank_cd(search_document, websearch_to_tsquery('english', %s)) "
            "FROM catalog_product WHERE id = %s",
            [text, product.pk],
        )
        return float(cursor.fetchone()[0])


def test_the_default_weights_are_the_fusion_modules(settings):
    assert fusion_weights() == DEFAULT_WEIGHTS


def test_the_live_ordering_follows_the_fusion_formula(word_space, word_embedder):
    """Five products whose image, title and keyword signals disagree; the live order and scores
    are the formula's, computed here from the vectors and PostgreSQL's ts_rank_cd."""
    catalog = [
        (axis("red", "scarf"), "Blue lamp"),
        (axis("blue"), "Red velvet scarf"),
        (axis("red"), "Green bag"),
        (axis("green", "scarf"), "Red scarf with red fringe"),
        (axis("green"), "Plain lamp"),
    ]
    products = [add(word_space, vector, title=title) for vector, title in catalog]
    titles_embed(product_ids=[p.pk for p in products], space=word_space)
    text = "red scarf"
    query = word_embedder.encode_texts([text])[0]
    result = products_search_hybrid(space=word_space, text=text, query_vector=query, k=10)
    image_sim = np.array([float(vector @ query) for vector, _ in catalog])
    title_sim = np.array([float(word_embedder.encode_texts([t])[0] @ query) for _, t in catalog])
    keyword = np.array([keyword_rank(p, text) for p in products])
    assert keyword[3] > keyword[1] > 0 and keyword[0] == 0
    expected = fuse(image_sim=image_sim, title_sim=title_sim, keyword=keyword)
    order = sorted(range(5), key=lambda i: (-expected[i], products[i].pk))
    assert result.mode == "hybrid"
    assert ids(result) == [products[i].pk for i in order]
    assert [score for _, score in result.results] == pytest.approx(
        [expected[i] for i in order], abs=2e-3
    )
    # The order is not the image order alone, nor the keyword order alone.
    assert order != sorted(range(5), key=lambda i: -image_sim[i])
    assert order != sorted(range(5), key=lambda i: -keyword[i])


def test_a_title_keyword_match_the_image_vectors_miss_is_found(word_space, word_embedder, settings):
    """Thirty photos lean a little towards "velvet" and fill the image candidate list; the velvet
    scarf's photo is plain green and its title is not embedded, so only the full-text rank can
    bring it in, and with the default weights it then comes first."""
    settings.SEARCH_CANDIDATES = 10
    shared = {"seller": SellerFactory(), "category": CategoryFactory()}
    decoy = axis("velvet", *["red"] * 6)
    for n in range(30):
        add(word_space, decoy, title=f"Item {n}", **shared)
    velvet = add(word_space, axis("green"), title="Velvet evening scarf", **shared)
    query = word_embedder.encode_texts(["velvet"])[0]
    vector_only = products_search(space=word_space, query_vector=query, k=5)
    assert velvet.pk not in ids(vector_only) and vector_only.scanned < 31
    hybrid = products_search_hybrid(space=word_space, text="velvet", query_vector=query, k=5)
    assert ids(hybrid)[0] == velvet.pk
    assert hybrid.parts[velvet.pk] == {
        "image": 0.0,
        "title": 0.0,
        "keyword": 0.5,
        "keyword_rank": 1.0,
        "facets": 0.0,
    }


def test_hybrid_search_honours_the_filters(word_space, word_embedder):
    wanted_category = CategoryFactory(slug="scarves")
    inside = add(word_space, axis("green"), title="Red scarf", category=wanted_category)
    add(word_space, axis("red"), title="Red scarf too")
    query = word_embedder.encode_texts(["red scarf"])[0]
    result = products_search_hybrid(
        space=word_space, text="red scarf", query_vector=query, category="scarves"
    )
    assert ids(result) == [inside.pk]


@pytest.fixture
def api(word_space, word_embedder):

    space_activate(name="words")
    return APIClient()


def test_the_api_says_which_path_ran_and_shows_the_parts_of_the_fused_score(
    api, word_space, image_bytes
):

    product = add(word_space, axis("red"), title="Red scarf")
    titles_embed(product_ids=[product.pk], space=word_space)
    body = api.post("/api/search/", {"text": "red scarf"}, format="json").json()
    assert body["mode"] == "hybrid"
    (hit,) = body["results"]
    parts = hit["score_parts"]
    assert parts["keyword_rank"] > 0
    w = DEFAULT_WEIGHTS
    assert hit["score"] == pytest.approx(
        w.image * parts["image"] + w.title * parts["title"] + w.keyword * parts["keyword"],
        abs=1e-4,
    )
    photo = SimpleUploadedFile("q.jpg", image_bytes(colour=(250, 0, 0)), "image/jpeg")
    body = api.post("/api/search/", {"image": photo, "text": "scarf"}, format="multipart").json()
    assert body["mode"] == "vector"
    assert body["results"][0]["score_parts"] is None


def test_fusion_weights_come_from_settings(api, word_space, settings):
    settings.FUSION_IMAGE_WEIGHT = 0.0
    settings.FUSION_TITLE_WEIGHT = 0.0
    settings.FUSION_KEYWORD_WEIGHT = 1.0
    add(word_space, axis("red"), title="Plain thing")
    keyword = add(word_space, axis("green"), title="Red scarf")
    body = api.post("/api/search/", {"text": "red scarf"}, format="json").json()
    assert body["results"][0]["product"]["id"] == keyword.pk


def test_the_keyword_part_matches_a_compound_spelt_another_way(word_space, word_embedder, settings):
    """ "grey tshirts" ranks a "T-Shirt" title by its full-text rank as it ranks a "Tshirt"
    one; with SEARCH_KEYWORD_SPELLINGS off, the hyphenated title has no keyword part."""
    hyphen = add(word_space, axis("green"), title="Grey round neck T-Shirt")
    joined = add(word_space, axis("green"), title="Grey round neck Tshirt")
    query = word_embedder.encode_texts(["grey tshirts"])[0]
    result = products_search_hybrid(space=word_space, text="grey tshirts", query_vector=query)
    assert result.parts[hyphen.pk]["keyword_rank"] > 0
    assert result.parts[joined.pk]["keyword_rank"] > 0
    settings.SEARCH_KEYWORD_SPELLINGS = False
    result = products_search_hybrid(space=word_space, text="grey tshirts", query_vector=query)
    assert result.parts.get(hyphen.pk, {}).get("keyword_rank", 0.0) == 0.0
    assert result.parts[joined.pk]["keyword_rank"] > 0


def test_the_keyword_part_matches_a_model_number_typed_without_its_hyphen(
    word_space, word_embedder
):
    """A shopper's "dir412" finds the listing titled "DIR-412" by full-text rank, and "DIR-412"
    finds "DIR412"; another code ("DIR-413") has no keyword part."""
    hyphen = add(word_space, axis("green"), title="D-Link DIR-412 router")
    joined = add(word_space, axis("green"), title="D-Link DIR412 router")
    other = add(word_space, axis("green"), title="D-Link DIR-413 router")
    for text in ("dir412", "DIR-412"):
        query = word_embedder.encode_texts([text])[0]
        result = products_search_hybrid(space=word_space, text=text, query_vector=query)
        assert result.parts[hyphen.pk]["keyword_rank"] > 0, text
        assert result.parts[joined.pk]["keyword_rank"] > 0, text
        assert result.parts.get(other.pk, {}).get("keyword_rank", 0.0) == 0.0, text


def test_a_typo_is_searched_as_the_catalog_word_and_the_api_says_so(api, word_space, settings):
    """ "red scraf" is searched as "red scarf" (catalog.spelling) and the answer names it;
    ``correct: false`` searches the words as typed."""
    from catalog.spelling import lexicon_clear  # noqa: PLC0415

    settings.FUSION_IMAGE_WEIGHT = 0.0
    settings.FUSION_TITLE_WEIGHT = 0.0
    settings.FUSION_KEYWORD_WEIGHT = 1.0
    add(word_space, axis("red"), title="Plain thing")
    scarf = add(word_space, axis("green"), title="Red scarf")
    lexicon_clear()
    body = api.post("/api/search/", {"text": "red scraf"}, format="json").json()
    assert body["corrected_text"] == "red scarf"
    assert body["results"][0]["product"]["id"] == scarf.pk
    typed = api.post("/api/search/", {"text": "red scraf", "correct": False}, format="json").json()
    assert typed["corrected_text"] == ""
    body = api.post("/api/search/", {"text": "red scarf"}, format="json").json()
    assert body["corrected_text"] == ""
