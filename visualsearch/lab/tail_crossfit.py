"""A cross-fitted tuned tail, measured as a candidate space (lab only; nothing here is shipped).

Tuning the tower's tail on the fit rows' labels and then fitting the projections and heads on
those same rows leaks: the tuned features of the fit rows separate far better than a new photo's,
so the projections overfit (validation loss lowest after two epochs) and text → photo loses two
points (docs/benchmarks.md, "Third attempt"). Cross-fitting removes the leak:

1. the tail (the body's blocks from ``--from-block`` on, plus the head conv) is trained on every
   fit row: that is the tail a space would serve with, and it computes the validation rows;
2. two more tails are trained, one on each half of the fit rows (even / odd product ids), and
   each computes the tuned features of the half it never saw (out-of-fold);
3. ``space_fit.run_fit`` fits the projections, heads and every choice on those features.

    python -m visualsearch.lab.tail_crossfit --cache var/cache --from-block 5 --out /tmp/cand

The tails train on the body's cached maps (``tail_fit.maps_cached``; block 4's are 351 MB): about
25 min for the three on a 2-core CPU at ``--from-block 5`` (955 s for the full one, 281 s per
half); ``run_fit`` then takes about 9 min. The full tail (reused when already there) and the
candidate's files are written under ``--out``; the report is ``--out/<VERSION>.json``. Rows: ``space_fit.split``'s fit and validation rows; the test split is
never read.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from visualsearch import offline_model as om
from visualsearch.lab import tail_fit
from visualsearch.lab.evaluation import DEFAULT_DATA, load_products
from visualsearch.lab.space_fit import image_cache_name, run_fit, split, tower_features_cached

TOWER = "lite0t"


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


def main(argv: list[str] | None = None) -> None:
    import torch  # noqa: PLC0415
    from safetensors.torch import save_file  # noqa: PLC0415

    from visualsearch import timm_tower  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument(
        "--from-block",
        type=int,
        default=5,
        help="the first body block the tail re-runs (the lite0t tower's is 6)",
    )
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    start = time.monotonic()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    # The experiment's tail starts at another block and lives under --out: patched for this
    # process only, so the committed lite0t tower is untouched.
    timm_tower.TAIL_FROM = args.from_block
    args.out.mkdir(parents=True, exist_ok=True)
    tail_file = args.out / f"tail-from-block{args.from_block}.safetensors"
    om.IMAGE_TOWERS[TOWER] = dataclasses.replace(om.IMAGE_TOWERS[TOWER], tail_file=str(tail_file))

    products = load_products(args.data)
    fit, val, _test = split(products)
    maps = tail_fit.maps_cached(products=products, cache_dir=args.cache)
    targets = {
        "item_type": tail_fit._codes([p.type for p in products])[0],
        "colour": tail_fit._codes([p.colour for p in products])[0],
    }

    def train(rows: np.ndarray) -> dict:
        state, history = tail_fit.tail_train(maps=maps, fit=np.sort(rows), val=val,
                                             targets=targets, epochs=args.epochs)  # fmt: skip
        print(f"tail on {len(rows)} rows: last epoch {history[-1]}", flush=True)
        return state

    if not tail_file.is_file():
        save_file(train(fit), str(tail_file))
    # the whole trunk's features with the full tail (cached under its digest), then the fit
    # rows' tuned columns out of fold
    model, preprocess, tokenizer = om.build_model(image_tower=TOWER)
    raw, _txt = tower_features_cached(products=products, model=model, preprocess=preprocess,
                                      tokenizer=tokenizer, cache_dir=args.cache,
                                      image_tower=TOWER)  # fmt: skip
    folds = folds_by_id(products, fit)
    states = [train(folds[1]), train(folds[0])]  # state k never saw fold k
    body = model.visual.trunk.body

    def tuned_of(k: int, rows: np.ndarray) -> np.ndarray:
        tail = timm_tower.TunedTail(body)
        tail.load_state_dict(states[k])
        tail.eval()
        with torch.inference_mode():
            return np.concatenate([
                tail(torch.from_numpy(np.asarray(maps[rows[s : s + 256]], dtype=np.float32)))
                .numpy() for s in range(0, len(rows), 256)
            ])  # fmt: skip

    crossfit = out_of_fold(raw, folds=folds, tuned_of=tuned_of, width=body.num_features)
    cache = args.out / "cache"
    cache.mkdir(exist_ok=True)
    name = image_cache_name(TOWER, len(products))
    np.savez(cache / name, x=crossfit)
    for text in args.cache.glob("text_*.npz"):
        shutil.copy(text, cache / text.name)
    report = run_fit(data_dir=args.data, out_dir=args.out, cache_dir=cache, image_tower=TOWER,
                     command="python -m visualsearch.lab.tail_crossfit "
                             + " ".join(sys.argv[1:] if argv is None else argv))  # fmt: skip
    keys = ("photo_val", "head_category", "head_colour", "text_semantic_ndcg_val", "train")
    for key in keys:
        print(f"{key}: {report.get(key)}")
    print(f"done in {time.monotonic() - start:.0f}s; the report is under {args.out}")


if __name__ == "__main__":
    main()
