"""Lab: what the calibrated heads can do for attributes and for text search (validation only).

1. Heads on other inputs: a linear head (C chosen on one half of validation, temperature on the
   same half, accuracy and ECE on the other half) over the shipped space's vectors, the raw
   tower features, their concatenations, and a one-hidden-layer MLP.
2. The text attribute term: nDCG@10 of "<colour> <type>", "<type>" and "<colour>" queries
   (gallery: validation plus 1,200 fit photos, as in ``space_fit``) with the fused score
   + γ · Π P(named label), for the term over both facets, over one, and over none; on a
   gallery of validation photos only, and on ``space_fit``'s gallery (validation plus 1,200
   photos the heads were trained on), which overstates what the heads are worth.

    python -m visualsearch.lab.attribute_probe --cache var/cache

Numbers in docs/benchmarks.md ("Re-ranking text by the heads, and a leak in the lab gallery").
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visualsearch import offline_model as om
from visualsearch.fusion import fuse
from visualsearch.heads import (
    SpaceHeads,
    expected_calibration_error,
    head_fit,
    softmax,
    temperature_fit,
)
from visualsearch.lab.evaluation import BM25, DEFAULT_DATA, colour_type_queries, top_k
from visualsearch.lab.space_fit import (
    VERSION,
    WEIGHTS_DIR,
    _ndcg,
    load_products,
    split,
    tower_features_cached,
)
from visualsearch.vectors import rows_normalise


def _labels(values, rows):
    counts = Counter(values[i] for i in rows if values[i])
    labels = sorted(label for label, n in counts.items() if n >= 2)
    return labels, {label: j for j, label in enumerate(labels)}


def _acc_ece(probs, targets):
    known = targets >= 0
    p = probs[known]
    return float((p.argmax(1) == targets[known]).mean()), expected_calibration_error(
        p, targets[known]
    )


def heads_by_input(*, inputs: dict[str, np.ndarray], values, fit, val) -> list[dict]:
    calib, check = val[::2], val[1::2]
    rows = []
    for facet, lab in values.items():
        labels, index = _labels(lab, fit)
        targets = [np.array([index.get(lab[i], -1) if lab[i] else -1 for i in r])
                   for r in (calib, check)]  # fmt: skip
        for name, x in inputs.items():
            best = None
            for c in (0.3, 1.0, 3.0, 10.0):
                started = time.monotonic()
                head = head_fit(vectors=x[fit], values=[lab[i] for i in fit],
                                calib_vectors=x[calib], calib_values=[lab[i] for i in calib],
                                c=c)  # fmt: skip
                # head.labels == labels: head_fit keeps the labels seen twice, as _labels does
                calib_acc, _ = _acc_ece(head.probabilities(x[calib]), targets[0])
                if best is None or calib_acc > best["calib_acc"]:
                    acc, ece = _acc_ece(head.probabilities(x[check]), targets[1])
                    best = {"facet": facet, "input": name, "C": c, "calib_acc": calib_acc,
                            "check_acc": acc, "check_ece": ece,
                            "seconds": time.monotonic() - started}  # fmt: skip
            rows.append(best)
            print(best, flush=True)
        rows.append(_mlp(x=inputs["space + standardised trunk"], lab=lab, facet=facet,
                         fit=fit, calib=calib, check=check))  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def _mlp(*, x, lab, facet, fit, calib, check) -> dict:
    from sklearn.neural_network import MLPClassifier  # noqa: PLC0415

    labels, index = _labels(lab, fit)
    rows = np.array([i for i in fit if lab[i] in index])
    model = MLPClassifier(hidden_layer_sizes=(512,), alpha=1e-2, early_stopping=True,
                          max_iter=200, random_state=0)  # fmt: skip
    model.fit(x[rows], [index[lab[i]] for i in rows])

    def logits(r):
        p = np.full((len(r), len(labels)), 1e-9)
        p[:, model.classes_] = model.predict_proba(x[r])
        return np.log(p)

    def targets(r):
        return np.array([index.get(lab[i], -1) if lab[i] else -1 for i in r])

    t = temperature_fit(logits(calib), targets(calib))
    acc, ece = _acc_ece(softmax(logits(check) / t), targets(check))
    calib_acc, _ = _acc_ece(softmax(logits(calib) / t), targets(calib))
    return {"facet": facet, "input": "MLP 512 on space + standardised trunk",
            "calib_acc": calib_acc, "check_acc": acc, "check_ece": ece}  # fmt: skip


def _named(text: str, labels: list[str]) -> str | None:
    """The label ``text`` names as whole words, longest first; a label's plural "s" optional."""
    words = " " + " ".join(re.findall(r"[a-z]+", text.lower())) + " "
    for label in sorted(labels, key=len, reverse=True):
        norm = " ".join(re.findall(r"[a-z]+", label.lower()))
        forms = {norm, norm[:-1]} if norm.endswith("s") and len(norm) > 3 else {norm}
        if norm and any(f" {form} " in words for form in forms):
            return label
    return None


