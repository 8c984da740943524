"""Offline evaluation of the catalog-trained space on Fashion Product Images (Small).

Pure (no ORM): the ``embedder_eval`` management command and benchmarks call :func:`run_eval`.
Protocol: split the 8,000 products 80/20 by id with a seed; train on the 80% (an inner 10% of it
is the validation split for early stopping and for choosing the fusion weights); evaluate on the
held-out 20% against a gallery of all 8,000. The held-out split is never used to choose anything.

Signals compared side by side on text queries "<baseColour> <articleType>":
pure text→image in our space, hybrid fusion (``fusion.fuse``), BM25 over titles (a Python BM25
here, standing in for PostgreSQL's ts_rank_cd) and MiniLM text→title alone.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from visualsearch import offline_model as om
from visualsearch.attributes import attributes_score
from visualsearch.embedders import get_embedder
from visualsearch.fusion import FusionWeights, fuse
from visualsearch.minilm import minilm_encode
from visualsearch.vectors import rows_normalise

DEFAULT_DATA = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "fashion_product_images_small"
)


@dataclass
class Product:
    id: int
    title: str
    colour: str
    type: str
    path: Path


def load_products(data_dir: Path) -> list[Product]:
    rows = []
    with open(data_dir / "styles.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            path = data_dir / r["image"]
            if path.is_file():
                rows.append(
                    Product(
                        int(r["id"]),
                        r["productDisplayName"],
                        r["baseColour"],
                        r["articleType"],
                        path,
                    )
                )
    return sorted(rows, key=lambda p: p.id)


def split_ids(ids: list[int], *, seed: int, test_fraction: float = 0.2) -> tuple[set, set]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(sorted(ids))
    n_test = int(round(len(ids) * test_fraction))
    return set(order[n_test:].tolist()), set(order[:n_test].tolist())


# --- metrics -------------------------------------------------------------------------------


def ranking_metrics(ranked: np.ndarray, relevant: set, *, k: int = 10) -> dict[str, float]:
    """nDCG@k (binary gains), P@k and R@k for one ranked list of gallery indices."""
    top = ranked[:k]
    gains = np.array([1.0 if i in relevant else 0.0 for i in top])
    dcg = float((gains / np.log2(np.arange(2, len(top) + 2))).sum())
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    hits = gains.sum()
    return {
        "ndcg10": dcg / ideal if ideal else 0.0,
        "p10": hits / k,
        "r10": hits / len(relevant) if relevant else 0.0,
    }


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def top_k(scores: np.ndarray, k: int = 10) -> np.ndarray:
    idx = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
    return idx[np.argsort(-scores[idx], kind="stable")]


# --- BM25 ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25:
    """Okapi BM25 (k1=1.2, b=0.75) over short titles, in Python, for evaluation only."""

    def __init__(self, docs: list[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        toks = [tokenize(d) for d in docs]
        self.n = len(toks)
        self.lengths = np.array([len(t) for t in toks], dtype=np.float64)
        self.avg = float(self.lengths.mean()) if self.n else 0.0
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, t in enumerate(toks):
            for term, tf in Counter(t).items():
                self.postings[term].append((i, tf))

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(self.n)
        for term in set(tokenize(query)):
            posting = self.postings.get(term)
            if not posting:
                continue
            df = len(posting)
            idf = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
            idx = np.array([i for i, _ in posting])
            tf = np.array([f for _, f in posting], dtype=np.float64)
            norm = self.k1 * (1 - self.b + self.b * self.lengths[idx] / self.avg)
            out[idx] += idf * tf * (self.k1 + 1) / (tf + norm)
        return out


# --- text queries --------------------------------------------------------------------------


def colour_type_queries(products: list[Product]) -> list[tuple[str, str, str]]:
    """Distinct (query text, colour, type) among the given products, colour present."""
    seen = sorted({(p.colour, p.type) for p in products if p.colour})
    return [(f"{c} {t}", c, t) for c, t in seen]


def evaluate_text(
    *, queries, gallery: list[Product], signals: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """``signals[name]`` is a (n_queries, n_gallery) score matrix; returns mean metrics per name."""
    by_key: dict[tuple[str, str], set] = defaultdict(set)
    for i, p in enumerate(gallery):
        by_key[(p.colour, p.type)].add(i)
    out = {}
    for name, mat in signals.items():
        rows = [
            ranking_metrics(top_k(mat[q]), by_key[(c, t)]) for q, (_, c, t) in enumerate(queries)
        ]
        out[name] = mean_metrics(rows)
    return out


def choose_fusion_weights(
    *, queries, gallery, image_sim, title_sim, keyword, step: float = 0.1
) -> tuple[FusionWeights, float]:
    """Grid-search the fusion weights (summing to 1) and keyword_k by nDCG@10 on VALIDATION."""
    best = (FusionWeights(), -1.0)
    grid = np.round(np.arange(0, 1 + 1e-9, step), 3)
    for wi, wt in itertools.product(grid, grid):
        wk = round(1 - wi - wt, 3)
        if wk < 0:
            continue
        for k in (0.5, 2.0, 8.0):
            w = FusionWeights(image=float(wi), title=float(wt), keyword=float(wk), keyword_k=k)
            mat = fuse(image_sim=image_sim, title_sim=title_sim, keyword=keyword, weights=w)
            score = evaluate_text(queries=queries, gallery=gallery, signals={"h": mat})["h"]
            if score["ndcg10"] > best[1]:
                best = (w, score["ndcg10"])
    return best


# --- the run -------------------------------------------------------------------------------


def image_p10(vectors: np.ndarray, *, query_idx: np.ndarray, labels: list[str]) -> float:
    """Mean P@10 of image queries against all vectors, the query itself excluded."""
    labels_arr = np.array(labels)
    hits = []
    for q in query_idx:
        sims = vectors @ vectors[q]
        sims[q] = -np.inf
        hits.append(float((labels_arr[top_k(sims)] == labels_arr[q]).mean()))
    return float(np.mean(hits))


def run_eval(
    *,
    data_dir: Path = DEFAULT_DATA,
    out_dir: Path,
    seed: int = 0,
    max_train_seconds: float = 600,
    limit: int | None = None,
    progress: bool = True,
    cache_dir: Path | None = None,
) -> dict:
    """Train on 80%, evaluate on 20% and print the summary; returns all numbers as a dict."""
    import torch  # noqa: PLC0415

    torch.set_num_threads(2)
    t0 = time.monotonic()
    products = load_products(Path(data_dir))
    if limit:
        products = products[:limit]
    train_ids, test_ids = split_ids([p.id for p in products], seed=seed)
    rng = np.random.default_rng(seed + 1)
    train_sorted = sorted(train_ids)
    val_ids = set(rng.choice(train_sorted, size=len(train_sorted) // 10, replace=False).tolist())
    fit_ids = train_ids - val_ids
    idx_of = {p.id: i for i, p in enumerate(products)}

    model, preprocess, tokenizer = om.build_model()
    texts = [om.product_text(p.title, p.type, p.colour) for p in products]
    cache = None
    if cache_dir:
        cache = Path(cache_dir) / f"{om.TIMM_MODEL}_{om.IMAGE_SIZE}_{len(products)}.npz"
    t_feat = time.monotonic()
    if cache and cache.is_file():
        data = np.load(cache)
        img_feats, txt_feats = data["img"], data["txt"]
    else:
        img_feats, txt_feats = om.tower_features(
            model=model,
            preprocess=preprocess,
            tokenizer=tokenizer,
            images=[p.path for p in products],
            texts=texts,
            progress=progress,
        )
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, img=img_feats, txt=txt_feats)
    feat_seconds = time.monotonic() - t_feat
    fit = np.array([idx_of[i] for i in sorted(fit_ids)])
    val = np.array([idx_of[i] for i in sorted(val_ids)])
    test = np.array([idx_of[i] for i in sorted(test_ids)])
    train = np.array([idx_of[i] for i in sorted(train_ids)])

    # Raw trunk features → standardised with statistics of the fit split only.
    raw_feats = img_feats
    model.visual.trunk.standardisation_fit(raw_feats[fit])
    img_feats = model.visual.trunk.standardise(raw_feats)

    t_train = time.monotonic()
    # Extra short captions from the training items' own labels (never from validation or test).
    captions = [
        (row, c)
        for row, i in enumerate(fit)
        for c in om.attribute_captions(category=products[i].type, colour=products[i].colour)
    ]
    fit_img, fit_txt = om.with_captions(
        img_feats=img_feats[fit],
        txt_feats=txt_feats[fit],
        owners=[row for row, _ in captions],
        caption_feats=om.text_features(
            model=model, tokenizer=tokenizer, texts=[c for _, c in captions]
        ),
    )
    history, train_metrics = om.train_projections(
        model=model,
        img_feats=fit_img,
        txt_feats=fit_txt,
        val_img=img_feats[val],
        val_txt=txt_feats[val],
        max_seconds=max_train_seconds,
        seed=seed,
        progress=progress,
    )
    train_seconds = time.monotonic() - t_train
    ckpt, _ = om.save_space(model=model, out_dir=Path(out_dir))
    embedder = get_embedder(architecture=om.ARCHITECTURE, pretrained=str(ckpt))

    with torch.inference_mode():
        gallery_vecs = rows_normalise(
            model.visual.head(torch.from_numpy(img_feats)).numpy().astype(np.float32)
        )
    # The loaded checkpoint must reproduce what training produced (round-trip sanity check).

    with Image.open(products[0].path) as im:
        check = embedder.encode_images([im])
    roundtrip = float(check[0] @ gallery_vecs[0])

    titles = [p.title for p in products]
    title_vecs = minilm_encode(titles)

    def text_signals(queries, gallery_idx):
        qtexts = [q for q, _, _ in queries]
        q_img = embedder.encode_texts([q.lower() for q in qtexts])
        q_title = minilm_encode(qtexts)
        bm25 = BM25([titles[i] for i in gallery_idx])
        return {
            "text_image": q_img @ gallery_vecs[gallery_idx].T,
            "minilm_title": q_title @ title_vecs[gallery_idx].T,
            "bm25": np.stack([bm25.scores(q) for q in qtexts]),
        }

    # Validation: queries from the inner validation items, gallery = the training 80% only.
    val_queries = colour_type_queries([products[i] for i in val])
    val_gallery = [products[i] for i in train]
    vs = text_signals(val_queries, train)
    weights, val_ndcg = choose_fusion_weights(
        queries=val_queries,
        gallery=val_gallery,
        image_sim=vs["text_image"],
        title_sim=vs["minilm_title"],
        keyword=vs["bm25"],
    )

    # Test: queries from held-out items, gallery = all products.
    test_queries = colour_type_queries([products[i] for i in test])
    all_idx = np.arange(len(products))
    ts = text_signals(test_queries, all_idx)
    ts["hybrid"] = fuse(
        image_sim=ts["text_image"],
        title_sim=ts["minilm_title"],
        keyword=ts["bm25"],
        weights=weights,
    )
    text_results = evaluate_text(queries=test_queries, gallery=products, signals=ts)

    type_labels = [p.type for p in products]
    # Baseline: the plain ImageNet EfficientNet pooled features (the trunk's first 1280 columns).
    effnet = raw_feats[:, : model.visual.trunk.body.num_features]
    img_raw = image_p10(rows_normalise(effnet), query_idx=test, labels=type_labels)
    img_space = image_p10(gallery_vecs, query_idx=test, labels=type_labels)

    colours = sorted({p.colour for p in products if p.colour})
    types = sorted({p.type for p in products})
    taxonomy = {
        "colour": {
            "labels": [c.lower() for c in colours],
            "templates": ("a photo of a {} product.", "{}"),
        },
        "type": {"labels": [t.lower() for t in types], "templates": ("a photo of {}.", "{}")},
    }
    scored = attributes_score(gallery_vecs[test], embedder, taxonomy, top_k=1)
    colour_acc = float(
        np.mean(
            [
                s["colour"][0][0] == products[i].colour.lower()
                for s, i in zip(scored, test, strict=True)
            ]
        )
    )
    type_acc = float(
        np.mean(
            [s["type"][0][0] == products[i].type.lower() for s, i in zip(scored, test, strict=True)]
        )
    )

    result = {
        "n_products": len(products),
        "n_train": len(train),
        "n_fit": len(fit),
        "n_val": len(val),
        "n_test": len(test),
        "n_test_queries": len(test_queries),
        "feature_seconds": feat_seconds,
        "train_seconds": train_seconds,
        "train_metrics": train_metrics,
        "epochs": len(history),
        "roundtrip_cos": roundtrip,
        "fusion_weights": weights,
        "val_hybrid_ndcg10": val_ndcg,
        "text": text_results,
        "img_p10_raw_efficientnet": img_raw,
        "img_p10_space": img_space,
        "colour_acc": colour_acc,
        "type_acc": type_acc,
        "total_seconds": time.monotonic() - t0,
        "checkpoint": str(ckpt),
    }
    print_summary(result)
    return result


def print_summary(r: dict) -> None:
    print(
        f"products={r['n_products']} train={r['n_train']} (fit {r['n_fit']}, val {r['n_val']})"
        f" test={r['n_test']} test_queries={r['n_test_queries']}"
    )
    print(
        f"features {r['feature_seconds']:.0f}s, training {r['train_seconds']:.0f}s "
        f"({r['epochs']} epochs, {r['train_metrics']['stopped']} stop, best epoch "
        f"{r['train_metrics']['best_epoch']}), checkpoint round-trip cos "
        f"{r['roundtrip_cos']:.4f}"
    )
    w = r["fusion_weights"]
    print(
        f"fusion weights (chosen on validation, nDCG@10 {r['val_hybrid_ndcg10']:.3f}): "
        f"image={w.image} title={w.title} keyword={w.keyword} k={w.keyword_k}"
    )
    print("text queries '<baseColour> <articleType>' on held-out, gallery = all products")
    print("(BM25 is a Python Okapi BM25 over titles, standing in for ts_rank_cd)")
    for name, m in r["text"].items():
        print(f"  {name:13s} nDCG@10={m['ndcg10']:.3f} P@10={m['p10']:.3f} R@10={m['r10']:.3f}")
    print(
        f"image queries P@10 (same articleType): raw EfficientNet "
        f"{r['img_p10_raw_efficientnet']:.3f}, our space {r['img_p10_space']:.3f}"
    )
    print(f"zero-shot on held-out: colour {r['colour_acc']:.3f}, type {r['type_acc']:.3f}")
    print(f"total {r['total_seconds']:.0f}s")
    t = r["text"]
    print(
        f"text_ndcg10={t['text_image']['ndcg10']:.3f} hybrid_ndcg10={t['hybrid']['ndcg10']:.3f}"
        f" bm25_ndcg10={t['bm25']['ndcg10']:.3f} img_p10={r['img_p10_space']:.3f}"
        f" colour_acc={r['colour_acc']:.3f} type_acc={r['type_acc']:.3f}"
    )
