"""The one copy of the pgvector plumbing that search, dedupe and the benchmarks share: query
vector literals, decoding stored ``halfvec`` values, and the HNSW settings of a search
transaction."""

from __future__ import annotations

import numpy as np
from django.conf import settings


def vector_literal(vector) -> str:
    """``vector`` as pgvector's text input, e.g. ``[0.1,0.2]`` (cast it with ``::halfvec(D)``)."""
    return "[" + ",".join(f"{float(x):.7g}" for x in np.asarray(vector).reshape(-1)) + "]"


def halfvec_decode(value) -> np.ndarray:
    """A stored vector as float32: pgvector's HalfVector (what the ORM returns), its text form
    (``vector::text`` in raw SQL) or a plain sequence."""
    if isinstance(value, str):
        return np.array(value.strip("[]").split(","), dtype=np.float32)
    if hasattr(value, "to_list"):
        value = value.to_list()
    return np.asarray(value, dtype=np.float32)


def hnsw_session(cursor) -> None:
    """The HNSW settings of one search, for the current transaction only (``SET LOCAL``):
    ``HNSW_EF_SEARCH``, iterative scans in relaxed order (filtered queries keep walking until
    they have enough rows), and ``HNSW_MAX_SCAN_TUPLES`` (how far such a walk may go)."""
    cursor.execute("SET LOCAL hnsw.ef_search = %s", [int(settings.HNSW_EF_SEARCH)])
    cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    cursor.execute("SET LOCAL hnsw.max_scan_tuples = %s", [int(settings.HNSW_MAX_SCAN_TUPLES)])
