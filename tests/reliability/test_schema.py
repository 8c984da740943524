"""Schemathesis over the OpenAPI schema against the live test server (issue 14): every
operation, anonymous and with a seller's token, answers no server error and fails no check.

Schemathesis' own runner (``st run``) goes in a subprocess against pytest-django's live server
(a thread of this process, on the test database, with the fake word embedder), every phase
(coverage, fuzzing, stateful) and every check but those named below, deterministic, and bounded:
MAX_EXAMPLES cases per operation in fuzzing, ST_TIMEOUT seconds in all, and each operation's
coverage phase in one of the two runs. The two runs go side by
side, so the 2 cores serve both. What they write is flushed with the test's database
(``transaction=True``) and the queue namespace.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import dramatiq
import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.dedupe.helpers import candidate_for
from tests.factories import ProductFactory, ProductImageFactory, SellerFactory
from tests.support import ROOT, low_rate
from tests.visualsearch.search_helpers import add, axis
from visualsearch.spaces import space_activate

pytestmark = [
    pytest.mark.django_db(transaction=True, reset_sequences=True),
    pytest.mark.usefixtures("fresh_throttles"),
]

ST = Path(sys.executable).with_name("st")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
MAX_EXAMPLES = 5
ST_TIMEOUT = 420

# Checks that are off, and why. Everything else in `--checks all` runs.
DISABLED_CHECKS = {
    "positive_data_acceptance": "replaced by positive_data_accepted (schemathesis_hooks.py): "
    "the same check, except that a 400 may name a field whose validity depends on stored data "
    "(a category id, a photo's bytes; each listed there with its reason)",
}
# Generation settings changed from schemathesis' defaults, and why.
GENERATION = {
    "allow-x00": (
        "false",
        "the API refuses NUL in any text with a 400 on that field (PostgreSQL text cannot hold "
        "it, DRF's ProhibitNullCharactersValidator); the schema does not repeat it on every string",
    ),
}
# Operations the token run leaves out, and why.
TOKEN_RUN_EXCLUDED = {
    "DELETE /api/auth/token/": "it revokes the very token the run authenticates with, leaving "
    "the rest of the run anonymous; the anonymous run covers its 401, test_permissions its 204",
}


@pytest.fixture
def seller_token(word_space, word_embedder, settings, monkeypatch):
    """A catalog to test against: a seller (whose token this is) with a two-photo product, another
    seller's product, a duplicate pair, an active search space, and no throttling."""
    low_rate(monkeypatch, settings, search="100000/min", upload="100000/min", login="100000/min")
    # Each log-in attempt hashes the password, known user or not: a fast hasher for the hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    space_activate(name="words")
    seller = SellerFactory()
    mine = add(word_space, axis("red"), title="Red scarf", seller=seller)
    ProductImageFactory(product=mine, position=1)
    theirs = add(word_space, axis("blue"), title="Blue scarf")
    candidate_for(mine, theirs)
    ProductFactory(seller=seller, title="Green lamp")
    yield Token.objects.create(user=seller.user).key
    dramatiq.get_broker().flush_all()  # the jobs its writes enqueued


def operations_by_audience() -> tuple[list[str], list[str]]:
    """(public operations, operations for signed-in users), read from the schema's security."""
    schema = Client().get("/api/schema/?format=json").json()
    public, signed_in = [], []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            name = f"{method.upper()} {path}"
            (public if {} in operation["security"] else signed_in).append(name)
    return public, signed_in


def st_run(url: str, folder: Path, *extra: str, no_coverage: list[str] = ()) -> subprocess.Popen:
    folder.mkdir()
    generation = "\n".join(f"{key} = {value}" for key, (value, _) in GENERATION.items())
    config = folder / "schemathesis.toml"
    text = f'hooks = "{HOOKS}"\n\n[generation]\n{generation}\n'
    if no_coverage:
        names = ", ".join(f'"{name}"' for name in no_coverage)
        text += f"\n[[operations]]\ninclude-name = [{names}]\nphases.coverage.enabled = false\n"
    config.write_text(text)
    command = [
        str(ST), "--config-file", str(config), "run", f"{url}/api/schema/?format=json",
        "--url", url, "--checks", "all", "--exclude-checks", ",".join(DISABLED_CHECKS),
        "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic", "--workers", "1",
        "--request-timeout", "60", "--no-color", *extra,
    ]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    return subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_every_operation_keeps_to_the_schema_anonymous_and_with_a_sellers_token(
    live_server, seller_token, tmp_path
):
    excluded = [arg for name in TOKEN_RUN_EXCLUDED for arg in ("--exclude-name", name)]
    public, signed_in = operations_by_audience()
    # The coverage phase (hundreds of boundary cases an operation) runs once per operation: in
    # the anonymous run for a public one, with the token for the others. Anonymous, those answer
    # 401 before they read input; a public one answers the same with a token. Fuzzing and
    # stateful cases still run every operation both ways.
    runs = {
        "anonymous": st_run(live_server.url, tmp_path / "anonymous", no_coverage=signed_in),
        "seller's token": st_run(
            live_server.url, tmp_path / "token", "-H", f"Authorization: Token {seller_token}",
            *excluded, no_coverage=public,
        ),
    }  # fmt: skip
    results, deadline = {}, time.monotonic() + ST_TIMEOUT
    for name, process in runs.items():
        try:
            output, _ = process.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0] + f"\n(killed after {ST_TIMEOUT} s)"
        results[name] = (process.returncode, output)
        cases = re.search(r"Test cases:\s*\n\s*(.+)", output)
        print(f"schemathesis, {name}: {cases.group(1) if cases else output[-300:]}")
    failed = {name: output for name, (code, output) in results.items() if code != 0}
    assert not failed, "\n\n".join(
        f"===== {name}\n{output[-12000:]}" for name, output in failed.items()
    )
    for name, (_, output) in results.items():
        assert re.search(r"Tested: *2[01]\b", output), f"{name}: not every operation ran"
