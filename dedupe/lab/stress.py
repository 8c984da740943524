"""How much the matcher leans on model numbers: the shared sets with their codes taken out.

The third benchmark of issue 13 ("different shops, no model numbers and a different
vocabulary") is not here. Abt-Buy and Walmart-Amazon both carry model numbers in most titles,
and a feature model trained on them learns to read codes first. This lab takes the codes out of
every title and description and empties the model-number field (:func:`codeless`), then trains
and scores the shipped design (:func:`dedupe.lab.evaluation.evaluate`) on the result, next to the
same split with the codes left in, in the same run.

Only train and valid are read. The folder written per set is: train = the set's train split,
valid = a seeded half of its valid split (C, calibration and threshold), test = the other half
(reported). The set's test split is never read.

``python manage.py dedupe_eval --codeless DIR [--codeless DIR ...]`` (DIR: a Magellan folder;
``--codeless all`` for the shared sets)
"""

from __future__ import annotations

import csv
import re
import tempfile
from pathlib import Path

import numpy as np

from dedupe.variants import code_like, is_measurement

SETS = ("abt_buy", "walmart_amazon")
_TOKEN_RE = re.compile(r"\S+")
_TEXT_FIELDS = ("title", "name", "description")


def is_code(token: str) -> bool:
    """A model number or catalogue number: at least 4 letters and digits once punctuation is
    dropped, with a digit and a letter in it ("dscw150r", "41u5254", "e92bp-6r"), or 5 digits or
    more ("880306"); a measurement with its unit ("18-250mm", "2.7in") is not one."""
    word = token.lower().strip(".,;:()[]'\"")
    if is_measurement(word):
        return False
    norm = re.sub(r"[^a-z0-9]", "", word)
    return code_like(norm) or (len(norm) >= 5 and norm.isdigit())


def codeless(text: str | None) -> str:
    """``text`` without its codes (:func:`is_code`), whitespace collapsed."""
    return " ".join(t for t in _TOKEN_RE.findall(text or "") if not is_code(t))


def _rows(path: Path) -> tuple[list[dict], list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader), list(reader.fieldnames or [])


def _write(path: Path, rows: list[dict], fields: list[str], *, strip: bool) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            out = dict(row)
            if strip:
                for field in fields:
                    name = field.split("_", 1)[-1]
                    if name in _TEXT_FIELDS:
                        out[field] = codeless(row[field])
                    elif name == "modelno":
                        out[field] = ""
            writer.writerow(out)


def folder_write(src: Path, dst: Path, *, strip: bool, seed: int = 0) -> Path:
    """A Magellan folder from ``src``'s train and valid splits only (see the module docstring);
    with ``strip`` the codes are taken out."""
    dst.mkdir(parents=True, exist_ok=True)
    train, fields = _rows(src / "train.csv")
    valid, _ = _rows(src / "valid.csv")
    order = np.random.default_rng(seed).permutation(len(valid))
    half = len(valid) // 2
    _write(dst / "train.csv", train, fields, strip=strip)
    _write(dst / "valid.csv", [valid[i] for i in sorted(order[:half])], fields, strip=strip)
    _write(dst / "test.csv", [valid[i] for i in sorted(order[half:])], fields, strip=strip)
    return dst


def main(*, folders: list[Path] | None = None, seed: int = 0, log=print) -> dict:
    """{(folder name, "codes" | "codeless"): evaluate's result, with "single"} for each Magellan
    folder (default: the shared sets), F1 on the held half of valid and the transfer to the
    other folders' held halves; one line each to ``log``."""
    from dedupe.lab.evaluation import MAGELLAN_DATA, evaluate  # noqa: PLC0415 (Django is set up)

    sources = [Path(f) for f in folders or [MAGELLAN_DATA / name for name in SETS]]
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        written = {
            (src.name, kind): folder_write(
                src, Path(tmp) / kind / src.name, strip=kind == "codeless", seed=seed
            )  # fmt: skip
            for src in sources
            for kind in ("codes", "codeless")
        }
        for (name, kind), folder in written.items():
            others = [f for (n, k), f in written.items() if k == kind and n != name]
            res = evaluate(dataset=folder, transfer=others, log=lambda *_: None)
            res["single"] = single_signal_f1(folder)
            out[(name, kind)] = res
            transfer = ", ".join(f"{n} F1 {f:.4f}" for n, (_, _, f) in res["transfer"].items())
            single = ", ".join(f"{n} {f:.4f}" for n, f in res["single"].items())
            log(f"{name}, {kind}: held half of valid P {res['precision']:.4f} "
                f"R {res['recall']:.4f} F1 {res['f1']:.4f}; transfer {transfer or 'none'}; "
                f"one title similarity alone, F1: {single}")  # fmt: skip
    return out


SINGLE = ("title_tfidf_word", "title_tfidf_char", "title_embedding_cos", "token_set")


def single_signal_f1(folder: Path) -> dict[str, float]:
    """{signal: held-half F1} of one title similarity alone, its threshold the best on the
    valid half: what a matcher with no other knowledge gets, the floor the feature model should
    stay above when the codes are gone."""
    from dedupe.lab import fitting  # noqa: PLC0415
    from dedupe.lab.evaluation import prf, read_pairs, signals_for, weights_fit  # noqa: PLC0415

    train, _ = read_pairs(folder / "train.csv")
    weights = weights_fit(train, source="stress")
    out = {}
    split = {}
    for name in ("valid", "test"):
        pairs, labels = read_pairs(folder / f"{name}.csv")
        split[name] = (signals_for(pairs, weights=weights), np.asarray(labels))
    for signal in SINGLE:
        value = {n: np.array([getattr(s, signal) or 0.0 for s in sigs], dtype=float)
                 for n, (sigs, _) in split.items()}  # fmt: skip
        threshold, _ = fitting.best_threshold(probs=value["valid"], labels=split["valid"][1])
        out[signal] = prf(value["test"] >= threshold, split["test"][1])[2]
    return out
