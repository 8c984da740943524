"""Calibrated attribute heads and relevance calibration for an embedding space. Pure: no ORM.

A space may ship, next to its checkpoint, a ``heads.safetensors`` file holding:

- **supervised heads** for the high-traffic facets (colour, item type): a linear softmax over the
  space's normalised image vector, fitted on catalog labels, with a temperature fitted on a
  separate validation split (temperature scaling, Guo et al. 2017), then the top label's
  confidence put through a monotone map fitted on the same split (isotonic regression of
  "the top label is right" on that confidence, Zadrozny & Elkan 2002), so a confidence of 0.8
  is right about 80% of the time;
- **zero-shot temperatures** for the long-tail facets (style, season, pattern, ...), whose
  labels are scored with the text tower's prompts, calibrated the same way where labels exist;
- **relevance calibration**: per search mode, the logistic map from a result's score to the
  probability that it is relevant, and the floor under which a result is not a match;
- the **type re-rank weight**: photo queries add ``weight · P(same item type)`` to the cosine;
- the **training domain** (:class:`Domain`): centroids of the frozen tower's features over the
  training photos. A photo far from all of them is of a kind the projections never saw, and
  search ranks it by the tower's own features (the raw channel) instead of the fitted space,
  which ranks such photos worse than the tower does (docs/benchmarks.md).

Everything here is numbers in, numbers out; :mod:`visualsearch.attributes` and
:mod:`visualsearch.search` use it, and training (:mod:`visualsearch.training` and the lab fit)
writes it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HEADS_FILE = "heads.safetensors"
FORMAT_VERSION = 1


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(x) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def temperature_fit(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T).

    Rows whose target is -1 (unknown) are ignored; with no labelled row, T = 1.
    """
    from scipy.optimize import minimize_scalar  # noqa: PLC0415

    logits, targets = np.asarray(logits, dtype=np.float64), np.asarray(targets)
    known = targets >= 0
    if not known.any():
        return 1.0
    z, y = logits[known], targets[known]

    def nll(t: float) -> float:
        p = softmax(z / t)[np.arange(len(y)), y]
        return float(-np.log(p + 1e-12).mean())

    return float(minimize_scalar(nll, bounds=(0.02, 50.0), method="bounded").x)


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, *, bins: int = 10) -> float:
    """ECE of the top-1 confidence: Σ_bins (share of rows) · |accuracy − mean confidence|."""
    probs, targets = np.asarray(probs), np.asarray(targets)
    if len(probs) == 0:
        return 0.0
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == targets
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            total += rows.mean() * abs(correct[rows].mean() - confidence[rows].mean())
    return float(total)


MIN_MAP_ROWS = 100  # fewer labelled calibration rows: no confidence map (temperature only)


@dataclass
class ConfidenceMap:
    """A monotone non-decreasing map [0, 1] → [0, 1] of a top-1 confidence, as knots: linear
    between them, flat beyond the ends (isotonic regression's prediction, clipped)."""

    x: np.ndarray  # ascending
    y: np.ndarray  # non-decreasing, within [0, 1]

    def __call__(self, confidence) -> np.ndarray:
        return np.interp(np.asarray(confidence, dtype=np.float64), self.x, self.y)


def confidence_map_fit(
    confidence: np.ndarray, correct: np.ndarray, *, min_rows: int = MIN_MAP_ROWS
) -> ConfidenceMap | None:
    """Isotonic regression of ``correct`` (the top label was right) on ``confidence``; None
    with fewer than ``min_rows`` rows or a single outcome, where a step fit would be noise."""
    from sklearn.isotonic import IsotonicRegression  # noqa: PLC0415

    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if len(confidence) < min_rows or correct.min() == correct.max():
        return None
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(confidence, correct)
    # never 0: the top label keeps a confidence above every other (see top_calibrated)
    x, y = np.asarray(iso.X_thresholds_), np.clip(np.asarray(iso.y_thresholds_), 1e-6, 1.0)
    return ConfidenceMap(x=x, y=np.maximum.accumulate(y))


