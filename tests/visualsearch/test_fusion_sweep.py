"""The lab's settings sweep: each setting measured on the same queries, gains against the
first setting with their paired standard error."""

from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings

from visualsearch.lab.fusion_sweep import _sweep


def test_each_setting_is_measured_under_its_overrides_and_compared_with_the_first():
    seen, before = [], settings.FUSION_FACET_WEIGHT

    def measure():
        weight = settings.FUSION_FACET_WEIGHT
        seen.append(weight)
        return {"score": np.array([0.5, 0.5, 0.5, 0.5]) + weight * np.array([1.0, 0.0, 1.0, 2.0])}

    grid = [{"FUSION_FACET_WEIGHT": 0.0}, {"FUSION_FACET_WEIGHT": 0.5}]
    report = _sweep(split="validation", grid=grid, measure=measure)
    assert seen == [0.0, 0.5]
    base, moved = report["FUSION_FACET_WEIGHT=0.0"], report["FUSION_FACET_WEIGHT=0.5"]
    assert base["score"] == (pytest.approx(0.5), 0.0, 0.0)
    mean, gain, error = moved["score"]
    assert mean == pytest.approx(1.0) and gain == pytest.approx(0.5)
    # gains 0.5, 0, 0.5, 1: sample SD sqrt(1/6), over sqrt(4) queries
    assert error == pytest.approx(np.sqrt(1 / 6) / 2)
    assert settings.FUSION_FACET_WEIGHT == before  # the overrides are undone