def text_term(
    *, products, vectors, title_vectors, encode_texts, heads, fit, val, with_fit: bool, seed=0
):
    """nDCG@10 per query family and term; the gallery is validation only, or (``with_fit``)
    validation plus 1,200 fit photos as ``space_fit`` uses, whose heads were trained on them."""
    rng = np.random.default_rng(seed)
    gallery = (
        np.sort(np.concatenate([val, rng.choice(fit, 1200, replace=False)]))
        if with_fit
        else np.sort(val)
    )
    items = [products[i] for i in gallery]
    bm25 = BM25([p.title for p in items])
    colour, kind = heads.heads["colour"], heads.heads["category"]
    p_colour, p_kind = colour.probabilities(vectors[gallery]), kind.probabilities(vectors[gallery])
    val_items = [products[i] for i in val]
    families = {
        "<colour> <type>": [(t, lambda p, c=c, ty=ty: (p.colour, p.type) == (c, ty))
                            for t, c, ty in colour_type_queries(val_items)],
        "<type>": [(t, lambda p, t=t: p.type == t) for t in sorted({p.type for p in val_items})],
        "<colour>": [(c, lambda p, c=c: p.colour == c)
                     for c in sorted({p.colour for p in val_items if p.colour})],
    }  # fmt: skip
    out = {}
    for family, queries in families.items():
        texts = [t for t, _ in queries]
        relevant = [{j for j, p in enumerate(items) if is_rel(p)} for _, is_rel in queries]
        q = encode_texts([t.lower() for t in texts])
        base = fuse(image_sim=q @ vectors[gallery].T, title_sim=q @ title_vectors[gallery].T,
                    keyword=np.stack([bm25.scores(t) for t in texts]))  # fmt: skip
        terms = {"P(type)·P(colour)": np.ones_like(base), "P(type)": np.zeros_like(base),
                 "P(colour)": np.zeros_like(base)}  # fmt: skip
        for i, text in enumerate(texts):
            c, ty = _named(text, colour.labels), _named(text, kind.labels)
            pc = p_colour[:, colour.labels.index(c)] if c else None
            pt = p_kind[:, kind.labels.index(ty)] if ty else None
            terms["P(type)·P(colour)"][i] = (pc if pc is not None else 1) * (
                pt if pt is not None else 1
            )
            terms["P(type)"][i] = pt if pt is not None else 0
            terms["P(colour)"][i] = pc if pc is not None else 0
        rows = {"fused (no term)": _ndcg([top_k(r) for r in base], relevant),
                "BM25": _ndcg([top_k(bm25.scores(t)) for t in texts], relevant)}  # fmt: skip
        for name, term in terms.items():
            for g in (0.25, 0.5, 1.0):
                rows[f"+ {g} · {name}"] = _ndcg([top_k(r) for r in base + g * term], relevant)
        out[family] = {"queries": len(texts), **rows}
        print(family, out[family], flush=True)
    return out


