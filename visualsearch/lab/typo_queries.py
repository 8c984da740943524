"""Lab: text queries with one typo, spelling correction (``SEARCH_SPELLING``) off and on.

Every "<baseColour> <articleType>" query of the gallery ``search_api_eval`` imported gets one
seeded edit (a letter dropped, two swapped, one replaced or one inserted, never the first
letter) in one word of four letters or more. Each query runs clean and with its typo through
``visualsearch.search.search`` (what ``POST /api/search/`` calls), both settings in one run:
nDCG@10 and the share answered "no good match"; then the out-of-catalog queries of
``search_api_eval`` with correction on::

    python manage.py shell -c "from visualsearch.lab.typo_queries import main; main()"
"""

from __future__ import annotations

import numpy as np

LETTERS = "abcdefghijklmnopqrstuvwxyz"
MEASURES = ("clean nDCG@10", "clean no match", "typo nDCG@10", "typo no match")


def typo(text: str, rng: np.random.Generator) -> str | None:
    """``text`` with one edit in one of its words of 4+ letters (None: no such word)."""
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return None
    i = candidates[int(rng.integers(len(candidates)))]
    w = words[i].lower()
    op, j = int(rng.integers(4)), int(rng.integers(1, len(w)))
    if op == 0:
        w = w[:j] + w[j + 1 :]
    elif op == 1 and j < len(w) - 1:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif op == 2:
        w = w[:j] + LETTERS[int(rng.integers(26))] + w[j + 1 :]
    else:
        w = w[:j] + LETTERS[int(rng.integers(26))] + w[j:]
    words[i] = w
    return " ".join(words)


def main(*, split: str = "validation", seed: int = 0) -> dict[str, tuple[float, float, float]]:
    from django.test import override_settings  # noqa: PLC0415

    from catalog import spelling  # noqa: PLC0415
    from visualsearch.lab import metrics  # noqa: PLC0415
    from visualsearch.lab.api_eval import ooc_queries  # noqa: PLC0415
    from visualsearch.lab.fusion_sweep import _gallery, text_pairs  # noqa: PLC0415
    from visualsearch.search import SearchQuery, search  # noqa: PLC0415

    seller, gallery = _gallery(split, None)
    by_pair = text_pairs(gallery)
    rng = np.random.default_rng(seed)
    queries = []
    for colour, type_ in sorted(by_pair):
        clean = f"{colour} {type_}"
        bad = typo(clean, rng)
        if bad is not None and bad.lower() != clean.lower():
            queries.append((clean, bad, by_pair[(colour, type_)]))
    runs = {}
    for on in (False, True):
        rows = []
        with override_settings(SEARCH_SPELLING=on):
            spelling.lexicon_clear()
            for clean, bad, relevant in queries:
                row = []
                for text in (clean, bad):
                    result = search(SearchQuery(text=text, seller=seller, k=10))
                    hits = [product.pk in relevant for product, _ in result.results]
                    row += [metrics.ndcg_at_k(hits, n_relevant=len(relevant)), result.no_match]
                rows.append(row)
        runs[on] = np.array(rows, dtype=float)
    report = {}
    for j, name in enumerate(MEASURES):
        gain = runs[True][:, j] - runs[False][:, j]
        error = metrics.paired_standard_error(gain)
        report[name] = (float(runs[False][:, j].mean()), float(runs[True][:, j].mean()), error)
        print(f"{split}: {name}: off {runs[False][:, j].mean():.4f} on "
              f"{runs[True][:, j].mean():.4f} (gain {gain.mean():+.4f}, paired standard error "
              f"{error:.4f}, {len(gain)} queries)")  # fmt: skip
    with override_settings(SEARCH_SPELLING=True):
        ooc = ooc_queries(seed=seed)
        answered = sum(search(SearchQuery(text=q, seller=seller, k=10)).no_match for q in ooc)
        changed = [q for q in ooc if spelling.query_corrected(q)]
    print(f"{split}: out-of-catalog queries answered with no match, correction on: "
          f"{answered} of {len(ooc)}; corrected: {changed}")  # fmt: skip
    return report
