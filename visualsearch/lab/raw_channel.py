"""A raw-tower channel beside the fitted space, measured on design rows only.

The fitted space (projections trained on fashion) ranks photos of kinds it never saw worse
than the frozen tower does (docs/benchmarks.md, "Kinds of product the weights never saw"). This
compares, on cached tower features and a space fitted with ``space_fit --exclude-master``:

- the channel's form: the tower's GeM features, the standardised trunk, each whole or reduced
  by a PCA fitted on the fit rows (seen kinds);
- the photo score: the v5 rule (cosine + β·P(same type) when the type head is confident,
  else the cosine) against blends that add ``w`` × the raw channel's cosine, with one weight
  for photos whose type is known and one for the rest;
- how well "is this photo like the training photos?" separates seen from unseen kinds
  (AUROC) for the type head's confidence, its energy, and the cosine to the nearest training
  photos or k-means centroids of their raw features; and the **domain gate** (what ships,
  ``heads.Domain``): a photo whose centroid score is under a quantile of validation's is
  ranked by the raw channel alone, any other by the v5 rule.

Two sets of queries, neither of them the test split: the **unseen design rows** (training-split
photos of the left-out masterCategories, gallery: themselves) and **seen validation** (the
inner 10% of the training split of the kinds fitted, gallery: all seen training-split photos).

    python -m visualsearch.lab.raw_channel --fit /tmp/fit/unseen --cache var/cache \
        --exclude-master "Personal Care,Accessories"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from visualsearch import offline_model as om
from visualsearch.heads import SpaceHeads
from visualsearch.lab.evaluation import DEFAULT_DATA, load_products, top_k
from visualsearch.lab.space_fit import VERSION, _master_categories, split, tower_features_cached
from visualsearch.vectors import rows_normalise


def pca_basis(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, basis (D, k)) of the top-``k`` principal directions of the rows of ``x``."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean.astype(np.float32), vt[:k].T.astype(np.float32)


def p_at_10(score_rows, queries, gallery, labels) -> float:
    """Mean P@10 of same-label retrieval; ``score_rows(q)`` scores ``gallery`` for query row q."""
    labels = np.asarray(labels)
    hits = []
    for q in queries:
        s = np.where(gallery == q, -np.inf, score_rows(q))
        hits.append((labels[gallery[top_k(s, 10)]] == labels[q]).mean())
    return float(np.mean(hits))


def measure(*, fit_dir: Path, cache: Path, exclude_master: tuple[str, ...], data=DEFAULT_DATA):
    import torch  # noqa: PLC0415
    from safetensors.torch import load_file  # noqa: PLC0415

    products = load_products(Path(data))
    fit, val, _test = split(products)
    masters = _master_categories(Path(data))
    unseen = np.array([masters.get(p.id) in set(exclude_master) for p in products])
    design = np.sort(np.concatenate([fit[unseen[fit]], val[unseen[val]]]))
    fit, val = fit[~unseen[fit]], val[~unseen[val]]
    seen_gallery = np.sort(np.concatenate([fit, val]))
    model, preprocess, tokenizer = om.build_model()
    raw, _ = tower_features_cached(products=products, model=model, preprocess=preprocess,
                                   tokenizer=tokenizer, cache_dir=cache)  # fmt: skip
    om.trainable_load(model, load_file(str(fit_dir / f"{VERSION}.safetensors")))
    heads = SpaceHeads.load(fit_dir / f"{VERSION}.heads.safetensors")
    trunk = model.visual.trunk
    std = trunk.standardise(raw)
    with torch.inference_mode():
        vectors = rows_normalise(model.visual.head(torch.from_numpy(std)).numpy())
    probs = heads.heads["category"].probabilities(vectors)
    known = probs.max(axis=1) >= 0.5
    beta = heads.type_rerank_weight
    types = [p.type for p in products]

    gem = raw[:, :1280]
    channels = {
        "gem": rows_normalise(gem),
        "trunk": rows_normalise(std),
    }
    for k in (128, 256):
        mean, basis = pca_basis(gem[fit], k)
        channels[f"gem_pca{k}"] = rows_normalise((gem - mean) @ basis)
        mean, basis = pca_basis(std[fit], k)
        channels[f"trunk_pca{k}"] = rows_normalise((std - mean) @ basis)

    def scorer(channel, w_known, w_unknown, gallery, *, channel_only=False):
        r = channels[channel] if channel else None

        def score(q):
            if channel_only:
                return r[gallery] @ r[q]
            s = vectors[gallery] @ vectors[q]
            if known[q]:
                s = s + beta * (probs[gallery] @ probs[q])
            w = w_known if known[q] else w_unknown
            if w and r is not None:
                s = s + w * (r[gallery] @ r[q])
            return s

        return score

    out = {
        "design_rows": int(len(design)),
        "seen_val_rows": int(len(val)),
        "design_known_share": float(known[design].mean()),
        "seen_val_known_share": float(known[val].mean()),
        "rows": {},
    }

    def row(name, channel, w_known, w_unknown, **kw):
        out["rows"][name] = {
            "unseen_design_p10": p_at_10(
                scorer(channel, w_known, w_unknown, design, **kw), design, design, types
            ),
            "seen_val_p10": p_at_10(
                scorer(channel, w_known, w_unknown, seen_gallery, **kw), val, seen_gallery, types
            ),
        }
        print(name, json.dumps(out["rows"][name]), flush=True)

    row("v5 rule (type re-rank when the type is confident)", None, 0, 0)
    for channel in channels:
        row(f"{channel} alone", channel, 0, 0, channel_only=True)
    for channel in ("gem", "trunk", "gem_pca256", "trunk_pca256", "trunk_pca128"):
        for w_unknown in (1.0, 2.0, 4.0, 100.0):
            row(f"{channel} w_unknown={w_unknown}", channel, 0, w_unknown)
        for w_known in (0.25, 0.5):
            row(f"{channel} w_known={w_known} w_unknown=2", channel, w_known, 2.0)
    out["domain"] = domain_compare(
        vectors=vectors, probs=probs, logits=heads.heads["category"].logits(vectors),
        raw=channels["gem"], beta=beta, fit=fit, val=val, design=design, types=types,
    )  # fmt: skip
    return out


def domain_compare(*, vectors, probs, logits, raw, beta, fit, val, design, types) -> dict:
    """AUROC of in-domain scores (seen validation vs unseen design rows) and P@10 of the
    domain gate at several validation quantiles, for k-means centroids of the fit rows' raw
    features (as ``heads.domain_fit`` makes them)."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    from visualsearch.heads import domain_fit  # noqa: PLC0415

    rows = np.concatenate([val, design])
    unseen = np.r_[np.zeros(len(val)), np.ones(len(design))]
    known = probs.max(axis=1) >= 0.5
    seen_gallery = np.sort(np.concatenate([fit, val]))
    z = logits - logits.max(axis=1, keepdims=True)
    scores = {
        "type head confidence": probs.max(axis=1),
        "type head energy (logsumexp of logits)": np.log(np.exp(z).sum(axis=1))
        + logits.max(axis=1),
        "mean cosine to the 10 nearest fit photos": np.sort(raw @ raw[fit].T, axis=1)[:, -10:].mean(
            axis=1
        ),
    }
    domains = {}
    for n, top in ((256, 1), (256, 3), (1024, 3)):
        domain, _ = domain_fit(fit_raw=raw[fit], val_raw=raw[val], centroids=n, top_k=top)
        domains[(n, top)] = domain
        scores[f"k-means {n}, mean cosine to the {top} nearest"] = domain.score(raw)
    out = {"auroc": {}, "gate": {}}
    for name, score in scores.items():
        out["auroc"][name] = float(roc_auc_score(unseen, -score[rows]))
        print("AUROC", name, round(out["auroc"][name], 3), flush=True)
    domain_scores = domains[(256, 3)].score(raw)
    for quantile in (0.0, 0.01, 0.02, 0.05, 0.10):
        threshold = float(np.quantile(domain_scores[val], quantile)) if quantile else -np.inf

        def scorer(gallery, threshold=threshold):
            def score(q):
                if domain_scores[q] < threshold:
                    return raw[gallery] @ raw[q]
                s = vectors[gallery] @ vectors[q]
                return s + beta * (probs[gallery] @ probs[q]) if known[q] else s

            return score

        out["gate"][str(quantile)] = result = {
            "unseen_design_p10": p_at_10(scorer(design), design, design, types),
            "seen_val_p10": p_at_10(scorer(seen_gallery), val, seen_gallery, types),
            "unseen_design_raw_share": float((domain_scores[design] < threshold).mean()),
            "seen_val_raw_share": float((domain_scores[val] < threshold).mean()),
        }
        print("domain gate, quantile", quantile, json.dumps(result), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", type=Path, required=True, help="a space_fit --out folder")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--exclude-master", required=True)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    kinds = tuple(k.strip() for k in args.exclude_master.split(",") if k.strip())
    out = measure(fit_dir=args.fit, cache=args.cache, exclude_master=kinds)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
