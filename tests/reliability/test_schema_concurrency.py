"""The OpenAPI schema answers concurrent first requests (issue 14).

drf-spectacular loads its extensions on the first schema request; two threads doing it at once
were a 500 on every one of them under gunicorn's thread workers. The state is per process, so the
check runs in a fresh interpreter: six threads ask for the schema together.
"""

import os
import subprocess
import sys

from tests.support import ROOT

SCRIPT = """
import threading
import django
django.setup()
from django.test import Client
codes = []
def ask():
    try:
        codes.append(str(Client().get("/api/schema/?format=json").status_code))
    except Exception as error:
        codes.append(type(error).__name__)
threads = [threading.Thread(target=ask) for _ in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(" ".join(codes))
"""


def test_six_concurrent_first_schema_requests_are_all_answered():
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "visualsearch.settings"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["200"] * 6, done.stdout + done.stderr[-2000:]
