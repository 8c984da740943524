"""``manage.py search_eval`` compares the HNSW search path with exact search on the active space."""

import re
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from tests.factories import ProductFactory, ProductImageFactory
from visualsearch.lab.search_eval import search_eval
from visualsearch.models import ImageEmbedding
from visualsearch.spaces import space_activate, space_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    space = space_register(name="tiny", architecture="x", pretrained="y", dimension=8)
    space_activate(name="tiny")
    rng = np.random.default_rng(3)
    for i in range(40):
        product = ProductFactory(price=Decimal(10 + i))
        image = ProductImageFactory(product=product)
        ImageEmbedding.objects.create(image=image, product=product, space=space,
                                      vector=rng.normal(size=8).tolist(), image_sha256=image.sha256)  # fmt: skip
    space.refresh_from_db()
    return space


def run(*args) -> str:
    out = StringIO()
    call_command("search_eval", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_last_line_gives_recall_and_latency_and_hnsw_agrees_with_exact(catalog):
    lines = run("--queries", "15").strip().splitlines()
    match = re.fullmatch(r"recall@10=(\d\.\d+) p50_ms=(\d+\.\d+) p95_ms=(\d+\.\d+)", lines[-1])
    assert match, lines[-1]
    assert float(match[1]) == 1.0
    assert float(match[2]) <= float(match[3])
    assert any(line.startswith("exact") for line in lines)


def test_a_selectivity_filter_keeps_about_that_share_and_still_agrees(catalog):
    out = run("--queries", "10", "--selectivity", "0.25")
    assert "filter keeps 25.00%" in out
    assert out.strip().splitlines()[-1].startswith("recall@10=1.0000 ")


def test_the_eval_hnsw_path_uses_the_space_index_and_the_exact_path_does_not(catalog):
    result = search_eval(space=catalog, queries=3)
    assert catalog.image_index_name in result.hnsw_plan
    assert "Index Scan" in result.hnsw_plan
    assert catalog.image_index_name not in result.exact_plan
    assert result.hnsw_uses_index and not result.exact_uses_index


def test_without_an_active_space_it_is_a_command_error():
    with pytest.raises(CommandError, match="no active embedding space"):
        run()


def test_a_selectivity_outside_0_1_is_a_command_error(catalog):
    with pytest.raises(CommandError, match="--selectivity"):
        run("--selectivity", "1.5")
