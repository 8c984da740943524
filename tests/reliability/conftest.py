"""Fixtures for the process-level reliability tests (test_processes.py, test_recovery.py)."""

from __future__ import annotations

import pytest

from tests.reliability.process_helpers import Processes
from tests.support import TINY, TINY_CONFIG, tiny_open_clip
from visualsearch.spaces import space_activate, space_register


@pytest.fixture
def processes(tmp_path):
    """Starts real processes on the test database; every one of them is killed at the end."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


@pytest.fixture
def tiny_space(tmp_path):
    """A tiny random open_clip model, registered and active: real embedding jobs in a second."""
    _, _, checkpoint = tiny_open_clip(tmp_path)
    space_register(name="tiny", architecture=TINY, pretrained=str(checkpoint),
                   dimension=TINY_CONFIG["embed_dim"])  # fmt: skip
    return space_activate(name="tiny")
