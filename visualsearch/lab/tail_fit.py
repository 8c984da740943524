"""Fine-tune blocks 5-6 and the head conv of EfficientNet-Lite0 on the fashion set's training photos.

``python -m visualsearch.lab.tail_fit --cache var/cache`` writes
``visualsearch/weights/lite0-tail-v2.safetensors.xz`` (float16, xz-compressed: 4.8 MB), the tuned branch of the
``lite0t`` tower (``timm_tower.TunedTail``), the shipped space's tower since offline-v9. Frozen
towers with linear heads top out near 0.81 item type / 0.60 colour on validation
(docs/benchmarks.md); unfreezing the whole network is not possible on a 2-core CPU, but its last
two blocks are: block 4's output maps of the 8,000 photos (112×14×14 each, float16, 351 MB) are
cached once, and the tail trains on them in about 160 s an epoch.

Training signal: cross-entropy on articleType and baseColour (label smoothing 0.1) through two
linear heads on the tuned GeM features, horizontal flips of the maps as the only augmentation, and
BatchNorm statistics frozen at ImageNet's. Rows: the fit split of ``space_fit.split`` (the 80% by
id that embedder_eval trains on, less the validation tenth). The validation rows only report; the
20% test split is never read.

**Cross-fitting** (:func:`crossfit_features`, which ``space_fit`` applies to every tower with a
tuned tail). Fitting the projections and heads on the same rows the tail was tuned on leaks: the
tuned features of those rows separate far better than a new photo's, so the projections overfit
and text → photo loses two points (docs/benchmarks.md). So two more tails are trained, one on each
half of the fit rows (even / odd product ids), and each computes the tuned columns of the half it
never saw; the projections, heads and every choice are fitted on those out-of-fold features. The
served tail is the one trained on every fit row, which never saw a validation or test photo.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from visualsearch import offline_model as om
from visualsearch.lab.evaluation import DEFAULT_DATA, load_products
from visualsearch.lab.space_fit import split

TOWER = "lite0t"
COMMAND = "python -m visualsearch.lab.tail_fit --cache var/cache"
VERSION = "lite0-tail-v2"


def maps_cached(*, products, cache_dir: Path | None, batch_size: int = 64) -> np.ndarray:
    """Block ``TAIL_FROM - 1``'s output maps (N, C, H, W) float16 of the ImageNet body."""
    import torch  # noqa: PLC0415

    from visualsearch.timm_tower import TAIL_FROM  # noqa: PLC0415

    path = Path(cache_dir) / f"block{TAIL_FROM - 1}_maps_{len(products)}.npy" if cache_dir else None
    if path is not None and path.is_file():
        return np.load(path, mmap_mode="r")
    model, preprocess, _ = om.build_model(image_tower="lite0")
    trunk, out = model.visual.trunk, []
    with torch.inference_mode():
        for start in tqdm(range(0, len(products), batch_size), desc="block maps"):
            batch = products[start : start + batch_size]
            maps, _tap, _pixels = trunk.before_tail(
                torch.stack([preprocess(om._load_image(p.path)) for p in batch])
            )
            out.append(maps.half().numpy())
    maps = np.concatenate(out)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, maps)
    return maps


def codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    labels = sorted(set(values))
    index = {v: i for i, v in enumerate(labels)}
    return np.array([index[v] for v in values]), labels


