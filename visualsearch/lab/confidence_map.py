"""Lab: how to calibrate the supervised heads' top confidence, chosen on validation only.

The heads (fitted on the fit rows of the shipped space) are calibrated three ways on one half
of validation and checked on the other, both halves in turn: temperature scaling alone (what
offline-v7 shipped), temperature then an isotonic map of the top-1 confidence (what
offline-v8 ships, ``heads.confidence_map_fit``), and temperature then a Platt map on the
top-1 confidence's logit. ECE of the top-1 confidence, 10 bins; accuracy is the same for all
three (none changes the top label).

    python -m visualsearch.lab.confidence_map --cache var/cache

Numbers in docs/benchmarks.md ("Calibrating the heads' top confidence").
"""

from __future__ import annotations

import numpy as np

from visualsearch.heads import confidence_map_fit, expected_calibration_error, head_fit
from visualsearch.lab.attribute_probe import facet_values, shipped_space_from_args


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _ece(confidence: np.ndarray, correct: np.ndarray) -> float:
    # expected_calibration_error over (top confidence, the rest) rows whose top is column 0
    probs = np.stack([confidence, np.zeros_like(confidence)], axis=1)
    return expected_calibration_error(probs, np.where(correct, 0, 1))


def compare(*, space: np.ndarray, values: dict, fit, val) -> list[dict]:
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    rows = []
    for facet, lab in values.items():
        for name, calib, check in (("even", val[::2], val[1::2]), ("odd", val[1::2], val[::2])):
            head = head_fit(vectors=space[fit], values=[lab[i] for i in fit],
                            calib_vectors=space[calib], calib_values=[lab[i] for i in calib])  # fmt: skip
            index = {label: j for j, label in enumerate(head.labels)}

            def top(r, index=index, head=head, lab=lab):
                t = np.array([index.get(lab[i], -1) if lab[i] else -1 for i in r])
                p = head.probabilities(space[r][t >= 0])
                return p.max(axis=1), p.argmax(axis=1) == t[t >= 0]

            (c_conf, c_ok), (k_conf, k_ok) = top(calib), top(check)
            platt = LogisticRegression(C=100.0).fit(_logit(c_conf)[:, None], c_ok.astype(int))
            rows.append({
                "facet": facet, "calibration half": name, "checked": int(len(k_ok)),
                "accuracy": float(k_ok.mean()),
                "temperature": _ece(k_conf, k_ok),
                "temperature + isotonic": _ece(confidence_map_fit(c_conf, c_ok)(k_conf), k_ok),
                "temperature + Platt": _ece(
                    platt.predict_proba(_logit(k_conf)[:, None])[:, 1], k_ok),
            })  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    shipped = shipped_space_from_args(__doc__.splitlines()[0])
    values = facet_values(shipped.products)
    rows = compare(space=shipped.space, values=values, fit=shipped.fit, val=shipped.val)
    for method in ("temperature", "temperature + isotonic", "temperature + Platt"):
        print(f"{method}: mean ECE over facets and halves "
              f"{np.mean([r[method] for r in rows]):.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
