"""Row-wise L2 normalisation, the one copy every module uses (numpy only, no torch, no ORM).

``visualsearch.embedders`` re-exports it; ``mmr``, ``attributes`` and ``search`` import it from
here so the pure maths never pulls a model library in.
"""

from __future__ import annotations

import numpy as np


def rows_normalise(x: np.ndarray, *, eps: float = 1e-12) -> np.ndarray:
    """Each row divided by its L2 norm (a 1-d input is one row); all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, eps)
