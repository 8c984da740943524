"""Fit the shipped heads' title evidence: the item type and colour a product's title names.

A stored attribute was read from the photo alone, so "Navy Blue Shirt" could be labelled black.
This fit adds, to the colour and item-type heads of the shipped space, the weight of each label
the title names (:func:`visualsearch.attributes.labels_named`) and the confidence map of the
rows that name one (:func:`visualsearch.heads.head_title_evidence`). Photo-only rows and photo
queries keep their old confidences.

The rows are the validation split of the fashion set (``space_fit.split``), embedded through the
product path (the assembled default space, as the worker embeds a catalog photo): the weight and
map are fitted on its first half (every other row, the same half that fitted the heads'
temperatures and maps) and checked on the second. The test split is never read.

``python manage.py title_fit`` rewrites ``visualsearch/weights/<version>.heads.safetensors`` and
records the fit and the check under ``info["title_evidence"]``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from catalog.images import decode_rgb
from visualsearch import default_space
from visualsearch import offline_model as om
from visualsearch.embedders import get_embedder, images_encode
from visualsearch.heads import SpaceHeads, head_title_evidence
from visualsearch.lab.evaluation import load_products
from visualsearch.lab.space_fit import split

VERSION = "title-evidence-v1"


@contextlib.contextmanager
def shipped_embedder():
    """The shipped space's embedder, assembled in a temporary folder (removed on exit)."""
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = default_space.default_space_assemble(out_dir=Path(tmp))
        yield get_embedder(
            architecture=om.architecture_for(*default_space.shipped_towers()),
            pretrained=str(checkpoint),
        )


def product_path_vectors(
    paths: list[Path], *, batch: int = 32, progress: bool = True, embedder=None,
    raw: bool = False,
):  # fmt: skip
    """The shipped space's vectors of these photos (or ``embedder``'s), encoded as the worker
    encodes them; with ``raw``, (vectors, their raw-channel vectors)."""
    if embedder is None:
        with shipped_embedder() as shipped:
            return product_path_vectors(paths, batch=batch, progress=progress, embedder=shipped,
                                        raw=raw)  # fmt: skip
    out, raws = [], []
    with tqdm(total=len(paths), unit="photo", desc="embedding", disable=not progress) as bar:
        for start in range(0, len(paths), batch):
            images = [decode_rgb(p.read_bytes()) for p in paths[start : start + batch]]
            vectors, raw_vectors = images_encode(embedder, images)
            out.append(vectors)
            raws.append(raw_vectors)
            bar.update(len(images))
    vectors = np.concatenate(out).astype(np.float64)
    if not raw:
        return vectors
    if any(r is None for r in raws):
        raise ValueError("this embedder has no raw channel")
    return vectors, np.concatenate(raws).astype(np.float64)


def run_title_fit(*, data_dir: Path, heads_file: Path, command: str, progress: bool = True) -> dict:
    """Fit and check title evidence for every head in ``heads_file`` and rewrite it."""
    products = load_products(Path(data_dir))
    _, val, _ = split(products)
    rows = [products[i] for i in val]
    vectors = product_path_vectors([p.path for p in rows], progress=progress)
    titles = [p.title for p in rows]
    values = {"category": [p.type for p in rows], "colour": [p.colour or None for p in rows]}
    local = np.arange(len(rows))
    calib, check = local[::2], local[1::2]  # as space_heads_fit splits validation
    heads = SpaceHeads.load(heads_file)
    report: dict = {"version": VERSION, "command": command,
                    "date": dt.date.today().isoformat(), "validation_rows": len(rows)}  # fmt: skip
    for facet, head in heads.heads.items():
        if facet in values:
            report[facet] = head_title_evidence(
                head, vectors=vectors, values=values[facet], titles=titles,
                calib_rows=calib, check_rows=check,
            )  # fmt: skip
    heads.info["title_evidence"] = report
    heads.save(heads_file)
    return report
