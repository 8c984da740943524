"""Pick the demo catalog's real photos from Fashion Product Images (Small) and write them out.

Reached through ``manage.py demo_subset``; the product never imports this module. The result is
committed under ``catalog/demo_data/fashion/`` and read by :mod:`catalog.lab.demo`.

The rules, all deterministic (no random state; ties broken by CRC32 of the id):

1. Only the **test split**: ``visualsearch.lab.evaluation.split_ids(ids, seed=0)[1]`` over every id of
   ``styles.csv`` whose image file exists, the 20% that ``embedder_eval`` and the shipped search
   weights hold out. The demo never shows a photo the shipped weights were trained on.
2. Leave out innerwear (``subCategory == "Innerwear"``) and the set's "Free Items": the demo's
   front page is for everyone, and a free gift is not something to sell. Of byte-identical
   photos (the set has 31 pairs under two ids) keep the first, so no two listings share a file.
3. Keep some **title groups** (rows that share a ``productDisplayName``: the set's colour and
   design variants, not duplicates): groups whose rows all have one articleType, at most
   ``GROUP_MAX`` rows each, those with more than one colour first, at most ``GROUPS_PER_TYPE`` per
   articleType, ``GROUPS`` in all.
4. Share out the rest of ``size`` over articleTypes in proportion to their count in the split
   to the power ``WEIGHT_POWER`` (0.7), at least one each, so that T-shirts and watches lead but
   the long tail (ties, caps, perfume, sarees, ...) is there too.
5. Order the rows as a marketplace front page would mix them: round-robin over articleTypes (most
   common first), a title group being one turn. Any prefix (``seed_demo --products N``) so covers
   many articleTypes, and its first rounds contain title groups.
"""

from __future__ import annotations

import csv
import hashlib
import math
import shutil
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from visualsearch.lab.evaluation import split_ids

DEFAULT_SIZE = 320
SPLIT_SEED = 0
GROUPS = 18
GROUPS_PER_TYPE = 2
GROUP_MAX = 3
WEIGHT_POWER = 0.7
EXCLUDED_SUBCATEGORIES = {"Innerwear"}
EXCLUDED_MASTER_CATEGORIES = {"Free Items"}
LICENCE_FILE = "LICENSE.aditya-patil-00-repo.txt"
SOURCE_NOTE = "MIT, Kaggle Fashion Product Images (Small), Myntra"


@dataclass(frozen=True)
class Subset:
    rows: list[dict]  # styles.csv rows, in front-page order
    fieldnames: list[str]
    test_ids: frozenset[int]


def _key(row: dict) -> int:
    return zlib.crc32(row["id"].encode())


