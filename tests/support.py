"""Plain helpers shared by tests in several apps (fixtures live in the conftest files)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import dramatiq
from django.conf import settings
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from dramatiq import Worker
from PIL import Image, ImageDraw
from rest_framework.throttling import SimpleRateThrottle

from visualsearch.compat import ensure_torchvision

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_image_bytes(
    colour=(200, 30, 30), size=(64, 64), fmt="JPEG", shape="rect", seed: int = 0
) -> bytes:
    """A small real image: a coloured shape on white."""

    rng = random.Random(seed)
    image = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(image)
    w, h = size
    box = [w * 0.2 + rng.random() * 3, h * 0.2, w * 0.8, h * 0.8 + rng.random() * 3]
    (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def worker_until(done, *, queues=("embedding",), timeout: float = 60.0) -> None:
    """Run a real dramatiq worker in this process (so it sees the test's embedders) on the real
    broker until ``done()`` is true or ``timeout`` seconds pass; the caller asserts the outcome.
    The worker is stopped in the background: its stop waits out the queue's idle poll."""
    worker = Worker(dramatiq.get_broker(), queues=set(queues), worker_threads=1)
    worker.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            time.sleep(0.2)
    finally:
        threading.Thread(target=worker.stop, daemon=True).start()


@contextlib.contextmanager
def real_worker(*queues: str):
    """A real ``rundramatiq`` subprocess on the test database, media folder and queue namespace.

    Yields the process (its stdout is the worker's log); stops it on the way out.
    """

    env = os.environ | {
        "DATABASE_NAME": connection.settings_dict["NAME"],
        "DRAMATIQ_NAMESPACE": settings.DRAMATIQ_NAMESPACE,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1",
         "--queues", *queues],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def url_routes(patterns=None, prefix=""):
    """(path with ``{name}`` for each URL parameter, view class or function) for every URL
    pattern of the project, depth first."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from url_routes(entry.url_patterns, pattern)
        elif isinstance(entry, URLPattern):
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern).lstrip("^").rstrip("$")
            view = entry.callback
            yield path, getattr(view, "cls", None) or getattr(view, "view_class", None) or view


def low_rate(monkeypatch, settings, **rates: str) -> None:
    """DRF's throttles read their rates once, at import: patch the class attribute too."""

    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", merged)


# ----------------------------------------------------------------------------- tiny open_clip
TINY = "vs-tiny-test"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def tiny_open_clip(folder: Path):
    """A random tiny open_clip model (seeded, in eval mode) saved as ``<folder>/<TINY>.pt`` with
    its config beside it, which visualsearch.embedders.get_embedder registers in every process
    that loads it. Returns ``(model, preprocess, checkpoint path)``."""

    ensure_torchvision()
    import open_clip  # noqa: PLC0415
    import torch  # noqa: PLC0415

    config = folder / f"{TINY}.json"
    config.write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(TINY)
    model.eval()
    checkpoint = folder / f"{TINY}.pt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    return model, preprocess, checkpoint
