"""Cross-fitting the tuned tail (lab/tail_fit): which rows each tail sees, and the out-of-fold
features (pure)."""

from types import SimpleNamespace

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from visualsearch.lab.tail_fit import folds_by_id, out_of_fold


def test_the_fit_rows_split_into_two_disjoint_folds_by_product_id():
    products = [SimpleNamespace(id=i) for i in (3, 8, 10, 11, 14, 21, 40)]
    fit = np.array([6, 0, 1, 2, 3, 5])  # row 4 (id 14) is not a fit row
    even, odd = folds_by_id(products, fit)
    assert even.tolist() == [1, 2, 6]  # ids 8, 10, 40
    assert odd.tolist() == [0, 3, 5]  # ids 3, 11, 21
    assert sorted([*even, *odd]) == sorted(fit)


def test_out_of_fold_replaces_only_the_tuned_columns_of_each_fold_s_rows_by_its_own_tail():
    raw = np.arange(5 * 4, dtype=np.float32).reshape(5, 4)
    folds = [np.array([0, 3]), np.array([1])]
    seen = []

    def tuned_of(k, rows):
        seen.append((k, rows.tolist()))
        return np.full((len(rows), 2), -(k + 1), dtype=np.float32)

    out = out_of_fold(raw, folds=folds, tuned_of=tuned_of, width=2)
    assert seen == [(0, [0, 3]), (1, [1])]
    assert out[[0, 3], 2:].tolist() == [[-1, -1], [-1, -1]]
    assert out[1, 2:].tolist() == [-2, -2]
    np.testing.assert_array_equal(out[:, :2], raw[:, :2])  # the base features are untouched
    np.testing.assert_array_equal(out[[2, 4]], raw[[2, 4]])  # rows outside the folds too
    assert raw[0, 2] == 2  # the input is not modified


def test_space_fit_refuses_the_unseen_kinds_check_on_a_tower_whose_tail_saw_every_kind(tmp_path):

    (tmp_path / "styles.csv").write_text("id,masterCategory\n")
    with pytest.raises(CommandError, match="tuned tail"):
        call_command("space_fit", "--data", str(tmp_path), "--exclude-master", "Footwear",
                     "--image-tower", "lite0t", "--out", str(tmp_path / "out"))  # fmt: skip


def test_tail_features_are_the_tail_s_output_whatever_the_batching():
    import torch  # noqa: PLC0415

    from visualsearch import timm_tower  # noqa: PLC0415
    from visualsearch.lab.tail_fit import tail_features  # noqa: PLC0415

    trunk = timm_tower.vs_efficientnet_lite0_ms4().eval()
    channels = trunk.body.blocks[timm_tower.TAIL_FROM - 1][-1].conv_pwl.out_channels
    maps = np.random.default_rng(0).normal(size=(5, channels, 7, 7)).astype(np.float16)
    rows = np.array([4, 0, 2])
    got = tail_features(trunk.tuned, maps, rows, batch_size=2)
    with torch.inference_mode():
        whole = trunk.tuned(torch.from_numpy(maps[rows].astype(np.float32))).numpy()
    assert got.shape == (3, trunk.body.num_features)
    np.testing.assert_allclose(got, whole, rtol=1e-5, atol=1e-5)
