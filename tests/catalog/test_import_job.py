import io
import time
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog.models import ImportJob, ImportJobStatus, Product
from catalog.tasks import import_job_run_task
from tests.factories import SellerFactory
from tests.support import make_image_bytes, real_worker

CSV = (
    "external_id,title,price,currency,category,images\n"
    "A-1,Red mug,9.50,EUR,Home > Kitchen,a.jpg\n"
    "A-2,,3.00,EUR,,\n"
    "A-3,Blue mug,7.00,EUR,Home > Kitchen,missing.jpg\n"
    "A-4,Green mug,5,USD,,b.jpg;a.jpg\n"
)


def images_zip() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.jpg", make_image_bytes(seed=1))
        archive.writestr("b.jpg", make_image_bytes(colour=(0, 0, 200), seed=2))
    return SimpleUploadedFile("photos.zip", buffer.getvalue(), "application/zip")


def upload(client, csv_text=CSV, with_zip=True):
    data = {"csv_file": SimpleUploadedFile("c.csv", csv_text.encode(), "text/csv")}
    if with_zip:
        data["images_zip"] = images_zip()
    return client.post("/seller/imports/", data)


@pytest.mark.django_db
def test_the_dashboard_stores_the_upload_and_queues_the_job(
    seller_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(seller_client)
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.seller == seller_client.seller
    assert job.status == ImportJobStatus.QUEUED
    assert len(callbacks) == 1
    page = seller_client.get("/seller/").content.decode()
    assert f"Import #{job.pk}" in page


@pytest.mark.django_db
def test_a_file_that_is_not_a_zip_is_refused_next_to_its_field(seller_client):
    response = seller_client.post(
        "/seller/imports/",
        {
            "csv_file": SimpleUploadedFile("c.csv", CSV.encode(), "text/csv"),
            "images_zip": SimpleUploadedFile("p.zip", b"nope", "application/zip"),
        },
    )
    assert response.status_code == 400
    assert response.context["import_form"].errors["images_zip"] == ["This is not a ZIP file."]
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_the_job_imports_good_rows_and_reports_bad_ones(seller_client):
    upload(seller_client)
    job = ImportJob.objects.get()
    import_job_run_task.fn(job.pk)  # the actor's body, in this process
    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE
    assert (job.total, job.processed, job.percent) == (4, 4, 100)
    assert (job.created_count, job.error_count) == (2, 2)
    titles = set(
        Product.objects.filter(seller=seller_client.seller).values_list("title", flat=True)
    )
    assert titles == {"Red mug", "Green mug"}
    assert Product.objects.get(external_id="A-4").images.count() == 2

    status = seller_client.get(f"/seller/imports/{job.pk}/").json()
    assert status["status"] == "done"
    assert status["errors"] == 2
    report = seller_client.get(status["error_report_url"])
    assert report.status_code == 200
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert lines[0] == "row,external_id,reason"
    assert [line.split(",")[:2] for line in lines[1:]] == [["3", "A-2"], ["4", "A-3"]]
    assert "missing.jpg" in lines[2]

    # running the same message again (a redelivery) changes nothing
    import_job_run_task.fn(job.pk)
    assert Product.objects.filter(seller=seller_client.seller).count() == 2


@pytest.mark.django_db
def test_a_csv_without_the_required_columns_fails_with_a_reason(seller_client):
    upload(seller_client, csv_text="name,cost\nx,1\n", with_zip=False)
    job = ImportJob.objects.get()
    import_job_run_task.fn(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJobStatus.FAILED
    assert "missing column(s): external_id, price, title" in job.message
    assert seller_client.get(f"/seller/imports/{job.pk}/").json()["error_report_url"] is None


@pytest.mark.django_db
def test_another_seller_cannot_see_an_import(seller_client, client):
    upload(seller_client)
    job = ImportJob.objects.get()
    other = SellerFactory()

    stranger = Client()
    stranger.force_login(other.user)
    assert stranger.get(f"/seller/imports/{job.pk}/").status_code == 404
    assert stranger.get(f"/seller/imports/{job.pk}/errors.csv").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_dashboard_import(seller_client):
    with real_worker("imports") as worker:
        assert upload(seller_client).status_code == 302
        job = ImportJob.objects.get()
        deadline = time.monotonic() + 120
        status = {}
        while time.monotonic() < deadline:
            status = seller_client.get(f"/seller/imports/{job.pk}/").json()
            if status["status"] in {"done", "failed"}:
                break
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.5)
        assert status["status"] == "done", status
        assert (status["created"], status["errors"]) == (2, 2)