def top_calibrated(probs: np.ndarray, mapping: ConfidenceMap | None) -> np.ndarray:
    """``probs`` (rows sum to 1) with each row's top confidence put through ``mapping``; the
    other labels share the rest in their old proportions, none above the top one (so the
    ranking of labels never changes; a row whose others were capped sums to less than 1)."""
    probs = np.asarray(probs, dtype=np.float64)
    if mapping is None or probs.size == 0:
        return probs
    rows = np.arange(len(probs))
    best = probs.argmax(axis=1)
    p1 = probs[rows, best]
    g = mapping(p1)
    others = probs.copy()
    others[rows, best] = 0.0
    left = others.sum(axis=1)  # not 1 - p1: that cancels to noise when p1 is near 1
    scale = np.divide(1.0 - g, left, out=np.zeros_like(left), where=left > 0)
    out = np.minimum(others * scale[:, None], np.maximum(g - 1e-9, 0.0)[:, None])
    out[rows, best] = g
    return out


@dataclass
class Head:
    """A calibrated linear softmax head over normalised image vectors."""

    labels: list[str]
    weight: np.ndarray  # (n_labels, dim)
    bias: np.ndarray  # (n_labels,)
    temperature: float = 1.0
    confidence_map: ConfidenceMap | None = None  # the top label's calibration after T
    # title evidence: the logit added to each label a product's title names, and the top
    # label's calibration for those rows (0 / None: the head reads the photo only)
    title_weight: float = 0.0
    title_map: ConfidenceMap | None = None

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        return np.asarray(vectors, dtype=np.float64) @ self.weight.T + self.bias

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Temperature-scaled softmax: what search's re-rank terms multiply and sum."""
        return softmax(self.logits(vectors) / self.temperature)

    def probabilities_titled(self, vectors: np.ndarray, named: np.ndarray) -> np.ndarray:
        """softmax(logits / T + title_weight · named): ``named`` (n, labels) of 0/1 marks the
        labels each row's title names (:func:`visualsearch.attributes.labels_named_matrix`)."""
        z = self.logits(vectors) / self.temperature
        return softmax(z + self.title_weight * np.asarray(named, dtype=np.float64))

    def confidences(self, vectors: np.ndarray, named: np.ndarray | None = None) -> np.ndarray:
        """What a shopper is shown and the attribute floor reads: the probabilities with the
        top label's confidence calibrated by the map (see :func:`top_calibrated`). With
        ``named`` and title evidence, a row whose title names a label is scored photo and
        title together and calibrated by the title map; every other row by the photo alone."""
        out = top_calibrated(self.probabilities(vectors), self.confidence_map)
        if named is None or self.title_weight <= 0:
            return out
        named = np.asarray(named, dtype=np.float64)
        titled = named.any(axis=1)
        if titled.any():
            vectors = np.asarray(vectors)
            fused = self.probabilities_titled(vectors[titled], named[titled])
            out[titled] = top_calibrated(fused, self.title_map)
        return out


MIN_TITLE_ROWS = 100  # fewer calibration rows whose title names a label: no title evidence


