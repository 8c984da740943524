"""The offline space's image trunk: colour histogram and saved standardisation."""

import numpy as np
import pytest
import torch

from visualsearch import offline_model as om
from visualsearch import timm_tower
from visualsearch.lab.space_fit import image_cache_name
from visualsearch.timm_tower import HIST_BINS, MultiScaleEfficientNet, colour_histogram


def _image(rgb, *, size=32, background=None, box=None):
    pixels = torch.ones(1, 3, size, size) if background else torch.zeros(1, 3, size, size)
    colour = torch.tensor(rgb, dtype=torch.float32).view(3, 1, 1)
    if box:
        top, left, bottom, right = box
        pixels[0, :, top:bottom, left:right] = colour
    else:
        pixels[0] = colour.expand(3, size, size)
    return pixels


def test_a_red_photo_on_white_puts_all_its_weight_in_the_red_bin():
    hist = colour_histogram(_image((0.95, 0.05, 0.05), background=True, box=(8, 8, 24, 24)))
    assert hist.shape == (1, HIST_BINS)
    red_bin = 3 * 16 + 0 * 4 + 0
    assert hist[0, red_bin].item() == pytest.approx(1.0, abs=0.05)


def test_an_all_white_photo_is_counted_rather_than_left_empty():
    hist = colour_histogram(torch.ones(2, 3, 16, 16))
    assert torch.allclose(hist.sum(dim=1), torch.ones(2))
    assert hist[0, HIST_BINS - 1].item() == pytest.approx(1.0)


def test_blue_and_green_photos_differ():
    blue = colour_histogram(_image((0.1, 0.2, 0.9)))
    green = colour_histogram(_image((0.1, 0.8, 0.2)))
    assert blue.argmax().item() != green.argmax().item()


def test_the_trunk_reports_standardised_features_and_keeps_its_statistics_in_the_state_dict():
    trunk = timm_tower.vs_efficientnet_lite0_ms().eval()
    x = torch.randn(4, 3, 64, 64)
    with torch.inference_mode():
        raw = trunk(x).numpy()  # a fresh trunk's standardisation is the identity
    assert raw.shape == (4, trunk.num_features)
    trunk.standardisation_fit(raw)
    with torch.inference_mode():
        standardised = trunk(x).numpy()
    np.testing.assert_allclose(standardised, trunk.standardise(raw), atol=1e-4)
    np.testing.assert_allclose(standardised.mean(axis=0), 0, atol=1e-4)

    copy = MultiScaleEfficientNet(trunk.body)
    copy.load_state_dict(trunk.state_dict())
    with torch.inference_mode():
        np.testing.assert_allclose(copy(x).numpy(), standardised, atol=1e-5)


def test_the_second_trunk_feeds_the_lite_normalisation_and_gem_pools_while_the_first_still_loads():
    first = timm_tower.vs_efficientnet_lite0_ms().eval()
    second = timm_tower.vs_efficientnet_lite0_ms2().eval()
    second.body.load_state_dict(first.body.state_dict())
    pixels = torch.rand(2, 3, 64, 64)
    clip_input = (pixels - second.pixel_mean) / second.pixel_std  # what open_clip hands the trunk
    with torch.inference_mode():
        raw = second.raw_features(clip_input)
        body = second.body
        h = body.bn2(body.conv_head(body.blocks(body.bn1(body.conv_stem((pixels - 0.5) / 0.5)))))
        gem = h.clamp(min=1e-6).pow(3).mean(dim=(2, 3)).pow(1 / 3)
        old = first.raw_features(clip_input)
    n = body.num_features
    np.testing.assert_allclose(raw[:, :n].numpy(), gem.numpy(), rtol=1e-4, atol=1e-5)
    # the colour histogram is the same in both; the first trunk's pooled features are not GeM
    np.testing.assert_allclose(raw[:, -HIST_BINS:].numpy(), old[:, -HIST_BINS:].numpy(), atol=1e-6)
    assert not np.allclose(raw[:, :n].numpy(), old[:, :n].numpy(), atol=1e-3)


def test_the_tuned_branch_starts_as_the_body_s_own_tail_and_only_it_moves_when_tuned():
    trunk = timm_tower.vs_efficientnet_lite0_ms4().eval()
    trunk.tuned.reset_from(trunk.body)
    n = trunk.body.num_features
    assert trunk.num_features == 2 * n + HIST_BINS + trunk.body.blocks[3][-1].conv_pwl.out_channels
    assert trunk.raw_channel_dim == n
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        before = trunk.raw_features(x)
    # the fourth part re-runs the body's tail: at ImageNet's (here random) start it equals GeM
    np.testing.assert_allclose(before[:, -n:].numpy(), before[:, :n].numpy(), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        for p in trunk.tuned.conv_head.parameters():
            p.add_(0.1)
    with torch.inference_mode():
        after = trunk.raw_features(x)
    np.testing.assert_allclose(after[:, :-n].numpy(), before[:, :-n].numpy(), atol=1e-6)
    assert not np.allclose(after[:, -n:].numpy(), before[:, -n:].numpy(), atol=1e-3)
    assert any(k.startswith("tuned.") for k in trunk.state_dict())
    # the branch re-runs the body from block TAIL_FROM: its blocks are the body's from there on
    assert len(trunk.tuned.blocks) == len(trunk.body.blocks) - timm_tower.TAIL_FROM


def test_the_lite0t_tower_loads_its_committed_tail():
    path = om.tail_path("lite0t")
    assert path is not None and path.is_file(), "the tuned tail is committed with the code"
    model, _, _ = om.build_model(image_tower="lite0t")
    trunk = model.visual.trunk
    assert not torch.allclose(trunk.tuned.conv_head.weight, trunk.body.conv_head.weight)
    assert trunk.tuned.conv_head.weight.dtype == torch.float32  # stored float16, served float32


def test_a_tuned_tower_s_feature_cache_names_its_tail_and_the_others_keep_their_names(
    tmp_path, monkeypatch
):
    assert image_cache_name("lite0", 8000) == "image_vs_efficientnet_lite0_ms2_224_8000.npz"
    named = image_cache_name("lite0t", 8000)
    assert named.startswith("image_vs_efficientnet_lite0_ms4_224_8000_")
    refitted = tmp_path / "tail.safetensors"
    refitted.write_bytes(b"another tail")
    monkeypatch.setattr(om, "tail_path", lambda tower: refitted if tower == "lite0t" else None)
    assert image_cache_name("lite0t", 8000) != named
