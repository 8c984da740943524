"""Lab: text queries with one typo, spelling correction (``SEARCH_SPELLING``) off and on.

Every "<baseColour> <articleType>" query of the gallery ``search_api_eval`` imported gets one
seeded edit (a letter dropped, two swapped, one replaced or one inserted, never the first
letter) in one word of four letters or more. Each query runs clean and with its typo through
``visualsearch.search.search`` (what ``POST /api/search/`` calls), both settings in one run:
nDCG@10 and the share answered "no good match", each setting of a grid against the first; then
the out-of-catalog queries of ``search_api_eval`` under each other setting::

    python manage.py shell -c "from visualsearch.lab.typo_queries import main; main()"
    python manage.py shell -c "from visualsearch.lab.typo_queries import *; main(grid=ENGLISH_RATIO_GRID)"
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


SPELLING_GRID = ({"SEARCH_SPELLING": False}, {"SEARCH_SPELLING": True})
ENGLISH_RATIO_GRID = tuple(
    {"SEARCH_SPELLING": True, "SEARCH_SPELLING_ENGLISH_RATIO": ratio} for ratio in (0, 10, 20, 50)
)
# held-out, once: English words left as typed against the shipped ratio
ENGLISH_RATIO_SHIPPED = tuple(
    {"SEARCH_SPELLING": True, "SEARCH_SPELLING_ENGLISH_RATIO": ratio} for ratio in (0, 50)
)


def main(
    *, split: str = "validation", seed: int = 0, grid=SPELLING_GRID
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Each setting of ``grid`` against the first, same queries in the same run: {setting
    label: {measure: (mean, gain over the first setting, paired SE)}}; the out-of-catalog
    queries under every setting after the first."""
    from catalog import spelling  # noqa: PLC0415
    from visualsearch.lab import metrics  # noqa: PLC0415
    from visualsearch.lab.api_eval import ooc_queries  # noqa: PLC0415
    from visualsearch.lab.fusion_sweep import _gallery, _sweep, text_pairs  # noqa: PLC0415
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
    ooc = ooc_queries(seed=seed)
    runs_done = []

    def measure() -> dict[str, np.ndarray]:
        spelling.lexicon_clear()  # the lexicon reads the settings of this run
        rows = []
        for clean, bad, relevant in queries:
            row = []
            for text in (clean, bad):
                result = search(SearchQuery(text=text, seller=seller, k=10))
                hits = [product.pk in relevant for product, _ in result.results]
                row += [metrics.ndcg_at_k(hits, n_relevant=len(relevant)), result.no_match]
            rows.append(row)
        if runs_done:
            answered = sum(search(SearchQuery(text=q, seller=seller, k=10)).no_match for q in ooc)
            changed = [q for q in ooc if spelling.query_corrected(q)]
            label = ", ".join(f"{key}={value}" for key, value in grid[len(runs_done)].items())
            print(f"{split}: {label}: out-of-catalog queries answered with no match "
                  f"{answered} of {len(ooc)}; corrected: {changed}")  # fmt: skip
        runs_done.append(True)
        values = np.array(rows, dtype=float)
        return {name: values[:, j] for j, name in enumerate(MEASURES)}

    report = _sweep(split=split, grid=grid, measure=measure)
    spelling.lexicon_clear()
    return report


def bench(*, words: int = 50_000, queries: int = 500, seed: int = 0) -> dict[str, float]:
    """The cost of :func:`catalog.spelling.corrected`, no database: a lexicon of the shared
    sets' titles (the fashion set's and both product-matching sets' train titles), then padded with
    random strings to ``words`` words; ``queries`` of those titles with one seeded typo each.
    Prints and returns the percentiles in ms::

        python manage.py shell -c "from visualsearch.lab.typo_queries import bench; bench()"
    """
    import csv  # noqa: PLC0415
    import random  # noqa: PLC0415
    import time  # noqa: PLC0415
    from collections import Counter  # noqa: PLC0415

    from catalog.spelling import _WORD, Lexicon, corrected, english_words  # noqa: PLC0415
    from visualsearch.lab.code_spellings import titles  # noqa: PLC0415
    from visualsearch.lab.evaluation import DEFAULT_DATA  # noqa: PLC0415

    with open(DEFAULT_DATA / "styles.csv", newline="", encoding="utf-8", errors="replace") as f:
        listed = {row["productDisplayName"] for row in csv.DictReader(f)}
    listed = sorted((listed | set(titles())) - {""})
    counts: Counter = Counter()
    for title in listed:
        counts.update({w for w in _WORD.findall(title.lower()) if len(w) >= 2})
    rng, pick = np.random.default_rng(seed), random.Random(seed)
    sample = [typo(t, rng) for t in pick.sample(listed, min(queries, len(listed)))]
    sample = [q for q in sample if q]
    english = english_words()
    padded = dict(counts)
    while len(padded) < words:
        padded["".join(pick.choices(LETTERS, k=pick.randint(3, 10)))] = 1
    report = {}
    for name, table in (("the sets' words", dict(counts)), (f"{words:,} words", padded)):
        lexicon = Lexicon(table, known=english, english_ratio=50, listings=len(listed))
        ms = []
        for q in sample:
            started = time.perf_counter()
            corrected(q, lexicon)
            ms.append((time.perf_counter() - started) * 1000)
        p50, p95 = np.percentile(ms, [50, 95])
        report[name] = (float(p50), float(p95))
        print(f"{len(listed)} titles, lexicon of {name} ({len(table):,} words): corrected() "
              f"p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(sample)} titles with one "
              f"typo")  # fmt: skip
    return report
