"""Fixtures for tests in more than one app. Plain helpers are in tests/support.py."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.support import make_image_bytes
from tests.visualsearch.search_helpers import DIM, WordEmbedder
from visualsearch.spaces import space_register


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test writes media into its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def image_bytes():
    return make_image_bytes


@pytest.fixture
def fresh_throttles():
    """The throttle counts live in the cache; each test starts with none.

    Not autouse: clearing the cache flushes the Redis database, which the e2e site's queues
    share. Modules that need it say ``pytest.mark.usefixtures("fresh_throttles")``."""

    cache.clear()
    yield
    cache.clear()


# ----------------------------------------------------------------------------- search
# Used by tests/visualsearch and tests/reliability; the helpers are in search_helpers.
@pytest.fixture
def word_embedder(monkeypatch):

    embedder = WordEmbedder()
    monkeypatch.setattr("visualsearch.spaces.embedder_for", lambda space: embedder)
    return embedder


@pytest.fixture
def word_space():

    return space_register(name="words", architecture="x", pretrained="y", dimension=DIM)
