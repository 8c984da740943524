import numpy as np
import pytest
from django.db import connection

from tests.factories import ProductImageFactory
from visualsearch.models import EmbeddingSpace, ImageEmbedding
from visualsearch.spaces import space_activate, space_register

pytestmark = pytest.mark.django_db


def _indexes() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'visualsearch_%'"
        )
        return dict(cursor.fetchall())


def test_registering_a_space_creates_its_own_partial_hnsw_indexes():
    space = space_register(name="tiny", architecture="x", pretrained="y", dimension=8)
    indexes = _indexes()
    definition = indexes[space.image_index_name]
    assert "USING hnsw" in definition
    assert "halfvec(8)" in definition and "halfvec_cosine_ops" in definition
    assert f"space_id = {space.pk}" in definition
    assert space.title_index_name in indexes


def test_a_nearest_neighbour_query_uses_the_space_index():
    space = space_register(name="tiny", architecture="x", pretrained="y", dimension=8)
    rng = np.random.default_rng(0)
    for _ in range(30):
        image = ProductImageFactory()
        ImageEmbedding.objects.create(image=image, product=image.product, space=space,
                                      vector=rng.normal(size=8).tolist(), image_sha256=image.sha256)  # fmt: skip
    with connection.cursor() as cursor:
        # 30 rows: without this the planner would rather sort them; at scale it picks HNSW itself.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM visualsearch_imageembedding WHERE space_id = %s "
            "ORDER BY vector::halfvec(8) <=> %s::halfvec(8) LIMIT 5",
            [space.pk, str(rng.normal(size=8).tolist())],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert space.image_index_name in plan


def test_only_one_space_is_active_and_activation_switches_it():
    blue = space_register(name="blue", architecture="x", pretrained="y", dimension=8)
    green = space_register(name="green", architecture="x", pretrained="y", dimension=16)
    space_activate(name="blue")
    space_activate(name="green")
    assert list(EmbeddingSpace.objects.filter(is_active=True)) == [green]
    blue.refresh_from_db()
    assert not blue.is_active
