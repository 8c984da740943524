"""The services the project starts by itself, and the settings that describe them."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from catalog.models import Product
from catalog.tasks import catalog_import_task
from tests.support import make_image_bytes, real_worker

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.django_db
def test_the_database_is_postgresql_with_pgvector_at_least_0_8():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        (version,) = cursor.fetchone()
    assert tuple(int(p) for p in version.split(".")[:2]) >= (0, 8)


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                          env=os.environ | env, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_bad_setting_stops_start_up_with_a_message_naming_it():
    result = _manage("check", EMBED_BATCH_SIZE="lots")
    assert result.returncode != 0
    assert "EMBED_BATCH_SIZE='lots' is not an integer" in result.stderr


def test_an_unreachable_database_url_is_reported_plainly():
    # `check` needs no database (tests/test_settings.py); `showmigrations` does.
    result = _manage("showmigrations", DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert "Cannot connect to PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_job_goes_through_redis_to_a_real_worker_and_lands_in_the_database(tmp_path):

    (tmp_path / "a.jpg").write_bytes(make_image_bytes())
    (tmp_path / "jobs.csv").write_text(
        "external_id,title,price,currency,images\nJOB-1,Worker made this,9.50,EUR,a.jpg\n"
    )
    assert settings.DRAMATIQ_BROKER_URL
    with real_worker("imports") as worker:
        catalog_import_task.send(str(tmp_path / "jobs.csv"), "worker-test", str(tmp_path))
        deadline = time.monotonic() + 90
        while (
            time.monotonic() < deadline and not Product.objects.filter(external_id="JOB-1").exists()
        ):
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.3)
        product = Product.objects.get(external_id="JOB-1")
        assert product.seller.slug == "worker-test"
        assert product.images.count() == 1
