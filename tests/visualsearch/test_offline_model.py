"""The offline EfficientNet-Lite0 + MiniLM space: portable config, and training that helps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from visualsearch import offline_model as om
from visualsearch.embedders import clear_cache, get_embedder

COLOURS = {
    "red": (220, 30, 30),
    "blue": (30, 60, 220),
    "green": (30, 170, 40),
    "yellow": (235, 220, 30),
}
SHAPES = ("circle", "square")


def _catalog(copies: int = 4):
    """Coloured shapes on white with matching titles, jittered so copies differ."""
    rng = np.random.default_rng(0)
    items = []
    for colour, rgb in COLOURS.items():
        for shape in SHAPES:
            for _ in range(copies):
                im = Image.new("RGB", (64, 64), (250, 250, 250))
                draw = ImageDraw.Draw(im)
                x, y = rng.integers(4, 14, size=2)
                box = [int(x), int(y), int(x) + 40, int(y) + 40]
                (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=rgb)
                items.append((im, om.product_text(f"{colour} {shape}", "toy")))
    return items


def _retrieval_accuracy(embedder, items) -> float:
    """Share of "<colour> <shape>" queries whose top image has that colour and shape."""
    images = [im for im, _ in items]
    labels = [text.split(".")[0] for _, text in items]
    queries = [f"{c} {s}" for c in COLOURS for s in SHAPES]
    sims = embedder.encode_texts(queries) @ embedder.encode_images(images).T
    return float(
        np.mean([labels[int(np.argmax(row))] == q for q, row in zip(queries, sims, strict=True)])
    )


def test_product_text_joins_the_parts_that_are_present():
    assert om.product_text("Red Tee", "Tshirts", None) == "Red Tee. Tshirts"
    assert om.product_text("Red Tee.", None, "red") == "Red Tee. red"


def test_the_saved_config_holds_no_machine_path_and_resolves_at_load_time(tmp_path):
    path = om.write_config(tmp_path)
    text = path.read_text()
    assert om.MINILM_MARKER in text and "/site-packages/" not in text
    resolved = json.loads(om.resolved_config_path(path).read_text())
    assert resolved["text_cfg"]["hf_model_name"] == om._minilm_path()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    items = _catalog()
    untrained_dir = tmp_path_factory.mktemp("untrained")
    model, _, _ = om.build_model()
    untrained_ckpt, _ = om.save_space(model=model, out_dir=untrained_dir)
    result = om.checkpoint_train(
        items=items, out_dir=tmp_path_factory.mktemp("space"), max_seconds=20, progress=False
    )
    yield items, untrained_ckpt, result
    clear_cache()


@pytest.mark.slow
def test_training_lowers_the_contrastive_loss_and_respects_the_time_limit(trained):
    _, _, result = trained
    losses = [h["val_loss"] for h in result.history]
    assert result.metrics["best_val_loss"] < losses[0]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.metrics["seconds"] <= 20 + 5


@pytest.mark.slow
def test_training_raises_text_to_image_retrieval_above_the_untrained_model(trained):
    items, untrained_ckpt, result = trained
    before = _retrieval_accuracy(
        get_embedder(architecture=om.ARCHITECTURE, pretrained=str(untrained_ckpt)), items
    )
    after = _retrieval_accuracy(
        get_embedder(architecture=result.architecture, pretrained=str(result.checkpoint_path)),
        items,
    )
    assert after > before
    assert after >= 0.75


@settings(max_examples=60, deadline=None)
@given(
    types=st.lists(st.integers(-1, 4), min_size=1, max_size=120),
    colours=st.lists(st.integers(0, 3), min_size=120, max_size=120),
    size=st.integers(2, 64),
    seed=st.integers(0, 2**16),
)
def test_a_hard_batch_is_one_type_in_mixed_colours_plus_one_colour_in_other_types(
    types, colours, size, seed
):
    types = np.array(types)
    colours = np.array(colours[: len(types)])
    idx = om.hard_batch(types, colours, size=size, rng=np.random.default_rng(seed))
    assert len(set(idx.tolist())) == len(idx) == min(size, len(types))
    assert idx.min() >= 0 and idx.max() < len(types)
    if not (types >= 0).any():
        return
    # first, one known type: as many of its rows as it has, up to half the batch
    anchor = types[idx[0]]
    assert anchor >= 0
    block = min(size // 2, int((types == anchor).sum()))
    assert (types[idx[:block]] == anchor).all()
    # then one colour of that type, in other types: as many as exist, up to half the batch
    picked = set(idx.tolist())

    def colour_block_complete(c):
        rows = np.flatnonzero((colours == c) & (types != anchor))
        return sum(r in picked for r in rows.tolist()) >= min(size // 2, len(rows))

    assert any(colour_block_complete(c) for c in set(colours[types == anchor].tolist()))
