"""Two duplicate scans that find the same new pair at once (issue 14, defect 6): the second
insert used to fail on ``candidate_unique_pair``; now it updates the pair the first one made."""

import threading
import time
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from dedupe.models import DuplicateCandidate, ReviewEvent
from dedupe.services import ScanResult, _candidate_upsert
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def scored(other, probability):
    signals = SimpleNamespace(to_dict=lambda: {"token_set": probability})
    return SimpleNamespace(
        other_id=other.pk, signals=signals, probability=probability, strongest="title"
    )


def test_a_scan_that_loses_the_insert_race_updates_the_pair_instead_of_failing():
    a, b = ProductFactory(), ProductFactory()
    inserted, release = threading.Event(), threading.Event()
    first = ScanResult()

    def first_scan():
        try:
            with transaction.atomic():
                _candidate_upsert(product=a, other=b, pair=scored(b, 0.8), shas={}, result=first)
                inserted.set()
                release.wait(10)  # hold the uncommitted row while the second scan reads
        finally:
            connection.close()

    thread = threading.Thread(target=first_scan)
    thread.start()
    assert inserted.wait(10)
    threading.Timer(1.0, release.set).start()  # commit while the second insert waits on it
    second = ScanResult()
    started = time.monotonic()
    _candidate_upsert(product=b, other=a, pair=scored(a, 0.9), shas={}, result=second)
    thread.join(10)
    assert time.monotonic() - started >= 0.5  # it did wait on the first scan's row
    assert (first.created, second.created, second.updated) == (1, 0, 1)
    pair = DuplicateCandidate.objects.get()
    assert pair.probability == pytest.approx(0.9)
    assert ReviewEvent.objects.filter(candidate=pair, action="detected").count() == 1
