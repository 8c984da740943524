"""Real processes for the reliability tests: workers, web servers and ``serve`` on the test
database, each in its own session, found and killed again by a marker in their environment, so
a failing test leaves nothing running."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.support import ROOT

MARKER = "RELIABILITY_TEST_PROCESS"


class Processes:
    """Starts commands with one marker; :meth:`kill_all` SIGKILLs every process that carries
    it (children and grandchildren included, whoever their parent is now)."""

    def __init__(self, folder: Path, **env: str) -> None:
        self.folder = folder
        self.marker = uuid.uuid4().hex
        self.env = (
            os.environ
            | {
                "DATABASE_NAME": connection.settings_dict["NAME"],
                "DRAMATIQ_NAMESPACE": settings.DRAMATIQ_NAMESPACE,
                "MEDIA_ROOT": str(settings.MEDIA_ROOT),
                "PYTHONUNBUFFERED": "1",
                MARKER: self.marker,
            }
            | env
        )
        self.logs: dict[str, Path] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        """``args`` in a new session, output to ``<folder>/<name>.log`` (:meth:`log` reads it)."""
        log = self.folder / f"{name}.log"
        self.logs[name] = log
        with open(log, "a") as handle:
            return subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def worker(self, name: str = "worker", *queues: str) -> subprocess.Popen:
        """A real ``rundramatiq`` (one worker process, one thread) on these queues (all if none)."""
        args = ["--queues", *queues] if queues else []
        return self.start(name, sys.executable, "manage.py", "rundramatiq", "--processes", "1",
                          "--threads", "1", *args)  # fmt: skip

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def pids(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if f"{MARKER}={self.marker}".encode() in environ.split(b"\0"):
                found.append(int(entry.name))
        return found

    def kill_all(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not self.pids(), "every test process to be gone", timeout=20)


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing ")"
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def dramatiq_worker_process(main_pid: int, timeout: float = 60) -> int:
    """The worker process under a ``rundramatiq`` (which execs dramatiq's main process)."""
    return wait_for(lambda: children(main_pid), "dramatiq's worker process", timeout=timeout)[0]


def sigkill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def wait_for(predicate: Callable[[], object], what: str, *, timeout: float = 90,
             interval: float = 0.1):  # fmt: skip
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, **kwargs) -> int | None:
    """The status of a GET (or of ``urllib.request.Request(url, **kwargs)``); None when nothing
    answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, **kwargs), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def other_connections() -> int:
    """Client connections to the test database other than this process's: a killed worker's
    stay until PostgreSQL notices that the client went away (which releases its locks)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]
