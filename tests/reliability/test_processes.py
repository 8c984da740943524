"""`make run` stays up when one of its processes dies (issue 14, defect 13): the supervisor in
``manage.py serve`` restarts a dead worker or web server with backoff and keeps the rest serving;
only Ctrl-C, SIGTERM or a process that fails to start at all stops everything."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from catalog import services
from catalog.models import ProductImage
from tests.factories import ProductFactory
from tests.reliability.process_helpers import (
    children,
    dramatiq_worker_process,
    free_port,
    http_status,
    sigkill,
    wait_for,
)
from tests.support import make_image_bytes
from visualsearch.models import ImageEmbedding
from visualsearch.supervisor import Program, Supervisor

PY = sys.executable


def python(code: str) -> list[str]:
    return [PY, "-c", code]


def in_background(supervisor: Supervisor) -> tuple[threading.Thread, list[int]]:
    """Run the supervisor in a thread; the list receives run()'s return value."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(supervisor.run()), daemon=True)
    thread.start()
    return thread, result


def gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped yet counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# ----------------------------------------------------------------------------- the supervisor
def test_a_program_that_keeps_dying_is_restarted_with_doubling_delays_and_the_rest_keep_running(
    tmp_path,
):
    runs = tmp_path / "runs"
    # Runs 1-4 crash after a second; run 5 runs long enough to count as stable, then crashes.
    flaky = python(
        "import pathlib, time\n"
        f"runs = pathlib.Path({str(runs)!r})\n"
        "n = int(runs.read_text()) + 1 if runs.exists() else 1\n"
        "runs.write_text(str(n))\n"
        "time.sleep(4.0 if n == 5 else 1.0)\n"
        "raise SystemExit(3)\n"
    )
    lines: list[str] = []
    supervisor = Supervisor(
        [Program("flaky", flaky), Program("steady", python("import time; time.sleep(120)"))],
        log=lines.append, startup_grace=0.5, backoff_first=0.1, backoff_max=0.4,
        stable_after=3.0, stop_timeout=5,
    )  # fmt: skip
    thread, result = in_background(supervisor)
    try:
        steady = wait_for(lambda: supervisor.pid("steady"), "the steady program to start")
        wait_for(lambda: len(supervisor.restarts) >= 5, "five restarts", timeout=60)
        assert supervisor.pid("steady") == steady  # never touched
    finally:
        supervisor.stop()
        thread.join(30)
    assert result == [0]
    assert [r.delay for r in supervisor.restarts[:5]] == [0.1, 0.2, 0.4, 0.4, 0.1]
    assert {(r.name, r.returncode) for r in supervisor.restarts} == {("flaky", 3)}
    assert "flaky" in lines[0] and "exited with code 3" in lines[0] and "in 0.1 s" in lines[0]
    assert gone(steady)


def test_a_program_that_dies_at_its_first_start_stops_everything(tmp_path):
    pid_file = tmp_path / "steady.pid"
    steady = python(
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    )
    failing = python(
        f"import os, time\nwhile not os.path.exists({str(pid_file)!r}): time.sleep(0.05)\n"
        "raise SystemExit(2)\n"
    )
    lines: list[str] = []
    supervisor = Supervisor(
        [Program("steady", steady), Program("web", failing)], log=lines.append,
        startup_grace=30, stop_timeout=5,
    )  # fmt: skip
    assert supervisor.run() == 1
    assert supervisor.restarts == []
    assert "web" in lines[-1] and "failed to start" in lines[-1]
    assert gone(int(pid_file.read_text()))


def test_stop_ends_every_program_and_what_it_started(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    # A program with a child of its own, as gunicorn and dramatiq have.
    parent = python(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    supervisor = Supervisor([Program("parent", parent)], log=lambda line: None, stop_timeout=5)
    thread, result = in_background(supervisor)
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), "the grandchild to start")
        parent_pid = supervisor.pid("parent")
    finally:
        supervisor.stop()
        thread.join(30)
    assert result == [0]
    assert gone(parent_pid)
    wait_for(lambda: gone(int(pid_file.read_text())), "the grandchild to be stopped", timeout=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_supervisor_takes_its_programs_with_it(tmp_path):
    """SIGKILL of the supervisor (which cannot stop anything then) still ends its programs."""
    pid_file = tmp_path / "program.pid"
    program = python(
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    )
    script = (
        "from visualsearch.supervisor import Program, Supervisor\n"
        f"Supervisor([Program('sleeper', {program!r})], log=print).run()\n"
    )
    supervisor = subprocess.Popen([PY, "-c", script], cwd=Path(__file__).resolve().parents[2])
    try:
        pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), "the program"))
        assert not gone(pid)
    finally:
        sigkill(supervisor.pid)
        supervisor.wait(10)
    wait_for(lambda: gone(pid), "the program to end with its supervisor", timeout=10)


