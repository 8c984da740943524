"""``manage.py search_bench`` at a tiny size writes its section with every expected row."""

from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from visualsearch import bench

pytestmark = pytest.mark.django_db


def test_a_tiny_bench_writes_a_dated_section_with_every_row_and_drops_its_table(tmp_path):
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\n## Someone else's section\n\nkept as is\n")
    call_command(
        "search_bench", "--n", "2000", "--dim", "32", "--queries", "20", "--clusters", "50",
        "--freshness", "0", "--out", str(out), stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    text = out.read_text()
    assert "## Someone else's section\n\nkept as is" in text
    assert "## Search benchmark: 2,000 vectors (32-d)" in text
    for row in ("| COPY load |", "| pgvector HNSW build |", "| HNSW index size |",
                "| faiss IndexHNSWFlat build (M=16) |", "| query plan uses the HNSW index | yes |",
                "| pgvector HNSW | 40 |", "| pgvector HNSW | 160 |", "| faiss HNSW | 80 |",
                "| numpy exact |", "| 10% |", "| 1% |", "freshness p95 ≤ 10 s"):  # fmt: skip
        assert row in text, row
    # 2,000 points: HNSW at ef_search 160 finds the exact top 10
    line = next(li for li in text.splitlines() if li.startswith("| pgvector HNSW | 160 |"))
    assert float(line.split("|")[3]) >= 0.99
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_vectors')")
        assert cursor.fetchone()[0] is None

    # a second run at the same N replaces its section instead of adding one
    call_command(
        "search_bench", "--n", "2000", "--dim", "32", "--queries", "5", "--freshness", "0",
        "--ef-search", "40", "--out", str(out), stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    assert out.read_text().count("## Search benchmark: 2,000 vectors") == 1


def test_binary_copy_rows_round_trip_through_postgresql():
    vectors = np.array([[0.5, -0.25, 1.0], [0.0, 2.0, -3.5]], dtype=np.float16)
    bench.table_create(dim=3)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            "COPY bench_vectors (id, category, price_cents, vector) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.write(bench.COPY_HEADER)
            copy.write(bench.copy_binary_rows(np.array([1, 2]), np.array([7, 8]),
                                              np.array([100, 250]), vectors))  # fmt: skip
            copy.write(bench.COPY_TRAILER)
        cursor.execute(
            "SELECT id, category, price_cents, vector::text FROM bench_vectors ORDER BY id"
        )
        assert cursor.fetchall() == [(1, 7, 100, "[0.5,-0.25,1]"), (2, 8, 250, "[0,2,-3.5]")]
    bench.table_drop()


def test_recall_counts_the_share_of_the_true_top_k_found():
    assert bench.recall_at_k([[1, 2, 3], [4, 5, 9]], [[1, 2, 3], [4, 5, 6]], 3) == pytest.approx(
        (1 + 2 / 3) / 2
    )


def test_bad_options_are_command_errors():
    with pytest.raises(CommandError, match="--ef-search"):
        call_command("search_bench", "--n", "1000", "--ef-search", "x", stdout=StringIO())
