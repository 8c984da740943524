"""TF-IDF cosine of two titles, word and character n-grams (pure, no Django, no sklearn).

A shared word is strong evidence when it is rare ("lds4821ww") and weak when it is common
("black", "case"); TF-IDF weighs each by its inverse document frequency. The IDF tables are
data, fitted on a corpus of titles (`dedupe.lab.fitting.idf_fit`) and shipped next to the model.
A term the table has never seen gets the highest IDF (it is rarer than anything counted), so a
catalog with a vocabulary of its own still gets sensible weights.

Term frequencies are sublinear (1 + log tf) and vectors are L2-normalised, as in scikit-learn's
``TfidfVectorizer(sublinear_tf=True)``; the char analyser pads each word with spaces
(``char_wb``) and takes 3- to 5-grams.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_IDF_PATH = Path(__file__).with_name("default_idf.json.gz")
_WORD_RE = re.compile(r"[a-z0-9]+")
CHAR_RANGE = (3, 5)


def words(text: str | None) -> list[str]:
    return _WORD_RE.findall((text or "").lower())


def char_grams(text: str | None) -> list[str]:
    out = []
    lo, hi = CHAR_RANGE
    for w in words(text):
        padded = f" {w} "
        for n in range(lo, hi + 1):
            out += [padded[i : i + n] for i in range(max(len(padded) - n + 1, 0))]
    return out


ANALYSERS = {"word": words, "char": char_grams}


@dataclass
class IdfTable:
    """Smoothed IDF per term: log((1 + n_docs) / (1 + df)) + 1; unseen terms get df = 0."""

    n_docs: int
    idf: dict[str, float] = field(default_factory=dict)

    @property
    def unseen(self) -> float:
        return math.log(1 + self.n_docs) + 1.0

    def weigh(self, terms: list[str]) -> dict[str, float]:
        counts = Counter(terms)
        vec = {t: (1.0 + math.log(c)) * self.idf.get(t, self.unseen) for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {t: v / norm for t, v in vec.items()} if norm else {}

    @classmethod
    def from_documents(cls, docs: list[list[str]], *, min_df: int = 1) -> IdfTable:
        df = Counter(t for d in docs for t in set(d))
        n = len(docs)
        return cls(
            n_docs=n,
            idf={t: round(math.log((1 + n) / (1 + c)) + 1.0, 4) for t, c in df.items()
                 if c >= min_df},
        )  # fmt: skip


def cosine(a: dict[str, float], b: dict[str, float]) -> float | None:
    if not a or not b:
        return None
    if len(a) > len(b):
        a, b = b, a
    return float(sum(v * b.get(t, 0.0) for t, v in a.items()))


@dataclass
class TextWeights:
    """One IdfTable per analyser ("word", "char"), plus where they came from."""

    tables: dict[str, IdfTable]
    meta: dict = field(default_factory=dict)

    def similarity(self, a: str | None, b: str | None, analyser: str) -> float | None:
        fn, table = ANALYSERS[analyser], self.tables[analyser]
        return cosine(table.weigh(fn(a)), table.weigh(fn(b)))

    def to_dict(self) -> dict:
        return {
            "kind": "tfidf_idf_tables",
            "meta": self.meta,
            "tables": {k: {"n_docs": t.n_docs, "idf": t.idf} for k, t in self.tables.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> TextWeights:
        return cls(
            tables={k: IdfTable(n_docs=v["n_docs"], idf=v["idf"]) for k, v in d["tables"].items()},
            meta=d.get("meta", {}),
        )

    @classmethod
    def fit(cls, titles: list[str], *, min_df: int = 1, meta: dict | None = None) -> TextWeights:
        docs = sorted(set(titles))
        return cls(
            tables={
                name: IdfTable.from_documents([fn(t) for t in docs], min_df=min_df)
                for name, fn in ANALYSERS.items()
            },
            meta=meta or {},
        )


def weights_save(*, weights: TextWeights, path: Path | str) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(weights.to_dict(), fh, separators=(",", ":"), sort_keys=True)


def weights_load(path: Path | str | None = None) -> TextWeights:
    with gzip.open(path or DEFAULT_IDF_PATH, "rt", encoding="utf-8") as fh:
        return TextWeights.from_dict(json.load(fh))


_default: TextWeights | None = None


def default_weights() -> TextWeights | None:
    """The shipped tables, or None when the file is absent (the TF-IDF signals are then missing)."""
    global _default
    if _default is None and DEFAULT_IDF_PATH.exists():
        _default = weights_load()
    return _default
