"""Fixtures for the search tests (the word embedder and word space are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support import tiny_open_clip
from visualsearch.embedders import clear_cache


@pytest.fixture()
def tiny_checkpoint(tmp_path):
    """``(model, preprocess, checkpoint)`` of a tiny random open_clip model saved in tmp_path."""

    yield tiny_open_clip(tmp_path)
    clear_cache()
