"""Settings read the environment and nothing else (issue 15): importing them, and the commands that
need no services (an image build, CI, an editor), start no server and create no file; the entry
points start what settings describe."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from tests.support import ROOT
from visualsearch.infra import embedded_postgres_socket_dir

# What a shell may have set that points the project at other services or folders.
ELSEWHERE = ("DATABASE_URL", "DATABASE_NAME", "DRAMATIQ_BROKER_URL", "CACHE_URL", "MEDIA_ROOT",
             "MODELS_DIR")  # fmt: skip


def run(args: list[str], var_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """``args`` run from the project root with its data in ``var_dir`` and nothing elsewhere."""
    base = {name: value for name, value in os.environ.items() if name not in ELSEWHERE}
    base |= {"VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "visualsearch.settings"}
    return subprocess.run(
        args,
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def processes_mentioning(path: Path) -> list[str]:
    """Command lines of running processes that name ``path`` (postgres -D …, redis-server …)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(path) in cmdline:
            found.append(cmdline)
    return found


@pytest.fixture
def var_dir(tmp_path):
    folder = tmp_path / "var"
    folder.mkdir()
    return folder


def test_django_setup_with_an_empty_var_dir_starts_nothing_and_writes_nothing(var_dir):
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.DATABASES)"
    )
    done = run([sys.executable, "-c", code], var_dir)
    assert done.returncode == 0, done.stderr
    assert str(var_dir / "pg") in done.stdout  # the embedded server's socket dir, guessed
    assert list(var_dir.iterdir()) == []
    assert processes_mentioning(var_dir) == []


@pytest.mark.parametrize(
    "command",
    [["check"], ["makemigrations", "--check", "--dry-run"], ["collectstatic", "--noinput"]],
    ids=" ".join,
)
def test_commands_that_need_no_services_succeed_with_an_empty_var_dir_and_start_nothing(
    var_dir, command
):
    done = run([sys.executable, "manage.py", *command], var_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    if command[0] == "collectstatic":
        # collectstatic writes STATIC_ROOT (VAR_DIR/static) and nothing else.
        assert [path.name for path in var_dir.iterdir()] == ["static"]
        assert (var_dir / "static" / "css").is_dir()
    else:
        assert list(var_dir.iterdir()) == []
    if command[0] == "makemigrations":
        assert "No changes detected" in done.stdout
    assert processes_mentioning(var_dir) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("five percent", "DEDUPE_MIN_PRICE_CHANGE='five percent' is not a decimal number"),
        ("NaN", "DEDUPE_MIN_PRICE_CHANGE='NaN' is not a finite number"),
        ("-0.1", "DEDUPE_MIN_PRICE_CHANGE=-0.1 must be >= 0"),
    ],
)
def test_a_bad_dedupe_min_price_change_stops_start_up_with_a_message_naming_it(
    var_dir, value, message
):
    done = run([sys.executable, "manage.py", "check"], var_dir, DEDUPE_MIN_PRICE_CHANGE=value)
    assert done.returncode != 0
    assert message in done.stderr


def test_a_command_that_needs_the_database_starts_it_where_settings_then_find_it(tmp_path):
    """A VAR_DIR too long for a unix socket in pgdata: the server puts it in a runtime dir, the
    entry point tells Django, and a later plain ``django.setup()`` reads it from postmaster.pid."""

    var_dir = tmp_path / ("v" * 100)  # var_dir/pg/.s.PGSQL.5432 exceeds a socket path's 107 bytes
    # The queue and cache stay on this run's Redis: only PostgreSQL is started here.
    shared = {"DRAMATIQ_BROKER_URL": settings.DRAMATIQ_BROKER_URL, "CACHE_URL": settings.CACHE_URL}
    connect = (
        "from django.db import connection; connection.ensure_connection(); "
        "print(connection.settings_dict['HOST'])"
    )
    try:
        started = run([sys.executable, "manage.py", "shell", "-c", connect], var_dir, **shared)
        assert started.returncode == 0, started.stderr
        socket_dir = (var_dir / "pg" / "postmaster.pid").read_text().splitlines()[4]
        assert socket_dir != str(var_dir / "pg")
        assert started.stdout.splitlines()[-1] == socket_dir

        code = f"import django; django.setup(); {connect}"
        found = run([sys.executable, "-c", code], var_dir, **shared)
        assert found.returncode == 0, found.stderr
        assert found.stdout.splitlines()[-1] == socket_dir
    finally:
        runtime_dir = embedded_postgres_socket_dir(var_dir / "pg")
        stopped = run([sys.executable, "manage.py", "local_services", "stop"], var_dir, **shared)
        if runtime_dir != var_dir / "pg":
            shutil.rmtree(runtime_dir, ignore_errors=True)
    assert "embedded PostgreSQL: stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    assert processes_mentioning(var_dir) == []
