"""Loaded with ``-p`` before pytest-django imports settings: test-run environment."""

import os

# Test jobs go to their own queue namespace, so a `make run` worker never takes them.
os.environ.setdefault("DRAMATIQ_NAMESPACE", "marketplace-test")
os.environ.setdefault("MAX_UPLOAD_BYTES", str(2 * 1024 * 1024))
os.environ.setdefault("MAX_IMAGE_PIXELS", str(4_000_000))
