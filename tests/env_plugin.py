"""Loaded with ``-p`` before pytest-django imports settings: test-run environment, and the
services settings describe, started before pytest-django sets up the test database."""

import os

from visualsearch.infra import services_ensure

# Test jobs go to their own queue namespace, so a `make run` worker never takes them.
os.environ.setdefault("DRAMATIQ_NAMESPACE", "marketplace-test")
os.environ.setdefault("MAX_UPLOAD_BYTES", str(2 * 1024 * 1024))
os.environ.setdefault("MAX_IMAGE_PIXELS", str(4_000_000))


def pytest_sessionstart(session):
    """pytest-django has configured settings by now and opens no connection before the tests."""

    services_ensure()
