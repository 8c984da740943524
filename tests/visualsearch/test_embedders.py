"""The Embedder interface over open_clip: a tiny random model (the ``tiny_checkpoint`` fixture)
saved and loaded back."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.support import TINY
from visualsearch.embedders import Embedder, get_embedder


def _images():
    return [Image.new("L", (40, 30), 200), Image.new("RGB", (32, 32), (255, 0, 0))]


def test_a_tiny_open_clip_model_runs_a_forward_pass(tiny_checkpoint):
    import torch  # noqa: PLC0415

    model, preprocess, _ = tiny_checkpoint
    pixels = torch.stack([preprocess(im.convert("RGB")) for im in _images()])
    with torch.inference_mode():
        assert model.encode_image(pixels).shape == (2, 32)


def test_a_saved_checkpoint_loads_through_get_embedder_with_identical_embeddings(tiny_checkpoint):
    import open_clip  # noqa: PLC0415
    import torch  # noqa: PLC0415

    model, preprocess, ckpt = tiny_checkpoint
    embedder = get_embedder(architecture=TINY, pretrained=str(ckpt), threads=2)
    assert isinstance(embedder, Embedder)
    assert embedder.dim == 32

    images = _images()
    with torch.inference_mode():
        pixels = torch.stack([preprocess(im.convert("RGB")) for im in images])
        expected_img = torch.nn.functional.normalize(model.encode_image(pixels), dim=-1).numpy()
        tokens = open_clip.get_tokenizer(TINY)(["red circle", "blue square"])
        expected_txt = torch.nn.functional.normalize(model.encode_text(tokens), dim=-1).numpy()

    got_img = embedder.encode_images(images)
    got_txt = embedder.encode_texts(["red circle", "blue square"])
    assert got_img.dtype == np.float32 and got_txt.dtype == np.float32
    np.testing.assert_allclose(got_img, expected_img, atol=1e-5)
    np.testing.assert_allclose(got_txt, expected_txt, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got_img, axis=1), 1.0, atol=1e-5)


def test_get_embedder_returns_one_instance_per_model(tiny_checkpoint):
    _, _, ckpt = tiny_checkpoint
    first = get_embedder(architecture=TINY, pretrained=str(ckpt))
    assert get_embedder(architecture=TINY, pretrained=str(ckpt)) is first


def test_batches_give_the_same_vectors_as_one_call(tiny_checkpoint):
    _, _, ckpt = tiny_checkpoint
    embedder = get_embedder(architecture=TINY, pretrained=str(ckpt))
    images = _images() * 3
    whole = embedder.encode_images(images)
    embedder.batch_size = 2
    np.testing.assert_allclose(embedder.encode_images(images), whole, atol=1e-5)
    assert embedder.encode_texts([]).shape == (0, 32)
