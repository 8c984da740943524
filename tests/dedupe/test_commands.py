"""The dedupe_scan and dedupe_train commands."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from dedupe import scoring
from dedupe.comparison import PairSignals
from dedupe.models import CandidateStatus, DuplicateCandidate, ScanRun
from tests.dedupe.helpers import listed, photo_of, unit
from tests.factories import CategoryFactory, ProductFactory, SellerFactory
from tests.support import real_worker
from visualsearch.spaces import space_activate, space_register


@pytest.mark.django_db(transaction=True)
def test_dedupe_scan_goes_through_a_real_worker_and_fills_the_queue():
    space_register(name="tiny", architecture="x", pretrained="y", dimension=8)
    space = space_activate(name="tiny")
    shirts = CategoryFactory(name="Shirts")
    original = listed(space, vector=unit(1, 0.05), title="Aurelia Women Red Linen Shirt",
                      brand="Aurelia", category=shirts)  # fmt: skip
    copy = listed(space, vector=unit(1, 0.07), title="Aurelia Red Linen Shirt - Women",
                  photo=photo_of("Aurelia Women Red Linen Shirt"),
                  brand="Aurelia", category=shirts, seller=SellerFactory())  # fmt: skip
    others = ["Oakhaven Blue Denim Jeans", "Tidewell Black Leather Boots", "Solstice Wool Cap"]
    for i, title in enumerate(others):
        listed(space, vector=unit(*([0] * (i + 2) + [1])), title=title)
    with real_worker("dedupe"):
        out = io.StringIO()
        call_command("dedupe_scan", "--batch", "2", "--wait", "--timeout", "240", stdout=out)
    run = ScanRun.objects.get()
    assert (run.batches, run.batches_done, run.products_done) == (3, 3, 5)
    assert f"scan {run.pk} done: 5 products; created 1, updated 1" in out.getvalue()
    candidate = DuplicateCandidate.objects.get()
    assert (candidate.product_a_id, candidate.product_b_id) == (original.pk, copy.pk)


@pytest.mark.django_db
def test_dedupe_scan_without_wait_only_enqueues():
    ProductFactory.create_batch(3)
    out = io.StringIO()
    call_command("dedupe_scan", "--batch", "2", stdout=out)
    assert "3 active products in 2 jobs" in out.getvalue()
    assert ScanRun.objects.get().batches_done == 0


@pytest.mark.django_db
def test_training_from_decisions_refuses_with_too_few_decisions(tmp_path):
    with pytest.raises(CommandError, match="at least 10 confirmed and 10 dismissed"):
        call_command("dedupe_train", "--from-decisions", "--out", str(tmp_path / "m.json"))
    assert not (tmp_path / "m.json").exists()


@pytest.mark.django_db
def test_training_from_decisions_writes_a_model_that_follows_the_moderators(tmp_path):
    for i in range(24):
        a, b = sorted([ProductFactory(), ProductFactory()], key=lambda p: p.pk)
        confirmed = i % 2 == 0
        DuplicateCandidate.objects.create(
            product_a=a, product_b=b, probability=0.6,
            status=CandidateStatus.CONFIRMED if confirmed else CandidateStatus.DISMISSED,
            signals={"image_best_cos": 0.97 if confirmed else 0.6, "token_set": 0.5 + i / 100},
        )  # fmt: skip
    out = io.StringIO()
    call_command("dedupe_train", "--from-decisions", "--out", str(tmp_path / "m.json"), stdout=out)
    assert "12 confirmed and 12 dismissed" in out.getvalue()

    model = scoring.model_load(tmp_path / "m.json")
    assert (
        "moderator decisions" in json.loads((tmp_path / "m.json").read_text())["meta"]["trained_on"]
    )
    high = scoring.score(PairSignals(image_best_cos=0.97, token_set=0.6), model)
    low = scoring.score(PairSignals(image_best_cos=0.6, token_set=0.6), model)
    assert high > 0.5 > low
