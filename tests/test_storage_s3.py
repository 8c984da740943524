"""Media through django-storages' S3 backend, against moto's S3 server on loopback."""

import socket
import subprocess
import sys
import time

import boto3
import pytest
from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage

from tests.support import make_image_bytes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3_endpoint():
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


def test_a_product_image_round_trips_through_the_s3_backend(s3_endpoint):
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test",
                   "region_name": "us-east-1"}  # fmt: skip
    boto3.client("s3", endpoint_url=s3_endpoint, **credentials).create_bucket(Bucket="media")
    storage = S3Storage(bucket_name="media", endpoint_url=s3_endpoint, access_key="test",
                        secret_key="test", region_name="us-east-1", file_overwrite=False)  # fmt: skip
    content = make_image_bytes((10, 120, 200))
    name = storage.save("products/ab/abc.jpg", ContentFile(content))
    assert storage.exists(name)
    with storage.open(name) as handle:
        assert handle.read() == content
    assert name in storage.url(name)
    storage.delete(name)
    assert not storage.exists(name)
