"""Recall of the real HNSW search path against exact search (``manage.py search_eval``).

Query vectors are stored image vectors of random active products in the active space. Each query
goes through ``products_search`` twice with the same filters:

- HNSW: as the site runs it, except that sequential scans, bitmap scans and sorts are switched
  off for the transaction and ``SEARCH_EXACT_MAX_ROWS`` is 0, so the planner takes the space's
  HNSW index even on a small catalog or under a selective filter (where the site would rather
  sort a few hundred rows exactly and the comparison would say nothing);
- exact: the same call with ``enable_indexscan = off``, so the same SQL is answered by a full
  scan of the filtered rows ordered by the exact distance.

recall@k = mean share of the exact top-k product ids that the HNSW path returns. With a
selectivity P each query gets a random price window that keeps ~P of the active embedded
products. The SQL of each path is captured (``connection.execute_wrapper``) so its plan can be
shown and tested.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import override_settings

from catalog.models import ProductStatus
from visualsearch.lab.bench import percentiles, recall_at_k
from visualsearch.models import EmbeddingSpace, ImageEmbedding
from visualsearch.search import products_search
from visualsearch.vector_sql import halfvec_decode, hnsw_session


@dataclass
class EvalResult:
    space: str
    queries: int
    k: int
    ef_search: int
    selectivity: float | None
    kept: float
    recall: float
    hnsw_ms: tuple[float, float]
    exact_ms: tuple[float, float]
    index_name: str = ""
    hnsw_plan: str = ""
    exact_plan: str = ""

    @property
    def hnsw_uses_index(self) -> bool:
        return bool(self.index_name) and self.index_name in self.hnsw_plan

    @property
    def exact_uses_index(self) -> bool:
        return bool(self.index_name) and self.index_name in self.exact_plan

    def table(self) -> str:
        lines = [
            f"space {self.space}: {self.queries} queries, k={self.k}, "
            f"ef_search={self.ef_search}, "
            + (
                f"selectivity {self.selectivity:.2%} (filter keeps {self.kept:.2%})"
                if self.selectivity is not None
                else "no filter"
            ),
            f"{'path':<7} {'recall@' + str(self.k):>10} {'p50_ms':>9} {'p95_ms':>9}  uses HNSW",
            f"{'exact':<7} {1.0:>10.4f} {self.exact_ms[0]:>9.2f} {self.exact_ms[1]:>9.2f}  "
            f"{'yes' if self.exact_uses_index else 'no'}",
            f"{'hnsw':<7} {self.recall:>10.4f} {self.hnsw_ms[0]:>9.2f} {self.hnsw_ms[1]:>9.2f}  "
            f"{'yes' if self.hnsw_uses_index else 'no'}",
            f"recall@{self.k}={self.recall:.4f} p50_ms={self.hnsw_ms[0]:.2f} "
            f"p95_ms={self.hnsw_ms[1]:.2f}",
        ]
        return "\n".join(lines)


@contextmanager
def _captured_sql(store: list):
    """Record (sql, params) of the nearest-neighbour query the search runs."""

    def wrapper(execute, sql, params, many, context):
        if "<=>" in sql and "ORDER BY" in sql and not sql.lstrip().upper().startswith("EXPLAIN"):
            store.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


def _path_settings(cursor, mode: str) -> None:
    """Every switch set explicitly for both paths, so one path's settings never leak into the
    other's (inside an outer transaction, as in tests, SET LOCAL lasts until it ends). Sorts are
    off on the HNSW path because on a small catalog the planner would rather sort the rows of a
    btree scan on space_id than walk the ordered HNSW scan."""
    hnsw = mode != "exact"
    for name, on in (("enable_indexscan", hnsw), ("enable_seqscan", not hnsw),
                     ("enable_bitmapscan", not hnsw), ("enable_sort", not hnsw)):  # fmt: skip
        cursor.execute(f"SET LOCAL {name} = {'on' if on else 'off'}")


def search_once(*, space: EmbeddingSpace, vector: np.ndarray, k: int, mode: str,
                filters: dict, captured: list | None = None) -> tuple[list[int], float]:  # fmt: skip
    """Product ids of one search by ``mode`` ('hnsw' or 'exact') and its latency in ms."""
    store: list = []
    # The HNSW path is measured even where the site would sort a selective filter's rows exactly.
    exact_max = settings.SEARCH_EXACT_MAX_ROWS if mode == "exact" else 0
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        _captured_sql(store),
        override_settings(SEARCH_EXACT_MAX_ROWS=exact_max),
    ):
        _path_settings(cursor, mode)
        started = time.perf_counter()
        result = products_search(space=space, query_vector=vector, k=k, **filters)
        elapsed = (time.perf_counter() - started) * 1000
    if captured is not None and store:
        captured.append(store[-1])
    return [product.pk for product, _ in result.results], elapsed


def plan_of(*, mode: str, sql: str, params) -> str:
    """EXPLAIN of a captured search query under ``mode``'s settings."""
    with transaction.atomic(), connection.cursor() as cursor:
        _path_settings(cursor, mode)
        hnsw_session(cursor)
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


