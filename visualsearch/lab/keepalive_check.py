"""Does gunicorn's keep-alive close connections under clients that reuse them? (issue 14)

``python -m visualsearch.lab.keepalive_check`` starts gunicorn (gthread, 1 worker, 4 threads, the
layout of ``manage.py serve``) on a WSGI app that spends a few ms of pure-Python CPU per request,
the GIL contention that delays the worker's main loop, once per ``--keep-alive`` value, and
drives it with client threads that each reuse one connection after 1.8-2.8 s idle. It prints,
per keep-alive, the requests answered and the connections reset before any answer.
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

APP = """
def app(environ, start_response):
    total = 0
    for i in range(300_000):
        total += i
    body = b"ok" * 100
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drive(url: str, *, clients: int, requests_each: int, seed: int) -> tuple[int, list[str]]:
    answered, errors, lock = [0], [], threading.Lock()

    def client(number: int) -> None:
        pace = random.Random(seed * 1000 + number)
        session = requests.Session()
        for _ in range(requests_each):
            try:
                session.get(url, timeout=30)
                with lock:
                    answered[0] += 1
            except requests.RequestException as error:
                with lock:
                    errors.append(repr(error)[:160])
            time.sleep(1.8 + pace.random())

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered[0], errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-alive", type=int, nargs="+", default=[2, 75])
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "busy_app.py").write_text(APP)
        for keep_alive in args.keep_alive:
            port = _free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "busy_app:app", "--bind", f"127.0.0.1:{port}",
                 "--workers", "1", "--threads", "4", "--keep-alive", str(keep_alive),
                 "--log-level", "warning"],
                cwd=folder,
            )  # fmt: skip
            try:
                time.sleep(2.0)
                answered, errors = drive(
                    f"http://127.0.0.1:{port}/", clients=args.clients,
                    requests_each=args.requests, seed=args.seed,
                )  # fmt: skip
            finally:
                server.terminate()
                server.wait(timeout=30)
            print(f"keep-alive {keep_alive:>3} s: {answered} answered, {len(errors)} reset"
                  + (f" (first: {errors[0]})" if errors else ""))  # fmt: skip


if __name__ == "__main__":
    main()