def title_evidence_fit(
    head: Head, *, vectors: np.ndarray, named: np.ndarray, targets: np.ndarray,
    min_rows: int = MIN_TITLE_ROWS,
) -> dict:  # fmt: skip
    """Fit ``head``'s title evidence on calibration rows: the weight minimising the negative
    log-likelihood of softmax(logits / T + w · named) over rows whose title names a label and
    whose target is known, then the top label's confidence map on those rows (isotonic, as
    :func:`head_fit`). Too few such rows: the head keeps reading the photo only. Returns what
    it fitted."""
    from scipy.optimize import minimize_scalar  # noqa: PLC0415

    named, targets = np.asarray(named, dtype=np.float64), np.asarray(targets)
    rows = (targets >= 0) & named.any(axis=1)
    head.title_weight, head.title_map = 0.0, None
    if rows.sum() < min_rows:
        return {"rows": int(rows.sum()), "weight": 0.0, "skipped": f"fewer than {min_rows} rows"}
    z = head.logits(np.asarray(vectors)[rows]) / head.temperature
    m, y = named[rows], targets[rows]

    def nll(w: float) -> float:
        p = softmax(z + w * m)[np.arange(len(y)), y]
        return float(-np.log(p + 1e-12).mean())

    head.title_weight = float(minimize_scalar(nll, bounds=(0.0, 30.0), method="bounded").x)
    probs = head.probabilities_titled(np.asarray(vectors)[rows], m)
    head.title_map = confidence_map_fit(probs.max(axis=1), probs.argmax(axis=1) == y)
    return {
        "rows": int(rows.sum()),
        "weight": head.title_weight,
        "map_knots": len(head.title_map.x) if head.title_map is not None else 0,
    }


def title_evidence_check(
    head: Head, *, vectors: np.ndarray, named: np.ndarray, targets: np.ndarray
) -> dict:
    """Accuracy and ECE of ``head`` on check rows with a known target: photo only, and with
    the titles (what is stored), over all of them and over those whose title names a label."""
    named, targets = np.asarray(named, dtype=np.float64), np.asarray(targets)
    known = targets >= 0
    vectors, named, targets = np.asarray(vectors)[known], named[known], targets[known]
    titled = named.any(axis=1)
    out: dict = {"rows": int(known.sum()), "titled_rows": int(titled.sum())}
    for name, probs in (
        ("photo", head.confidences(vectors)),
        ("photo_and_title", head.confidences(vectors, named)),
    ):
        for part, rows in (("all", np.ones(len(targets), bool)), ("titled", titled)):
            if rows.any():
                out[f"{name}_{part}_accuracy"] = float(
                    (probs[rows].argmax(1) == targets[rows]).mean()
                )
                out[f"{name}_{part}_ece"] = expected_calibration_error(probs[rows], targets[rows])
    return out


def head_fit(
    *,
    vectors: np.ndarray,
    values: list[str | None],
    calib_vectors: np.ndarray,
    calib_values: list[str | None],
    c: float = 1.0,
    min_per_label: int = 2,
) -> Head | None:
    """Fit a multinomial logistic regression on (vectors, values), then its temperature and its
    top-1 confidence map on the calibration rows. Labels seen fewer than ``min_per_label``
    times are dropped; None when fewer than two labels remain."""

    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    counts = Counter(v for v in values if v)
    labels = sorted(label for label, n in counts.items() if n >= min_per_label)
    if len(labels) < 2:
        return None
    index = {label: i for i, label in enumerate(labels)}
    rows = [i for i, v in enumerate(values) if v in index]
    model = LogisticRegression(max_iter=1000, C=c)
    model.fit(np.asarray(vectors)[rows], [index[values[i]] for i in rows])
    weight = np.zeros((len(labels), np.asarray(vectors).shape[1]))
    bias = np.full(len(labels), -1e3)  # a label the fit never saw cannot win
    if len(model.classes_) == 2:  # binary: one row of logits for the second class, 0 for the first
        weight[model.classes_[1]], bias[model.classes_[1]] = model.coef_[0], model.intercept_[0]
        bias[model.classes_[0]] = 0.0
    else:
        for row, cls in enumerate(model.classes_):
            weight[cls], bias[cls] = model.coef_[row], model.intercept_[row]
    head = Head(labels=labels, weight=weight, bias=bias)
    targets = np.array([index.get(v, -1) if v else -1 for v in calib_values])
    head.temperature = temperature_fit(head.logits(calib_vectors), targets)
    known = targets >= 0
    if known.any():
        probs = head.probabilities(np.asarray(calib_vectors)[known])
        head.confidence_map = confidence_map_fit(
            probs.max(axis=1), probs.argmax(axis=1) == targets[known]
        )
    return head