class NothingToEvaluate(ValueError):
    """The space has no image vectors of active products."""


def _sample(space: EmbeddingSpace, queries: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Stored image vectors of random active products (with replacement only if too few)."""
    ids = list(
        ImageEmbedding.objects.filter(space=space, product__status=ProductStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        raise NothingToEvaluate(f"space {space.name} has no image vectors of active products")
    chosen = [ids[i] for i in rng.choice(len(ids), size=queries, replace=queries > len(ids))]
    by_id = {
        pk: halfvec_decode(v)
        for pk, v in ImageEmbedding.objects.filter(pk__in=set(chosen)).values_list("pk", "vector")
    }
    return [by_id[i] for i in chosen]


def _price_window(prices: list, selectivity: float, rng: np.random.Generator) -> dict:
    """A price range holding ~``selectivity`` of ``prices`` (sorted), at a random place."""
    width = max(1, math.ceil(selectivity * len(prices)))
    start = int(rng.integers(0, max(1, len(prices) - width + 1)))
    return {"min_price": prices[start], "max_price": prices[min(len(prices), start + width) - 1]}


def search_eval(
    *,
    space: EmbeddingSpace,
    queries: int = 100,
    k: int = 10,
    selectivity: float | None = None,
    ef_search: int | None = None,
    seed: int = 0,
    on_progress=None,
) -> EvalResult:
    rng = np.random.default_rng(seed)
    ef = int(ef_search or settings.HNSW_EF_SEARCH)
    vectors = _sample(space, queries, rng)
    product_prices = list(
        ImageEmbedding.objects.filter(space=space, product__status=ProductStatus.ACTIVE)
        .values_list("product_id", "product__price")
        .distinct()
    )
    prices = sorted(price for _, price in product_prices)
    found, truth, hnsw_ms, exact_ms, kept = [], [], [], [], []
    captured_hnsw: list = []
    captured_exact: list = []
    with override_settings(HNSW_EF_SEARCH=ef):
        for vector in vectors:
            filters = _price_window(prices, selectivity, rng) if selectivity else {}
            if filters:
                lo, hi = filters["min_price"], filters["max_price"]
                kept.append(sum(lo <= p <= hi for p in prices) / len(prices))
            want, ms = search_once(space=space, vector=vector, k=k, mode="exact",
                                   filters=filters, captured=captured_exact)  # fmt: skip
            exact_ms.append(ms)
            got, ms = search_once(space=space, vector=vector, k=k, mode="hnsw",
                                  filters=filters, captured=captured_hnsw)  # fmt: skip
            hnsw_ms.append(ms)
            truth.append(want)
            found.append(got)
            if on_progress:
                on_progress(1)
    return EvalResult(
        space=space.name,
        queries=len(vectors),
        k=k,
        ef_search=ef,
        selectivity=selectivity,
        kept=float(np.mean(kept)) if kept else 1.0,
        recall=recall_at_k(found, truth, k),
        hnsw_ms=percentiles(hnsw_ms),
        exact_ms=percentiles(exact_ms),
        index_name=space.image_index_name,
        hnsw_plan=plan_of(mode="hnsw", sql=captured_hnsw[0][0], params=captured_hnsw[0][1])
        if captured_hnsw
        else "",
        exact_plan=plan_of(mode="exact", sql=captured_exact[0][0], params=captured_exact[0][1])
        if captured_exact
        else "",
    )