# ----------------------------------------------------------------------------- manage.py serve
def _child(serve_pid: int, program: bytes) -> int | None:
    """The child of serve whose command line names ``program`` (dramatiq, gunicorn)."""
    for pid in children(serve_pid):
        try:
            if program in Path(f"/proc/{pid}/cmdline").read_bytes() and not gone(pid):
                return pid
        except OSError:
            continue
    return None


def _embedded(image: ProductImage) -> bool:
    return ImageEmbedding.objects.filter(image=image).exists()


@pytest.mark.django_db(transaction=True)
def test_serve_restarts_a_killed_worker_or_web_server_and_the_rest_keep_serving(
    processes, tiny_space
):
    product = ProductFactory()  # a catalog with a product: serve seeds no demo
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    serve = processes.start(
        "serve", PY, "manage.py", "serve", "--bind", f"127.0.0.1:{port}", "--web-workers", "1",
        "--keep-services",  # the test session's PostgreSQL and Redis stay up
    )  # fmt: skip
    wait_for(lambda: "Serving http" in processes.log("serve"), "serve to start its children",
             timeout=180)  # fmt: skip
    wait_for(lambda: http_status(site + "/") == 200, "the site to answer", timeout=120)
    # A connection left idle longer than gunicorn's default keep-alive (2 s) still serves the
    # next request: with that default, the server closed it under the client (the soak's
    # connection resets).
    assert _same_connection_after_idle(port, idle_s=3.5) == (200, 200)

    def add_photo(seed: int) -> ProductImage:
        checked = services.image_validate(make_image_bytes(seed=seed))
        return services.product_images_add(product=product, images=[checked])[0]

    first = add_photo(1)
    wait_for(lambda: _embedded(first), "the worker to embed a photo", timeout=120)
    # Killed well after its first start, this is a crash, not a failure to start.
    main = _child(serve.pid, b"dramatiq")
    worker = dramatiq_worker_process(main)
    grace = Supervisor.startup_grace
    wait_for(
        lambda: _uptime(main) > grace + 1, "the worker to outlive its start-up grace",
        timeout=grace + 30, interval=0.5,
    )  # fmt: skip

    sigkill(worker)  # what the OOM killer does
    assert http_status(site + "/") == 200
    assert http_status(site + f"/products/{product.pk}/") == 200
    restarted = wait_for(
        lambda: (pid := _child(serve.pid, b"dramatiq")) not in (None, main) and pid,
        "serve to start a new worker", timeout=60,
    )  # fmt: skip
    second = add_photo(2)
    wait_for(lambda: _embedded(second), "the new worker to embed a photo", timeout=120)
    assert serve.poll() is None
    assert http_status(site + "/") == 200
    log = processes.log("serve")
    assert "worker (pid" in log and "restarting it in 1 s" in log, log[-3000:]

    # The web server dies too: it comes back, and the worker is left alone meanwhile.
    web = _child(serve.pid, b"gunicorn")
    sigkill(web)
    wait_for(lambda: _child(serve.pid, b"gunicorn") not in (None, web), "a new web server")
    wait_for(lambda: http_status(site + "/") == 200, "the site to answer again", timeout=120)
    assert _child(serve.pid, b"dramatiq") == restarted
    assert "web (pid" in processes.log("serve")

    web = _child(serve.pid, b"gunicorn")
    serve.send_signal(signal.SIGINT)  # Ctrl-C stops everything
    assert serve.wait(timeout=60) == 0
    assert gone(restarted) and gone(web)


def _same_connection_after_idle(port: int, *, idle_s: float) -> tuple[int, int]:
    """Two GETs of ``/api/products/`` on one kept-alive connection, ``idle_s`` apart."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/api/products/")
        first = connection.getresponse()
        first.read()
        kept = connection.sock
        time.sleep(idle_s)
        connection.request("GET", "/api/products/")  # raises if the server closed it meanwhile
        second = connection.getresponse()
        second.read()
        assert connection.sock is kept, "the client had to open a new connection"
        return first.status, second.status
    finally:
        connection.close()


def _uptime(pid: int) -> float:
    """Seconds since process ``pid`` started (from /proc)."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = float(Path("/proc/uptime").read_text().split()[0])
    return boot - ticks / os.sysconf("SC_CLK_TCK")