@dataclass
class Relevance:
    """P(relevant | score) = sigmoid(slope · score + intercept); a result is a match when that
    probability reaches ``floor``."""

    slope: float
    intercept: float
    floor: float

    def probability(self, scores) -> np.ndarray:
        return sigmoid(self.slope * np.asarray(scores, dtype=np.float64) + self.intercept)


def relevance_fit(*, scores: np.ndarray, relevant: np.ndarray, floor: float = 0.5) -> Relevance:
    """Logistic calibration (Platt scaling) of scores against binary relevance labels."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    x = np.asarray(scores, dtype=np.float64).reshape(-1, 1)
    y = np.asarray(relevant).astype(int)
    if y.min() == y.max():
        raise ValueError("relevance calibration needs both relevant and irrelevant examples")
    model = LogisticRegression(C=100.0).fit(x, y)
    return Relevance(float(model.coef_[0, 0]), float(model.intercept_[0]), float(floor))


@dataclass
class Domain:
    """Where the fitted space was trained, in the frozen image tower's features ("raw channel").

    ``score`` is the mean cosine of a photo's normalised raw features to its ``top_k`` nearest
    ``centroids`` (k-means over the training photos); a photo scoring under ``threshold`` is
    out of the domain. The threshold is a low quantile of validation photos' scores, so that
    share of in-domain photos falls back to the raw channel (``domain_fit``)."""

    centroids: np.ndarray  # (n, raw dim), rows L2-normalised
    top_k: int
    threshold: float

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[1])

    def score(self, raw: np.ndarray) -> np.ndarray:
        raw = np.atleast_2d(np.asarray(raw, dtype=np.float32))
        raw = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        sims = raw @ self.centroids.T
        k = min(self.top_k, sims.shape[1])
        return np.sort(sims, axis=1)[:, -k:].mean(axis=1)

    def contains(self, raw: np.ndarray) -> np.ndarray:
        """Per row of ``raw``: whether the photo is within the training domain."""
        return self.score(raw) >= self.threshold


def domain_fit(
    *,
    fit_raw: np.ndarray,
    val_raw: np.ndarray,
    centroids: int = 256,
    top_k: int = 3,
    quantile: float = 0.02,
    seed: int = 0,
) -> tuple[Domain, dict]:
    """k-means ``centroids`` over the training photos' raw features; the threshold is the
    ``quantile`` of the validation photos' scores. Chosen on design rows (lab ``raw_channel``):
    256 centroids, top 3, 2%."""
    from sklearn.cluster import KMeans  # noqa: PLC0415

    fit_raw = np.asarray(fit_raw, dtype=np.float32)
    fit_raw = fit_raw / np.maximum(np.linalg.norm(fit_raw, axis=1, keepdims=True), 1e-12)
    n = max(1, min(int(centroids), len(fit_raw)))
    km = KMeans(n, n_init=1, random_state=seed).fit(fit_raw)
    centres = km.cluster_centers_.astype(np.float32)
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    centres = centres.astype(np.float16).astype(np.float32)  # as saved, so the threshold holds
    domain = Domain(centroids=centres, top_k=int(top_k), threshold=0.0)
    val_scores = domain.score(val_raw)
    domain.threshold = float(np.quantile(val_scores, quantile))
    return domain, {
        "centroids": n,
        "top_k": int(top_k),
        "quantile": float(quantile),
        "threshold": domain.threshold,
        "val_photos": len(val_scores),
    }


@dataclass
class SpaceHeads:
    """Everything calibrated for one space (see the module docstring)."""

    heads: dict[str, Head] = field(default_factory=dict)  # taxonomy facet → head
    zero_shot_temperature: dict[str, float] = field(default_factory=dict)  # facet → T
    # by search mode: "vector", "raw", "hybrid"; "subject", "subject_raw" (shopper photos)
    relevance: dict[str, Relevance] = field(default_factory=dict)
    type_rerank_weight: float = 0.0
    # photo + "in <colour>": score = text · cos("<colour> <the photo's predicted type>")
    #   + photo · (cosine + type re-rank) + colour · P(that colour); chosen on validation
    modifier: dict[str, float] = field(
        default_factory=lambda: {"text": 0.0, "photo": 1.0, "colour": 0.0}
    )
    info: dict = field(default_factory=dict)  # version, how it was made, validation numbers
    domain: Domain | None = None  # the training domain in the raw channel (None: no channel)

    def photo_scores(
        self,
        cosines: np.ndarray,
        query_types: np.ndarray | None,
        candidate_types: np.ndarray | None,
        weight: float | None = None,
    ) -> np.ndarray:
        """The photo score that photo relevance ("vector", "subject") is calibrated on and
        photo search ranks by: cosine + ``type_rerank_weight`` · P(same item type), where
        P(same item type) = each candidate's type distribution · the query's. ``cosines``:
        (candidates,) for one query or (queries, candidates); ``query_types``: (types,) or
        (queries, types); ``candidate_types``: (candidates, types). Without a type head (types
        None) the cosines. ``weight`` replaces the re-rank weight (its fit tries a grid). Pure:
        the fit (:func:`space_heads_fit`), the subject fit and search share it."""
        if query_types is None or candidate_types is None:
            return cosines
        weight = self.type_rerank_weight if weight is None else weight
        return cosines + weight * (np.asarray(query_types) @ np.asarray(candidate_types).T)

    def save(self, path: Path) -> Path:
        from safetensors.numpy import save_file  # noqa: PLC0415

        tensors = {}
        for facet, head in self.heads.items():
            tensors[f"{facet}.weight"] = np.ascontiguousarray(head.weight, dtype=np.float32)
            tensors[f"{facet}.bias"] = np.ascontiguousarray(head.bias, dtype=np.float32)
            if head.confidence_map is not None:
                for axis in ("x", "y"):
                    tensors[f"{facet}.confidence_{axis}"] = np.ascontiguousarray(
                        getattr(head.confidence_map, axis), dtype=np.float64
                    )
            if head.title_map is not None:
                for axis in ("x", "y"):
                    tensors[f"{facet}.title_confidence_{axis}"] = np.ascontiguousarray(
                        getattr(head.title_map, axis), dtype=np.float64
                    )
        if self.domain is not None:
            tensors["domain.centroids"] = np.ascontiguousarray(
                self.domain.centroids, dtype=np.float16
            )
        meta = {
            "format": FORMAT_VERSION,
            "labels": {facet: head.labels for facet, head in self.heads.items()},
            "temperature": {facet: head.temperature for facet, head in self.heads.items()},
            "title_weight": {facet: head.title_weight for facet, head in self.heads.items()},
            "zero_shot_temperature": self.zero_shot_temperature,
            "relevance": {m: vars(r) for m, r in self.relevance.items()},
            "type_rerank_weight": self.type_rerank_weight,
            "modifier": self.modifier,
            "info": self.info,
            "domain": {"top_k": self.domain.top_k, "threshold": self.domain.threshold}
            if self.domain is not None
            else None,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata={"heads": json.dumps(meta)})
        return path

    @classmethod
    def load(cls, path: Path) -> SpaceHeads:
        from safetensors import safe_open  # noqa: PLC0415

        with safe_open(str(path), framework="numpy") as handle:
            meta = json.loads(handle.metadata()["heads"])
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        heads = {
            facet: Head(
                labels=list(labels),
                weight=tensors[f"{facet}.weight"].astype(np.float64),
                bias=tensors[f"{facet}.bias"].astype(np.float64),
                temperature=float(meta["temperature"][facet]),
                confidence_map=ConfidenceMap(
                    x=tensors[f"{facet}.confidence_x"].astype(np.float64),
                    y=tensors[f"{facet}.confidence_y"].astype(np.float64),
                )
                if f"{facet}.confidence_x" in tensors
                else None,  # files before the map: temperature only
                title_weight=float(meta.get("title_weight", {}).get(facet, 0.0)),
                title_map=ConfidenceMap(
                    x=tensors[f"{facet}.title_confidence_x"].astype(np.float64),
                    y=tensors[f"{facet}.title_confidence_y"].astype(np.float64),
                )
                if f"{facet}.title_confidence_x" in tensors
                else None,  # files before title evidence: the photo only
            )
            for facet, labels in meta["labels"].items()
        }
        return cls(
            heads=heads,
            zero_shot_temperature={k: float(v) for k, v in meta["zero_shot_temperature"].items()},
            relevance={m: Relevance(**r) for m, r in meta.get("relevance", {}).items()},
            type_rerank_weight=float(meta.get("type_rerank_weight", 0.0)),
            modifier={k: float(v) for k, v in meta.get("modifier", {}).items()}
            or {"text": 0.0, "photo": 1.0, "colour": 0.0},
            info=meta.get("info", {}),
            domain=Domain(
                centroids=tensors["domain.centroids"].astype(np.float32),
                top_k=int(meta["domain"]["top_k"]),
                threshold=float(meta["domain"]["threshold"]),
            )
            if meta.get("domain")
            else None,
        )

    def same_type_probability(self, query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """P(candidate has the query's item type) = Σ_label p_query(label) · p_candidate(label)."""
        head = self.heads.get("category")
        if head is None or len(candidates) == 0:
            return np.zeros(len(candidates))
        return (
            head.probabilities(np.atleast_2d(candidates))
            @ head.probabilities(np.atleast_2d(query))[0]
        )


_cache: dict[tuple[str, float], SpaceHeads] = {}
_lock = threading.Lock()


def heads_path(pretrained: str) -> Path | None:
    """Where a checkpoint's heads live (``heads.safetensors`` beside it), if they exist."""
    if not pretrained:
        return None
    path = Path(pretrained).with_name(HEADS_FILE)
    return path if path.is_file() else None


def heads_load(pretrained: str) -> SpaceHeads | None:
    """The calibrated heads beside checkpoint ``pretrained`` (cached per file), or None."""
    path = heads_path(pretrained)
    if path is None:
        return None
    key = (str(path), path.stat().st_mtime)
    with _lock:
        if key not in _cache:
            _cache[key] = SpaceHeads.load(path)
        return _cache[key]


def top_excluding(row: np.ndarray, skip: int, k: int) -> np.ndarray:
    """The indices of the k highest values of ``row``, index ``skip`` (the query) left out."""
    order = np.argsort(-row, kind="stable")
    return order[order != skip][:k]


def _p_at_10(scores: np.ndarray, labels: np.ndarray, query_rows: np.ndarray) -> np.ndarray:
    """Per query row: the share of its top 10 (itself excluded) that has its label."""
    out = []
    for q, row in zip(query_rows, scores, strict=True):
        top = top_excluding(row, q, 10)
        out.append((labels[top] == labels[q]).mean())
    return np.asarray(out)


def head_title_evidence(
    head: Head, *, vectors: np.ndarray, values: list[str | None], titles: list[str | None],
    calib_rows: np.ndarray, check_rows: np.ndarray,
) -> dict:  # fmt: skip
    """Fit ``head``'s title evidence on ``calib_rows`` and check it on ``check_rows`` (rows of
    ``vectors`` / ``values`` / ``titles``; values are labels, None = unknown). Returns the fit
    and the check (:func:`title_evidence_fit`, :func:`title_evidence_check`)."""
    from visualsearch.attributes import labels_named_matrix  # noqa: PLC0415

    index = {label: j for j, label in enumerate(head.labels)}
    lab = [(v or "").strip().lower() or None for v in values]

    def part(rows):
        rows = np.asarray(rows, dtype=int)
        targets = np.array([index.get(lab[i], -1) if lab[i] else -1 for i in rows], dtype=int)
        named = labels_named_matrix([titles[i] for i in rows], head.labels)
        return np.asarray(vectors)[rows], named, targets

    c_vec, c_named, c_targets = part(calib_rows)
    fitted = title_evidence_fit(head, vectors=c_vec, named=c_named, targets=c_targets)
    k_vec, k_named, k_targets = part(check_rows)
    return {"fit": fitted,
            "check": title_evidence_check(head, vectors=k_vec, named=k_named, targets=k_targets)}  # fmt: skip


def space_heads_fit(
    *,
    vectors: np.ndarray,
    values: dict[str, list[str | None]],
    fit_rows: np.ndarray,
    val_rows: np.ndarray,
    titles: list[str | None] | None = None,
    title_facets: tuple[str, ...] = ("category", "colour"),
    rerank_grid: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0),
    floor_cost: float = 0.005,
    raw: np.ndarray | None = None,
    min_val_gallery: int = 200,
) -> tuple[SpaceHeads, dict]:
    """Fit a space's supervised heads and its photo-search calibration; returns it and a report.

    ``values[facet][row]`` is the label of image ``row`` (None = unknown), for facets
    "category" and "colour". Heads are fitted on ``fit_rows`` and temperature-scaled on every
    other validation row; accuracy and ECE are reported on the rest. The type re-rank weight is
    the smallest grid value within 0.005 of the best validation P@10 by category (gallery: the
    validation rows when there are ``min_val_gallery`` of them, else all rows), the photo
    relevance is calibrated on the validation queries' top 50, and the photo floor is the highest
    whose validation P@10 cost is at most ``floor_cost``. With ``raw`` (the frozen tower's
    features of every row, the raw channel) the training domain is fitted too, and the raw
    cosines get their own relevance calibration and floor ("raw"). With ``titles`` (each row's
    product title, independent of its labels) the heads of ``title_facets`` get title evidence,
    fitted on the same calibration half (:func:`head_title_evidence`); leave out a facet whose
    labels were read from the titles themselves.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    calib, check = val_rows[::2], val_rows[1::2]
    heads, report = SpaceHeads(), {}
    for facet in ("category", "colour"):
        lab = [(v or "").strip().lower() or None for v in values.get(facet, [])]
        if not lab:
            continue
        head = head_fit(
            vectors=vectors[fit_rows],
            values=[lab[i] for i in fit_rows],
            calib_vectors=vectors[calib],
            calib_values=[lab[i] for i in calib],
        )
        if head is None:
            continue
        index = {label: j for j, label in enumerate(head.labels)}
        targets = np.array([index.get(lab[i], -1) if lab[i] else -1 for i in check])
        known = targets >= 0
        plain = head.probabilities(vectors[check][known])
        probs = top_calibrated(plain, head.confidence_map)  # what head.confidences returns
        report[f"head_{facet}"] = {
            "labels": len(head.labels),
            "temperature": head.temperature,
            "confidence_map_knots": len(head.confidence_map.x) if head.confidence_map else 0,
            "val_ece_temperature_only": expected_calibration_error(plain, targets[known])
            if known.any()
            else None,
            "val_checked": int(known.sum()),
            "val_accuracy": float((probs.argmax(1) == targets[known]).mean())
            if known.any()
            else None,
            "val_ece": expected_calibration_error(probs, targets[known]) if known.any() else None,
        }
        if titles is not None and facet in title_facets:
            report[f"title_{facet}"] = head_title_evidence(
                head, vectors=vectors, values=lab, titles=titles, calib_rows=calib,
                check_rows=check,
            )  # fmt: skip
        heads.heads[facet] = head
    if "category" not in heads.heads:
        return heads, report
    labels = np.array([(v or "").strip().lower() for v in values["category"]], dtype=object)
    type_probs = heads.heads["category"].probabilities(vectors)
    cosines = vectors[val_rows] @ vectors.T
    # β is chosen on a gallery of validation photos only: the fit rows are the head's own
    # training data, where its probabilities are surer than on any new photo (a leak that made
    # the re-rank look flat beyond β 0.5). A small validation split (a small catalog) keeps
    # every row, as P@10 needs a gallery.
    leak_free = len(val_rows) >= min_val_gallery
    hidden = np.ones(len(vectors), dtype=bool) if leak_free else np.zeros(len(vectors), bool)
    hidden[val_rows] = False  # the gallery: every row not hidden
    by_beta = {
        b: float(
            _p_at_10(
                np.where(
                    hidden,
                    -np.inf,
                    heads.photo_scores(cosines, type_probs[val_rows], type_probs, b),
                ),
                labels,
                val_rows,
            ).mean()
        )
        for b in rerank_grid
    }
    # the smallest weight within 0.005 of the best: the re-rank trusts the head no more than
    # validation shows it must, which matters on catalogs unlike the training data
    best_p10 = max(by_beta.values())
    beta = min(b for b, value in by_beta.items() if value >= best_p10 - 0.005)
    heads.type_rerank_weight = float(beta)
    scores = heads.photo_scores(cosines, type_probs[val_rows], type_probs)
    relevance, costs = relevance_with_floor(
        scores=scores, labels=labels, val_rows=val_rows, floor_cost=floor_cost
    )
    heads.relevance["vector"] = relevance
    report |= {
        "photo_rerank_p10": by_beta,
        "photo_rerank_gallery": "validation" if leak_free else "all rows",
        "photo_rerank_weight": beta,
        "photo_floor": relevance.floor,
        "photo_floor_p10_cost": costs,
    }
    if raw is not None:
        # the raw channel: where the space was trained, and the relevance of raw cosines
        raw = np.asarray(raw, dtype=np.float32)
        raw = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        heads.domain, report["domain"] = domain_fit(fit_raw=raw[fit_rows], val_raw=raw[val_rows])
        heads.relevance["raw"], raw_costs = relevance_with_floor(
            scores=raw[val_rows] @ raw.T, labels=labels, val_rows=val_rows, floor_cost=floor_cost
        )
        report |= {"raw_floor": heads.relevance["raw"].floor, "raw_floor_p10_cost": raw_costs}
    return heads, report


def relevance_with_floor(
    *, scores: np.ndarray, labels: np.ndarray, val_rows: np.ndarray, floor_cost: float
) -> tuple[Relevance, dict[float, float]]:
    """Platt-scale photo scores (row q: validation query ``val_rows[q]`` against every row) on
    the queries' top 50 by same label, then pick the highest floor whose validation P@10 cost
    is at most ``floor_cost``; returns the calibration and the cost by floor."""
    flat_scores, flat_relevant = [], []
    for q, row in zip(val_rows, scores, strict=True):
        top = top_excluding(row, q, 50)
        flat_scores += row[top].tolist()
        flat_relevant += (labels[top] == labels[q]).tolist()
    relevance = relevance_fit(scores=np.array(flat_scores), relevant=np.array(flat_relevant))
    # each validation query's top 10: whether each is relevant, and its calibrated relevance
    tops = [top_excluding(row, q, 10) for q, row in zip(val_rows, scores, strict=True)]
    hits = np.array([labels[top] == labels[q] for q, top in zip(val_rows, tops, strict=True)])
    probs = np.array(
        [relevance.probability(row[top]) for row, top in zip(scores, tops, strict=True)]
    )
    costs = {
        float(floor): float(((hits & (probs < floor)).sum(axis=1) / 10).mean())
        for floor in np.round(np.arange(0.05, 0.96, 0.05), 2)
    }
    ok = [f for f, cost in costs.items() if cost <= floor_cost]
    relevance.floor = max(ok) if ok else 0.05
    return relevance, costs
