"""``manage.py search_bench`` at a tiny size writes its section with every expected row."""

from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from visualsearch.lab import bench

pytestmark = pytest.mark.django_db


def test_a_tiny_bench_writes_a_dated_section_with_every_row_and_drops_its_table(tmp_path, settings):
    settings.HNSW_M = 16
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
                "| pgvector HNSW | 40 |", "| pgvector HNSW | 400 |", "| faiss HNSW | 100 |",
                "| numpy exact |", "| 10% |", "| 1% |", "freshness p95 ≤ 10 s"):  # fmt: skip
        assert row in text, row
    # 2,000 points: HNSW at ef_search 400 finds the exact top 10
    line = next(li for li in text.splitlines() if li.startswith("| pgvector HNSW | 400 |"))
    assert float(line.split("|")[3]) >= 0.99
    # ~20 rows pass the 1% filter: the site's rule sorts them exactly, so recall is 1; the
    # HNSW-only row of the same run walks the index
    site = next(li for li in text.splitlines() if li.startswith("| 1% |")).split("|")
    assert site[2].strip() == "exact sort" and float(site[5]) == 1.0 and site[9].strip() == "no"
    walked = next(li for li in text.splitlines() if li.startswith("| 1% HNSW only |")).split("|")
    assert walked[2].strip() == "HNSW" and walked[9].strip() == "yes"
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_vectors')")
        assert cursor.fetchone()[0] is None

    # a second run at the same N replaces its section instead of adding one
    call_command(
        "search_bench", "--n", "2000", "--dim", "32", "--queries", "5", "--freshness", "0",
        "--ef-search", "40", "--out", str(out), stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    assert out.read_text().count("## Search benchmark: 2,000 vectors") == 1


def test_the_bench_states_its_noise_and_applies_hnsw_max_scan_tuples(tmp_path, settings):
    settings.HNSW_MAX_SCAN_TUPLES = 12_345
    out = tmp_path / "benchmarks.md"
    common = ["--n", "1000", "--dim", "16", "--queries", "5", "--tune-queries", "5",
              "--clusters", "20", "--freshness", "0", "--ef-search", "40", "--filter-ef", "40,80",
              "--out", str(out)]  # fmt: skip
    call_command("search_bench", *common, stdout=StringIO())
    text = out.read_text()
    assert "power-law spectrum (variance of the i-th of 16 directions ∝ i^-0.88" in text
    assert "hnsw.max_scan_tuples=12,345" in text
    assert "| 1% HNSW only (ef_search 80) |" in text  # --filter-ef 40,80: a row per extra value
    call_command("search_bench", *common, "--filters", "5", stdout=StringIO())
    text = out.read_text()
    assert "| 5% |" in text and "| 5% HNSW only |" in text and "| 10% |" not in text
    call_command("search_bench", *common, "--noise", "isotropic", stdout=StringIO())
    assert "isotropic within-cluster gaussian noise" in out.read_text()


@pytest.mark.parametrize("alpha", [0.0, 0.88, 2.0])
def test_spectrum_noise_has_the_requested_decay_and_total_norm(alpha):
    kind = "isotropic" if alpha == 0 else "spectrum"
    noise = bench.Noise.make(kind=kind, dim=64, spread=0.9, alpha=alpha, seed=3)
    samples = noise.sample(np.random.default_rng(0), 20_000)
    assert bench.power_law_alpha(samples, components=32) == pytest.approx(alpha, abs=0.08)
    assert float((samples**2).sum(axis=1).mean()) == pytest.approx(0.81, rel=0.02)
    # a rotated basis: the largest-variance direction is not a coordinate axis
    assert kind == "isotropic" or np.abs(noise.basis[:, 0]).max() < 0.9


def test_ef_search_for_the_target_is_the_smallest_reaching_it():
    assert bench.ef_for_target({40: 0.9, 100: 0.985, 200: 0.99}, 0.98) == 100
    assert bench.ef_for_target({40: 0.9, 100: 0.95}, 0.98) is None


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
    with pytest.raises(CommandError, match="--filter-ef"):
        call_command("search_bench", "--n", "1000", "--filter-ef", "100,x", stdout=StringIO())
    for bad in ("0", "101", "1,x"):
        with pytest.raises(CommandError, match="--filters"):
            call_command("search_bench", "--n", "1000", "--filters", bad, stdout=StringIO())