@dataclass
class ShippedSpace:
    """The fashion set with its split, and the shipped space applied to every photo and title."""

    products: list
    fit: np.ndarray
    val: np.ndarray
    model: object  # the offline open_clip model, shipped weights loaded
    tokenizer: object
    raw_img: np.ndarray  # the frozen towers' features
    raw_txt: np.ndarray
    standardised: np.ndarray  # raw_img standardised as the shipped trunk does
    space: np.ndarray  # every photo's normalised space vector
    titles: np.ndarray  # every title's normalised space vector


def shipped_space_load(*, data: Path, cache: Path | None) -> ShippedSpace:
    """Load the set, the towers' (cached) features and the shipped weights; project everything."""
    import torch  # noqa: PLC0415
    from safetensors.torch import load_file  # noqa: PLC0415

    torch.set_num_threads(2)
    products = load_products(data)
    fit, val, _ = split(products)
    model, preprocess, tokenizer = om.build_model()
    raw_img, raw_txt = tower_features_cached(products=products, model=model,
                                             preprocess=preprocess, tokenizer=tokenizer,
                                             cache_dir=cache)  # fmt: skip
    om.trainable_load(model, load_file(str(WEIGHTS_DIR / f"{VERSION}.safetensors")))
    std = model.visual.trunk.standardise(raw_img)
    with torch.inference_mode():
        space = rows_normalise(model.visual.head(torch.from_numpy(std)).numpy())
        titles = rows_normalise(model.text.proj(torch.from_numpy(raw_txt)).numpy())
    return ShippedSpace(products=products, fit=fit, val=val, model=model, tokenizer=tokenizer,
                        raw_img=raw_img, raw_txt=raw_txt, standardised=std, space=space,
                        titles=titles)  # fmt: skip


def shipped_space_from_args(description: str) -> ShippedSpace:
    """``--cache`` / ``--data`` from the command line, then `shipped_space_load`: the opening of
    the lab commands that read the shipped space."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    return shipped_space_load(data=args.data, cache=args.cache)


def facet_values(products) -> dict[str, list[str | None]]:
    """Each photo's item type and colour, lower-cased (None: unknown), as the heads are fitted."""
    return {
        "category": [(p.type or "").lower() or None for p in products],
        "colour": [(p.colour or "").lower() or None for p in products],
    }


def main() -> None:
    import torch  # noqa: PLC0415

    shipped = shipped_space_from_args(__doc__.splitlines()[0])
    products, fit, val = shipped.products, shipped.fit, shipped.val
    model, tokenizer, raw_img = shipped.model, shipped.tokenizer, shipped.raw_img
    space, titles, std = shipped.space, shipped.titles, shipped.standardised
    heads = SpaceHeads.load(WEIGHTS_DIR / f"{VERSION}.heads.safetensors")
    trunk = model.visual.trunk
    r = trunk.raw_channel_dim
    scaled = std / np.sqrt(std.shape[1])
    inputs = {
        "space (shipped)": space,
        "raw GeM (the stored raw_vector)": rows_normalise(raw_img[:, :r]),
        "space + raw GeM": np.hstack([space, rows_normalise(raw_img[:, :r])]),
        "standardised trunk (1424)": scaled,
        "space + standardised trunk": np.hstack([space, scaled]),
    }
    values = facet_values(products)
    heads_by_input(inputs=inputs, values=values, fit=fit, val=val)

    def encode_texts(texts):
        feats = om.text_features(model=model, tokenizer=tokenizer, texts=texts)
        with torch.inference_mode():
            return rows_normalise(model.text.proj(torch.from_numpy(feats)).numpy())

    for with_fit in (False, True):
        print("gallery:", "validation + 1,200 fit photos" if with_fit else "validation only")
        text_term(products=products, vectors=space, title_vectors=titles,
                  encode_texts=encode_texts, heads=heads, fit=fit, val=val,
                  with_fit=with_fit)  # fmt: skip


if __name__ == "__main__":
    main()
