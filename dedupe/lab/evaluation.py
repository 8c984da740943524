"""Evaluate the duplicate scorer on any DeepMatcher/Magellan folder (pure, no Django).

Train on train.csv, calibrate and pick the threshold on valid.csv, report test.csv. The same
features and procedure for every dataset: no dataset-specific rules. The TF-IDF tables are
fitted on the training split's titles only. MiniLM title embeddings are cached under
var/cache/minilm keyed by the sha256 of the texts, so re-runs are fast.

    python manage.py dedupe_eval --dataset DIR [--also DIR] [--transfer DIR] [--save-model PATH]
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from catalog.currencies import ISO_4217
from catalog.lab import demo
from dedupe import image_copy, scoring, tfidf
from dedupe.comparison import Listing, PairSignals, pair_signals
from dedupe.lab import fitting
from dedupe.lab.image_evidence import evidence_carry
from visualsearch.minilm import minilm_encode

CACHE_DIR = Path(__file__).resolve().parents[2] / "var" / "cache" / "minilm"
# the shared Magellan product-matching sets (abt_buy, walmart_amazon, ...), beside the checkout
MAGELLAN_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "er_magellan_products"


_NUMBER_RE = re.compile(r"\d[\d.,]*")


def parse_price(v: str | None) -> float | None:
    """A price as feeds write it: "1999.0", "$1,299.00", "29.99 USD", "£12", "12,50 €".

    The first number counts; a comma is a thousands separator when groups of three follow it
    ("1,299"), else a decimal comma ("12,50"). No number gives None (no price).
    """
    match = _NUMBER_RE.search(v or "")
    if match is None:
        return None
    text = match.group().rstrip(".,")
    if "," in text and "." in text:
        text = text.replace(",", "")
    elif "," in text:
        text = text.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", text) else (
            text.replace(",", "."))  # fmt: skip
    try:
        return float(text)
    except ValueError:
        return None


# The attribute names each listing field is read from, first match wins (case-insensitive).
# Magellan-format sets name their columns as their shops did.
ROLES = {
    "title": ("title", "name", "product_name", "productname", "product_title"),
    "description": ("description", "desc", "product_description"),
    "brand": ("brand", "manufacturer", "maker", "vendor", "brand_name"),
    "category": ("category", "categories", "product_type"),
    "modelno": ("modelno", "model_no", "model_number", "mpn"),
    "price": ("price",),
}


def columns_resolve(attributes: list[str]) -> dict[str, str | list[str]]:
    """{listing field: attribute} for one file's attributes (its ``left_`` columns).

    Without a known title column, the first attribute whose name ends in "name" or "title"
    is the title, else the first attribute. Attributes no field reads are kept as
    ``"extra"``: their values join the description, so no column's text is dropped.
    """
    lower = {a.lower(): a for a in attributes}
    found: dict[str, str | list[str]] = {}
    for role, names in ROLES.items():
        for name in names:
            if name in lower:
                found[role] = lower[name]
                break
    if "title" not in found and attributes:
        named = [a for a in attributes if a.lower().endswith(("name", "title"))]
        found["title"] = (named or attributes)[0]
    used = set(found.values())
    found["extra"] = [a for a in attributes if a not in used and a.lower() != "id"]
    return found


_SYMBOLS = {"$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR"}
_CODE_RE = re.compile(r"(?<![A-Za-z])[A-Za-z]{3}(?![A-Za-z])")


def price_currency(v: str | None) -> str | None:
    """The currency a price text names ("29.99 USD", "£12"): an ISO 4217 code written as a
    word of its own (the catalog's list), else a currency sign; None when it names none."""
    text = v or ""
    for word in _CODE_RE.findall(text):
        if word.upper() in ISO_4217:
            return word.upper()
    return next((code for symbol, code in _SYMBOLS.items() if symbol in text), None)


def _listing(row: dict, prefix: str, columns: dict) -> Listing:
    g = lambda k: (row.get(prefix + k) or "").strip() or None if k else None  # noqa: E731
    extra = [g(a) for a in columns["extra"]]
    description = " ".join(filter(None, [g(columns.get("description")), *extra])) or None
    return Listing(
        title=g(columns.get("title")),
        description=description,
        brand=g(columns.get("brand")),
        category=g(columns.get("category")),
        modelno=g(columns.get("modelno")),
        price=parse_price(g(columns.get("price"))),
        currency=price_currency(g(columns.get("price"))),
    )


def _pair(row: dict, columns: dict) -> tuple[Listing, Listing]:
    """One labelled pair. A currency named on one side only is taken for the other's too
    ("$29.99" against "29.99"); two different ones make the price "unknown", not compared."""
    a, b = _listing(row, "left_", columns), _listing(row, "right_", columns)
    a.currency = a.currency or b.currency
    b.currency = b.currency or a.currency
    return a, b


def read_pairs(path: Path) -> tuple[list[tuple[Listing, Listing]], list[int]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        attributes = [c[len("left_") :] for c in reader.fieldnames or [] if c.startswith("left_")]
    columns = columns_resolve(attributes)
    return [_pair(r, columns) for r in rows], [int(r["label"]) for r in rows]


def embed_cached(texts: list[str], *, progress: bool = False) -> np.ndarray:
    """MiniLM embeddings for texts, cached on disk by the content hash of the whole list."""
    key = hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:32]
    path = CACHE_DIR / f"{key}.npy"
    if path.exists():
        return np.load(path)

    vecs = minilm_encode(texts, batch_size=64, progress=progress)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def signals_for(
    pairs: list[tuple[Listing, Listing]],
    *,
    progress: bool = False,
    embeddings: bool = True,
    weights: tfidf.TextWeights | None = None,
) -> list[PairSignals]:
    if embeddings:
        titles = sorted({x.title or "" for p in pairs for x in p})
        vecs = embed_cached(titles, progress=progress)
        index = {t: i for i, t in enumerate(titles)}
        for a, b in pairs:
            a.title_vec = vecs[index[a.title or ""]]
            b.title_vec = vecs[index[b.title or ""]]
    it = pairs
    if progress:
        it = tqdm(pairs, desc="signals")
    return [pair_signals(a=a, b=b, weights=weights) for a, b in it]


def weights_fit(pairs: list[tuple[Listing, Listing]], *, source: str) -> tfidf.TextWeights:
    """IDF tables from the titles of (training) pairs; terms seen once are left to `unseen`."""
    titles = [x.title or "" for p in pairs for x in p]
    return tfidf.TextWeights.fit(
        titles, min_df=2, meta={"fitted_on": source, "titles": len(set(titles))}
    )


def prf(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & (y == 1)).sum())
    p = tp / max(pred.sum(), 1)
    r = tp / max((y == 1).sum(), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _read_splits(dataset: Path, *, limit) -> dict:
    data = {}
    for split in ("train", "valid", "test"):
        pairs, labels = read_pairs(dataset / f"{split}.csv")
        if limit:
            pairs, labels = pairs[:limit], labels[:limit]
        data[split] = (pairs, labels)
    return data


def evaluate(
    *,
    dataset: Path,
    also: list[Path] | None = None,
    transfer: list[Path] | None = None,
    progress: bool = False,
    limit: int | None = None,
    embeddings: bool = True,
    cross_encoder: dict | None = None,
    log=print,
) -> dict:
    """Train on train, calibrate + threshold on valid, report test. Returns the numbers.

    ``also``: more folders in the same format whose train and valid pairs join the fit and the
    calibration (one model for several sources); each folder's test split is reported apart.
    ``transfer``: folders whose test split is scored by the same model, which never saw them
    (a check on generalisation to another catalog).
    ``cross_encoder``: when given (keyword arguments of ``cross_encoder.train``), a MiniLM
    cross-encoder is also fine-tuned on the train pairs and reported alone and stacked with the
    feature model (:func:`cross_encoder_evaluate`).
    """
    t0 = time.time()
    raw = {d: _read_splits(d, limit=limit) for d in [dataset, *(also or [])]}
    weights = weights_fit(
        [p for data in raw.values() for p in data["train"][0]],
        source="+".join(f"{d.name}/train" for d in raw),
    )

    def sig(pairs):
        return signals_for(pairs, progress=progress, embeddings=embeddings, weights=weights)

    sets = {d: {split: (sig(p), y) for split, (p, y) in data.items()} for d, data in raw.items()}
    joined = {
        split: (
            [s for data in sets.values() for s in data[split][0]],
            [y for data in sets.values() for y in data[split][1]],
        )
        for split in ("train", "valid")
    }
    t_feat = time.time() - t0
    t1 = time.time()
    best = None
    for c in (0.1, 1.0, 10.0):  # C chosen on valid F1, never on test
        m = fitting.fit(pairs_signals=joined["train"][0], labels=joined["train"][1], c=c)
        m = fitting.calibrate(model=m, pairs_signals=joined["valid"][0], labels=joined["valid"][1])
        pv = m.proba(scoring.feature_matrix(joined["valid"][0]))
        t, f = fitting.best_threshold(probs=pv, labels=np.asarray(joined["valid"][1]))
        log(f"C={c} valid f1={f:.4f} threshold={t:.3f}")
        if best is None or f > best[0]:
            best = (f, c, t, m)
    f_valid, c, thr, model = best
    model.threshold = thr
    model.meta.update({"C": c, "valid_f1": round(f_valid, 4),
                       "trained_on": "+".join(d.name for d in sets)})  # fmt: skip
    t_train = time.time() - t1
    n_train = len(joined["train"][1])
    log(f"features {t_feat:.1f}s ({n_train + len(joined['valid'][1])} train+valid pairs), "
        f"training {t_train:.1f}s; C={c} threshold={thr:.3f}")  # fmt: skip
    per_dataset = {}
    for d, data in sets.items():
        pt = model.proba(scoring.feature_matrix(data["test"][0]))
        per_dataset[d.name] = prf(pt >= thr, np.asarray(data["test"][1]))
        if len(sets) > 1:
            p, r, f = per_dataset[d.name]
            log(f"{d.name} test precision={p:.4f} recall={r:.4f} f1={f:.4f}")
    transferred, transfer_sets = {}, {}
    for d in transfer or []:
        pairs, labels = read_pairs(d / "test.csv")
        transfer_sets[d] = (pairs, sig(pairs), labels)
        pt = model.proba(scoring.feature_matrix(transfer_sets[d][1]))
        transferred[d.name] = prf(pt >= thr, np.asarray(labels))
        p, r, f = transferred[d.name]
        log(f"transfer to {d.name} test precision={p:.4f} recall={r:.4f} f1={f:.4f}")
    p, r, f = per_dataset[dataset.name]
    out = {"model": model, "weights": weights, "precision": p, "recall": r, "f1": f,
           "valid_f1": f_valid, "per_dataset": per_dataset, "transfer": transferred,
           "seconds": {"features": t_feat, "training": t_train}}  # fmt: skip
    if cross_encoder is not None:
        out["cross_encoder"] = cross_encoder_evaluate(
            raw=raw, sets=sets, model=model, transfer_sets=transfer_sets, options=cross_encoder,
            progress=progress, log=log,
        )  # fmt: skip
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def cross_encoder_evaluate(*, raw, sets, model, transfer_sets, options, progress, log) -> dict:
    """Fine-tune the cross-encoder on the joined train pairs (best epoch on valid F1), then
    report test F1 for: the cross-encoder alone (threshold on valid) and stacked, a logistic
    regression over (feature-model logit, cross-encoder logit) fitted on valid with its threshold
    on valid. Test and transfer splits are scored once, with what valid chose."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    from dedupe.lab import cross_encoder as ce_lab  # noqa: PLC0415

    def joined(split):
        return ([p for data in raw.values() for p in data[split][0]],
                [y for data in raw.values() for y in data[split][1]])  # fmt: skip

    (tp, ty), (vp, vy) = joined("train"), joined("valid")
    t0 = time.time()
    ce, history = ce_lab.train(pairs=tp, labels=ty, valid_pairs=vp, valid_labels=vy,
                               progress=progress, log=log, **options)  # fmt: skip
    t_train = time.time() - t0
    vy_a = np.asarray(vy)
    v_ce = ce.logits(vp)
    v_feat = _logit(np.concatenate(
        [model.proba(scoring.feature_matrix(data["valid"][0])) for data in sets.values()]
    ))  # fmt: skip
    ce_thr, ce_f1v = ce_lab.f1_best(v_ce, vy_a)
    stack = LogisticRegression(C=1.0, max_iter=1000).fit(np.c_[v_feat, v_ce], vy_a)
    st_thr, st_f1v = fitting.best_threshold(
        probs=stack.predict_proba(np.c_[v_feat, v_ce])[:, 1], labels=vy_a
    )
    log(f"cross-encoder: trained {t_train:.0f}s (best epoch {ce.meta['best_epoch']}); valid f1 "
        f"alone {ce_f1v:.4f}, stacked {st_f1v:.4f} (weights feature {stack.coef_[0][0]:.3f}, "
        f"cross-encoder {stack.coef_[0][1]:.3f})")  # fmt: skip

    def report(name, pairs, sigs, labels):
        y = np.asarray(labels)
        t1 = time.perf_counter()
        z = ce.logits(pairs, progress=progress)
        rate = len(pairs) / (time.perf_counter() - t1)
        f = _logit(model.proba(scoring.feature_matrix(sigs)))
        alone = prf(z >= ce_thr, y)
        stacked = prf(stack.predict_proba(np.c_[f, z])[:, 1] >= st_thr, y)
        log(f"{name}: cross-encoder alone precision={alone[0]:.4f} recall={alone[1]:.4f} "
            f"f1={alone[2]:.4f}; stacked precision={stacked[0]:.4f} recall={stacked[1]:.4f} "
            f"f1={stacked[2]:.4f} ({rate:.0f} pairs/s)")  # fmt: skip
        return {"alone": alone, "stacked": stacked, "pairs_per_s": rate}

    tests = {d.name: report(f"{d.name} test", raw[d]["test"][0], data["test"][0],
                            data["test"][1]) for d, data in sets.items()}  # fmt: skip
    transfers = {d.name: report(f"transfer to {d.name} test", p, s, y)
                 for d, (p, s, y) in transfer_sets.items()}  # fmt: skip
    return {"valid_f1": {"alone": ce_f1v, "stacked": st_f1v}, "test": tests,
            "transfer": transfers, "history": history, "train_seconds": t_train,
            "stack": {"coef": stack.coef_[0].tolist(), "intercept": float(stack.intercept_[0])}}  # fmt: skip


def scoring_speed(*, dataset: Path, neighbours: int = 10, products: int = 10_000, log=print):
    """Serve-time cost of one pair: signals (fuzzy, TF-IDF, variants) plus the calibrated score,
    on the test pairs of ``dataset`` with the shipped model and tables (title vectors are
    precomputed, as the scan caches them). Reports pairs/s and what a scan of ``products``
    listings with ``neighbours`` candidates each would take on one core of this machine, for
    text-only pairs and for pairs where both listings have one photo (the demo's real photos,
    thumbnails precomputed as the scan caches them: the aligned-pixel signal is computed per
    pair)."""
    pairs, _ = read_pairs(dataset / "test.csv")
    rng = np.random.default_rng(0)
    for a, b in pairs:
        a.title_vec, b.title_vec = rng.standard_normal(384), rng.standard_normal(384)
    out = {}
    photos = sorted((demo.DEMO_DATA / "images").glob("*.jpg"))
    thumbs = []
    for path in photos[:200]:
        with Image.open(path) as image:
            thumbs.append(image_copy.align_thumbnail(image))
    for kind in ("text only", "one photo each"):
        if kind != "text only":
            for i, (a, b) in enumerate(pairs):
                a.image_thumbs = [thumbs[(2 * i) % len(thumbs)]]
                b.image_thumbs = [thumbs[(2 * i + 1) % len(thumbs)]]
        t0 = time.perf_counter()
        with threadpool_limits(limits=1, user_api="blas"):  # as the scan scores pairs
            for a, b in pairs:
                scoring.score(pair_signals(a=a, b=b))
        rate = len(pairs) / (time.perf_counter() - t0)
        scan_min = products * neighbours / rate / 60
        log(
            f"pair scoring ({kind}): {rate:.0f} pairs/s on {len(pairs)} {dataset.name} pairs; "
            f"a {products}-product scan ({neighbours} neighbours each) ~ {scan_min:.1f} min of "
            "pair scoring on one core"
        )
        out[kind] = {"pairs_per_s": rate, "scan_minutes": scan_min}
    return {"pairs_per_s": out["text only"]["pairs_per_s"],
            "scan_minutes": out["text only"]["scan_minutes"], "by_kind": out}  # fmt: skip


def _read_table(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _title(row: dict) -> str:
    return (row.get("title") or row.get("name") or "").strip().lower()


def blocking_recall(*, blocking: Path, k: int = 10, progress: bool = False, log=print) -> dict:
    """Share of true matches of each A record found in its top-k of B.

    Three candidate generators over titles: MiniLM cosine, character 3-5-gram TF-IDF cosine, and
    "fused" = the mean of both cosines (still exactly k per record). Also reported: the union of
    the MiniLM and TF-IDF top-k lists (up to 2k candidates).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415

    a_rows, b_rows = _read_table(blocking / "tableA.csv"), _read_table(blocking / "tableB.csv")
    truth: dict[str, set[str]] = {}
    for m in _read_table(blocking / "matches.csv"):
        truth.setdefault(m["tableA_id"], set()).add(m["tableB_id"])
    a_ids = [r["id"] for r in a_rows]
    b_ids = np.array([r["id"] for r in b_rows])
    a_t, b_t = [_title(r) for r in a_rows], [_title(r) for r in b_rows]
    ea = embed_cached(a_t, progress=progress)
    eb = embed_cached(b_t, progress=progress)
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    vec.fit(a_t + b_t)
    ta, tb = vec.transform(a_t), vec.transform(b_t)
    q = [i for i, aid in enumerate(a_ids) if aid in truth]
    found = {"minilm": 0, "tfidf": 0, "fused": 0, "union": 0}
    total = 0
    for start in range(0, len(q), 256):
        idx = q[start : start + 256]
        s_emb = ea[idx] @ eb.T
        s_tf = (ta[idx] @ tb.T).toarray()
        tops = {
            name: np.argpartition(-s, k, axis=1)[:, :k]
            for name, s in (("minilm", s_emb), ("tfidf", s_tf), ("fused", (s_emb + s_tf) / 2))
        }
        for row, i in enumerate(idx):
            gold = truth[a_ids[i]]
            total += len(gold)
            sets = {n: set(b_ids[t[row]]) for n, t in tops.items()}
            sets["union"] = sets["minilm"] | sets["tfidf"]
            for n, s in sets.items():
                found[n] += len(gold & s)
    rec = {n: v / max(total, 1) for n, v in found.items()}
    log(
        f"blocking {blocking.name} k={k}: "
        + " ".join(f"{n}={v:.4f}" for n, v in rec.items())
        + f" (matches={total})"
    )
    return rec


def run(
    *,
    dataset: Path | None,
    also: list[Path] | None = None,
    transfer: list[Path] | None = None,
    blocking: Path | None = None,
    k: int = 10,
    save_model: Path | None = None,
    speed: Path | None = None,
    cross_encoder: dict | None = None,
    progress: bool = True,
    log=print,
) -> dict:
    """What `manage.py dedupe_eval` calls."""
    out: dict = {}
    if speed:
        out["speed"] = scoring_speed(dataset=speed, log=log)
    if blocking:
        out["blocking"] = blocking_recall(blocking=blocking, k=k, progress=progress, log=log)
    if dataset:
        res = evaluate(dataset=dataset, also=also, transfer=transfer, progress=progress,
                       cross_encoder=cross_encoder, log=log)  # fmt: skip
        out.update(res)
        if save_model:
            save_model = Path(save_model)
            idf_path = save_model.with_name(save_model.stem.replace("model", "idf") + ".json.gz")
            if idf_path == save_model:
                idf_path = save_model.with_suffix(".idf.json.gz")
            model = res["model"]
            if save_model.exists():  # a text refit keeps the photo terms fitted on photos
                previous = json.loads(save_model.read_text()).get("meta", {})
                if "image_evidence" in previous:
                    model = evidence_carry(model=model, previous_meta=previous)
                    log(
                        "kept the photo terms of the previous model (dedupe_train --image-evidence)"
                    )
            model.meta["version"] = time.strftime("%Y-%m-%d") + "-tfidf-variants"
            model.meta["idf_file"] = idf_path.name
            model.meta["made_by"] = (
                "manage.py dedupe_eval --dataset " + str(dataset.name)
                + "".join(f" --also {d.name}" for d in also or []) + " --save-model ..."
            )  # fmt: skip
            res["model"] = model
            scoring.model_save(model=model, path=save_model)
            tfidf.weights_save(weights=res["weights"], path=idf_path)
            log(f"wrote {save_model} and {idf_path}")
        log(f"test precision={res['precision']:.4f} recall={res['recall']:.4f} f1={res['f1']:.4f}")
    return out
