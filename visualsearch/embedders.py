"""One interface over every image/text model the search uses: open_clip, loaded once per process.

No ORM and no Django imports: workers, commands and tests call this module directly. Every
model is an open_clip model, whether it comes from a pretrained tag (downloaded on machines with
internet) or from a local checkpoint file (our offline space, see ``offline_model``). A custom
checkpoint may carry a sibling open_clip model config JSON; it is registered before loading so
``create_model_and_transforms`` knows the architecture.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from visualsearch.compat import ensure_torchvision
from visualsearch.offline_model import resolved_config_path
from visualsearch.vectors import rows_normalise as _normalise  # the one copy; see vectors.py


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps images and texts into one L2-normalised float32 space."""

    name: str
    dim: int

    def encode_images(self, images: list[Image.Image]) -> np.ndarray: ...

    def encode_texts(self, texts: list[str]) -> np.ndarray: ...


def register_sibling_config(*, architecture: str, pretrained: str) -> Path | None:
    """Register ``<checkpoint dir>/<architecture>.json`` with open_clip if it exists.

    Our custom configs may hold a portable marker instead of a machine path (see
    ``offline_model.resolve_config``); the config is rewritten to a temporary resolved copy.
    """
    path = Path(pretrained)
    if not path.is_file():
        return None
    candidate = path.with_name(f"{architecture}.json")
    if not candidate.is_file():
        return None

    resolved = resolved_config_path(candidate)
    ensure_torchvision()
    import open_clip  # noqa: PLC0415

    open_clip.add_model_config(resolved)
    return resolved


class OpenClipEmbedder:
    """An open_clip model behind the :class:`Embedder` interface.

    Images are converted to RGB and run through the model's own eval transform in batches under
    ``torch.inference_mode()``; ``threads`` sets torch's intra-op thread count (None keeps it).
    """

    def __init__(
        self,
        *,
        architecture: str,
        pretrained: str,
        threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        ensure_torchvision()
        import open_clip  # noqa: PLC0415
        import torch  # noqa: PLC0415

        if threads:
            torch.set_num_threads(threads)
        register_sibling_config(architecture=architecture, pretrained=pretrained)
        model, _, preprocess = open_clip.create_model_and_transforms(
            architecture, pretrained=pretrained or None, device="cpu"
        )
        model.eval()
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(architecture)
        self.architecture = architecture
        self.pretrained = pretrained
        self.name = f"{architecture}:{Path(pretrained).name if pretrained else 'random'}"
        self.batch_size = batch_size
        with torch.inference_mode():
            self.dim = int(model.encode_text(self.tokenizer(["probe"])).shape[-1])
        # The raw channel: the frozen image tower's own pooled features, for trunks that report
        # them (the offline space's, ``timm_tower``); 0 for any other model.
        trunk = getattr(model.visual, "trunk", None)
        has_raw = hasattr(trunk, "raw_channel_dim") and hasattr(model.visual, "head")
        self.raw_dim = int(trunk.raw_channel_dim) if has_raw else 0

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        return self.encode_images_raw(images)[0]

    def encode_images_raw(self, images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray | None]:
        """(space vectors, raw-channel vectors or None when the model has no raw channel), both
        L2-normalised, from one pass of the image tower."""
        import torch  # noqa: PLC0415

        out, raws = [], []
        visual = self.model.visual
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = images[start : start + self.batch_size]
                pixels = torch.stack([self.preprocess(im.convert("RGB")) for im in batch])
                if self.raw_dim:
                    features = visual.trunk.raw_features(pixels)
                    trunk = visual.trunk
                    standardised = (features - trunk.feature_mean) / trunk.feature_std
                    out.append(visual.head(standardised).float().numpy())
                    raws.append(features[:, : self.raw_dim].float().numpy())
                else:
                    out.append(self.model.encode_image(pixels).float().numpy())
        if not out:
            empty = np.zeros((0, self.dim), dtype=np.float32)
            return empty, (np.zeros((0, self.raw_dim), dtype=np.float32) if self.raw_dim else None)
        raw = _normalise(np.concatenate(raws)) if self.raw_dim else None
        return _normalise(np.concatenate(out)), raw

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        import torch  # noqa: PLC0415

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                tokens = self.tokenizer(list(texts[start : start + self.batch_size]))
                out.append(self.model.encode_text(tokens).float().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.concatenate(out))


def images_encode(embedder: Embedder, images: list) -> tuple[np.ndarray, np.ndarray | None]:
    """(space vectors, raw-channel vectors or None) of ``images``: an embedder without a raw
    channel (any but the offline space's, or a test's stand-in) gives None for the second."""
    if getattr(embedder, "raw_dim", 0):
        return embedder.encode_images_raw(images)
    return np.asarray(embedder.encode_images(images)), None


_cache: dict[tuple[str, str], OpenClipEmbedder] = {}
_cache_lock = threading.Lock()


def get_embedder(*, architecture: str, pretrained: str, threads: int | None = None) -> Embedder:
    """Return the process-wide embedder for (architecture, pretrained), loading it once.

    The lock makes concurrent first calls (e.g. threaded web workers) load the model only once.
    """
    key = (architecture, str(pretrained))
    with _cache_lock:
        embedder = _cache.get(key)
        if embedder is None:
            embedder = OpenClipEmbedder(
                architecture=architecture, pretrained=str(pretrained), threads=threads
            )
            _cache[key] = embedder
        return embedder


def clear_cache() -> None:
    """Forget loaded models (tests, or after a checkpoint is replaced on disk)."""
    with _cache_lock:
        _cache.clear()
