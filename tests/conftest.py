"""Fixtures for tests in more than one app. Plain helpers are in tests/support.py."""

from __future__ import annotations

import pytest

from tests.support import make_image_bytes


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test writes media into its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def image_bytes():
    return make_image_bytes
