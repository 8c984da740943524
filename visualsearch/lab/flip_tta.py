"""Lab: does a mirrored copy of the query photo (test-time augmentation) help photo search?

The shipped space is assembled from the wheels into a temporary folder and run as the server
runs it (``OpenClipEmbedder``); every validation photo (the rows ``space_fit`` chooses on) is
encoded as it is and mirrored. Photo → photo P@10 by articleType on plain cosines, the query's
own product dropped, against the plain query on the same gallery, with the paired standard
error of the gain:

    python manage.py shell -c "from visualsearch.lab.flip_tta import main; main()"

Numbers in docs/benchmarks.md ("Mirrored query photos", not shipped).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def precision_at_10(query: np.ndarray, gallery: np.ndarray, types: np.ndarray) -> np.ndarray:
    """Per query: the share of its 10 nearest other gallery rows (row i is query i's own
    product) with its type."""
    scores = query @ gallery.T
    np.fill_diagonal(scores, -np.inf)
    top = np.argsort(-scores, axis=1)[:, :10]
    return (types[top] == types[:, None]).mean(axis=1)


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main(data: Path | None = None) -> dict[str, tuple[float, float, float]]:
    from visualsearch import offline_model as om  # noqa: PLC0415
    from visualsearch.default_space import default_space_assemble, shipped_towers  # noqa: PLC0415
    from visualsearch.embedders import OpenClipEmbedder  # noqa: PLC0415
    from visualsearch.lab import api_eval  # noqa: PLC0415
    from visualsearch.lab.evaluation import DEFAULT_DATA  # noqa: PLC0415
    from visualsearch.lab.metrics import paired_standard_error  # noqa: PLC0415

    items = api_eval.heldout_items(data or DEFAULT_DATA, "validation")
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = default_space_assemble(out_dir=Path(folder))
        embedder = OpenClipEmbedder(
            architecture=om.architecture_for(*shipped_towers()), pretrained=str(checkpoint)
        )
        photos = [Image.open(item.path).convert("RGB") for item in items]
        plain = embedder.encode_images(photos)
        mirrored = embedder.encode_images([ImageOps.mirror(photo) for photo in photos])
    types = np.array([item.type for item in items])
    base = precision_at_10(plain, plain, types)
    out = {}
    for name, query, gallery in (
        ("query: plain + mirrored", _normalise(plain + mirrored), plain),
        (
            "query and gallery: plain + mirrored",
            _normalise(plain + mirrored),
            _normalise(plain + mirrored),
        ),  # fmt: skip
        ("query: mirrored only", mirrored, plain),
    ):
        gain = precision_at_10(query, gallery, types) - base
        error = paired_standard_error(gain)
        out[name] = (float(base.mean()), float(base.mean() + gain.mean()), error)
        print(f"{name}: P@10 {base.mean():.4f} -> {base.mean() + gain.mean():.4f} "
              f"(gain {gain.mean():+.4f}, paired standard error {error:.4f}, "
              f"{len(gain)} queries)")  # fmt: skip
    return out