def _read_styles(data_dir: Path) -> tuple[list[dict], list[str]]:
    with open(data_dir / "styles.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [row for row in reader if (data_dir / row["image"]).is_file()]
        return rows, list(reader.fieldnames or [])


def _quotas(counts: Counter, total: int) -> dict[str, int]:
    """``total`` shared over the keys of ``counts`` ∝ count ** WEIGHT_POWER, each at least 1 and
    at most its count; the remainder goes by largest fraction, ties by name."""
    weights = {t: n**WEIGHT_POWER for t, n in counts.items()}
    scale = total / sum(weights.values())
    quotas = {t: min(counts[t], max(1, math.floor(w * scale))) for t, w in weights.items()}
    order = sorted(counts, key=lambda t: (-(weights[t] * scale) % 1, t))
    while sum(quotas.values()) < total and any(quotas[t] < counts[t] for t in counts):
        for t in order:
            if sum(quotas.values()) >= total:
                break
            if quotas[t] < counts[t]:
                quotas[t] += 1
    while sum(quotas.values()) > total:  # the minimum of 1 each can overshoot a small total
        t = max(quotas, key=lambda t: (quotas[t], t))
        quotas[t] -= 1
    return quotas


def subset_pick(*, data_dir: Path, size: int = DEFAULT_SIZE) -> Subset:
    """The demo rows of ``data_dir/styles.csv``, by the rules in the module docstring."""

    rows, fieldnames = _read_styles(data_dir)
    _, test_ids = split_ids([int(row["id"]) for row in rows], seed=SPLIT_SEED)
    pool = [
        row
        for row in rows
        if int(row["id"]) in test_ids
        and row["subCategory"] not in EXCLUDED_SUBCATEGORIES
        and row["masterCategory"] not in EXCLUDED_MASTER_CATEGORIES
        and row["productDisplayName"].strip()
    ]
    pool.sort(key=lambda row: (_key(row), row["id"]))
    # The set holds a few byte-identical photos under two ids (one title, two rows): keep the
    # first, so that no two demo listings show the same file and call it two variants.
    seen: set[str] = set()
    unique = []
    for row in pool:
        digest = hashlib.sha256((data_dir / row["image"]).read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            unique.append(row)
    pool = unique
    counts = Counter(row["articleType"] for row in pool)
    quotas = _quotas(counts, min(size, len(pool)))

    by_title: dict[str, list[dict]] = defaultdict(list)
    for row in pool:
        by_title[row["productDisplayName"]].append(row)
    candidates = [
        group
        for group in by_title.values()
        if 1 < len(group) and len({row["articleType"] for row in group}) == 1
    ]
    candidates.sort(
        key=lambda g: (len({row["baseColour"] for row in g}) == 1, _key(g[0]), g[0]["id"])
    )
    groups: dict[str, list[list[dict]]] = defaultdict(list)
    taken = 0
    for group in candidates:
        kind = group[0]["articleType"]
        group = group[:GROUP_MAX]
        used = sum(len(g) for g in groups[kind])
        if taken >= GROUPS or len(groups[kind]) >= GROUPS_PER_TYPE:
            continue
        if used + len(group) > quotas[kind]:
            continue
        groups[kind].append(group)
        taken += 1

    grouped_titles = {g[0]["productDisplayName"] for gs in groups.values() for g in gs}
    queues: dict[str, list[list[dict]]] = {}
    for kind in counts:
        units = list(groups[kind])
        room = quotas[kind] - sum(len(g) for g in units)
        seen_titles = set(grouped_titles)
        for row in pool:
            if room <= 0:
                break
            if row["articleType"] != kind or row["productDisplayName"] in seen_titles:
                continue
            # One row per title outside the chosen groups: every title group is a chosen one.
            seen_titles.add(row["productDisplayName"])
            units.append([row])
            room -= 1
        queues[kind] = units

    ordered: list[dict] = []
    kinds = sorted(queues, key=lambda t: (-counts[t], t))
    while any(queues[t] for t in kinds):
        for kind in kinds:
            if queues[kind]:
                ordered.extend(queues[kind].pop(0))
    return Subset(rows=ordered, fieldnames=fieldnames, test_ids=frozenset(test_ids))


def subset_write(*, subset: Subset, data_dir: Path, out_dir: Path) -> dict[str, int]:
    """Write the photos, ``styles.csv`` (the chosen rows as they are), the set's licence and a
    SOURCE file into ``out_dir``, replacing what was there. Returns counts and byte sizes."""
    images = out_dir / "images"
    if images.exists():
        shutil.rmtree(images)
    images.mkdir(parents=True)
    for row in subset.rows:
        shutil.copyfile(data_dir / row["image"], out_dir / row["image"])
    with open(out_dir / "styles.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=subset.fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(subset.rows)
    shutil.copyfile(data_dir / LICENCE_FILE, out_dir / LICENCE_FILE)
    commits = (data_dir / "SOURCE_COMMIT.txt").read_text(encoding="utf-8").strip()
    (out_dir / "SOURCE").write_text(
        f"{SOURCE_NOTE}\n\n"
        f"{len(subset.rows)} photos and their styles.csv rows, from the test split (20% by id,\n"
        f"visualsearch.lab.evaluation.split_ids(seed={SPLIT_SEED})) of the set as copied from:\n"
        f"{commits}\n\n"
        "The data set is listed as MIT on Kaggle. The repository it was copied from\n"
        f"(aditya-patil-00/Fashion-Recommender) is itself under the Apache License 2.0: {LICENCE_FILE}.\n"
        "Chosen by `python manage.py demo_subset` (visualsearch/lab/demo_subset.py).\n",
        encoding="utf-8",
    )
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    return {
        "photos": len(subset.rows),
        "article_types": len({row["articleType"] for row in subset.rows}),
        "title_groups": sum(
            1 for n in Counter(r["productDisplayName"] for r in subset.rows).values() if n > 1
        ),
        "bytes": sum(p.stat().st_size for p in files),
    }