def tail_train(
    *, maps, fit: np.ndarray, val: np.ndarray, targets: dict[str, np.ndarray],
    epochs: int = 6, lr: float = 3e-4, head_lr: float = 3e-3, seed: int = 0, log=print,
):  # fmt: skip
    """Train a ``TunedTail`` (ImageNet start) plus one linear head per facet; returns
    (tail state dict, per-epoch validation accuracy of the heads)."""
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    from visualsearch.timm_tower import TunedTail  # noqa: PLC0415

    torch.manual_seed(seed)
    model, _, _ = om.build_model(image_tower="lite0")
    body = model.visual.trunk.body
    tail = TunedTail(body)
    tail.reset_from(body)
    heads = nn.ModuleDict(
        {name: nn.Linear(body.num_features, int(y.max()) + 1) for name, y in targets.items()}
    )
    drop = nn.Dropout(0.2)
    opt = torch.optim.AdamW(
        [{"params": tail.parameters(), "lr": lr}, {"params": heads.parameters(), "lr": head_lr}],
        weight_decay=1e-4,
    )
    batch = 64
    steps = epochs * -(-len(fit) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[lr, head_lr], total_steps=steps, pct_start=0.15
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    rng = np.random.default_rng(seed)

    def batch_of(rows):
        return torch.from_numpy(np.asarray(maps[np.sort(rows)], dtype=np.float32))

    val = np.sort(val)

    history = []
    for epoch in range(epochs):
        tail.train()
        for module in tail.modules():  # BatchNorm statistics stay ImageNet's
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        order, total = rng.permutation(fit), 0.0
        for start in tqdm(range(0, len(order), batch), desc=f"epoch {epoch + 1}/{epochs}"):
            rows = np.sort(order[start : start + batch])
            x = batch_of(rows)
            flip = torch.rand(len(rows)) < 0.5
            x[flip] = x[flip].flip(3)
            feats = drop(tail(x))
            loss = sum(
                loss_fn(heads[name](feats), torch.from_numpy(y[rows]))
                for name, y in targets.items()
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(rows)
        feats = torch.from_numpy(tail_features(tail, maps, val))
        with torch.inference_mode():
            accuracy = {
                name: float((heads[name](feats).argmax(1).numpy() == y[val]).mean())
                for name, y in targets.items()
            }
        history.append({"epoch": epoch + 1, "loss": total / len(fit), **accuracy})
        log(f"epoch {epoch + 1}: loss {total / len(fit):.3f} validation {accuracy}")
    return {k: v.detach().clone().contiguous() for k, v in tail.state_dict().items()}, history


def tail_features(tail, maps, rows: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """The tuned GeM features (len(rows), C) of ``tail`` (eval mode) over ``maps[rows]``."""
    import torch  # noqa: PLC0415

    tail.eval()
    with torch.inference_mode():
        return np.concatenate([
            tail(torch.from_numpy(np.asarray(maps[rows[s : s + batch_size]], dtype=np.float32)))
            .numpy() for s in range(0, len(rows), batch_size)
        ])  # fmt: skip


def targets_of(products) -> dict[str, np.ndarray]:
    return {
        "item_type": codes([p.type for p in products])[0],
        "colour": codes([p.colour for p in products])[0],
    }


def folds_by_id(products, rows: np.ndarray) -> list[np.ndarray]:
    """The two halves of ``rows``: products with an even id, then with an odd one."""
    ids = np.array([products[i].id for i in rows], dtype=np.int64)
    rows = np.asarray(rows)
    return [np.sort(rows[ids % 2 == 0]), np.sort(rows[ids % 2 == 1])]


def out_of_fold(
    raw: np.ndarray, *, folds: list[np.ndarray], tuned_of: Callable, width: int
) -> np.ndarray:
    """``raw`` with the last ``width`` columns (the tuned part) of each fold's rows replaced by
    ``tuned_of(k, rows)``: the features of fold k's rows from the tail trained without them."""
    out = np.array(raw, copy=True)
    for k, rows in enumerate(folds):
        out[rows, -width:] = tuned_of(k, rows)
    return out


def crossfit_features(
    raw: np.ndarray, *, products, fit: np.ndarray, val: np.ndarray, cache_dir: Path | None,
    epochs: int = 6, log=print,
) -> np.ndarray:  # fmt: skip
    """``raw`` (the tuned tower's features of ``products``) with the fit rows' tuned columns
    computed out of fold (see the module docstring); about 10 min on a 2-core CPU."""
    from visualsearch.timm_tower import TunedTail  # noqa: PLC0415

    maps = maps_cached(products=products, cache_dir=cache_dir)
    targets = targets_of(products)
    folds = folds_by_id(products, fit)
    model, _, _ = om.build_model(image_tower="lite0")
    body = model.visual.trunk.body
    states = []
    for other in (folds[1], folds[0]):  # state k never saw fold k
        state, history = tail_train(maps=maps, fit=other, val=val, targets=targets,
                                    epochs=epochs, log=log)  # fmt: skip
        log(f"fold tail on {len(other)} rows: last epoch {history[-1]}")
        states.append(state)

    def tuned_of(k: int, rows: np.ndarray) -> np.ndarray:
        tail = TunedTail(body)
        tail.load_state_dict(states[k])
        return tail_features(tail, maps, rows)

    return out_of_fold(raw, folds=folds, tuned_of=tuned_of, width=body.num_features)


def main(argv: list[str] | None = None) -> None:
    from visualsearch.timm_tower import TAIL_FROM  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=om.tail_path(TOWER))
    args = parser.parse_args(argv)
    start = time.monotonic()
    products = load_products(args.data)
    fit, val, _test = split(products)
    maps = maps_cached(products=products, cache_dir=args.cache)
    state, history = tail_train(maps=maps, fit=fit, val=val, targets=targets_of(products),
                                epochs=args.epochs)  # fmt: skip
    # float16 halves the committed file; every feature is computed from these rounded weights
    state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    meta = {
        "version": VERSION, "command": COMMAND, "epochs": str(args.epochs),
        "from_block": str(TAIL_FROM), "made": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "fit_rows": str(len(fit)), "validation": str(history[-1]),
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    om.safetensors_write(state, args.out, metadata=meta)  # .xz: compressed, lossless
    print(f"wrote {args.out} in {time.monotonic() - start:.0f}s; last epoch {history[-1]}")


if __name__ == "__main__":
    main()
