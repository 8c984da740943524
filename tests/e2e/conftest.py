"""End-to-end harness: the real site in real headless Chromium.

One session fixture, ``live_site``, builds a dedicated database (``<test db name>_e2e``, dropped
and recreated each run, so the dev database is never touched), migrates it, seeds a small demo
catalog, registers a tiny random open_clip model as the active embedding space, embeds the
catalog, then starts gunicorn on a free port and a real ``rundramatiq`` worker on its own queue
namespace. Both are stopped at the end; their logs land in ``artifacts/e2e/``.

Browser fixtures: ``browser`` (Debian's chromium through Playwright), ``page`` (a fresh context
per test whose every loaded page is screenshotted to ``artifacts/e2e/<test>/NN-<path>.png``), and
``login(page, username)``. The demo accounts (shopper, seller1, seller2, moderator, admin) all
have the password ``live_site.password``.

Relevance is not the point here (the model is random): journeys search with a photo of the very
product they expect, or check plumbing rather than ranking.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from tests.support import TINY, TINY_CONFIG, make_image_bytes, tiny_open_clip

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
PASSWORD = "e2e-Pass-4321"
ACCOUNTS = ("shopper", "seller1", "seller2", "moderator", "admin")
SPACE = "e2e-tiny"
DEMO_PRODUCTS = int(os.environ.get("E2E_DEMO_PRODUCTS", "24"))


def pytest_collection_modifyitems(config, items):
    """Every test in this folder is an e2e test, and skips (with the reason) without chromium."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)
            if CHROMIUM is None:
                item.add_marker(pytest.mark.skip(reason="Debian's chromium is not installed"))


# ----------------------------------------------------------------------------- the live site
@dataclass
class LiveSite:
    url: str
    env: dict
    password: str = PASSWORD
    artifacts: Path = ARTIFACTS
    processes: list = field(default_factory=list)

    def manage(self, *args: str, timeout: float = 600) -> str:
        """Run a manage.py command against the e2e database; returns its stdout."""
        return _manage(self.env, *args, timeout=timeout)

    def python(self, code: str, timeout: float = 120) -> str:
        """Run Django code (``manage.py shell -c``) against the e2e database, e.g. to read rows
        a journey should have written. Print JSON and ``json.loads`` the result."""
        return self.manage("shell", "-c", code, timeout=timeout)

    def json(self, code: str) -> object:
        return json.loads(self.python(code).strip().splitlines()[-1])


def _manage(env: dict, *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _e2e_database(settings) -> tuple[str, dict]:
    """The e2e database name and the environment that points manage.py at it."""
    db = settings.DATABASES["default"]
    base = db.get("TEST", {}).get("NAME") or f"test_{db['NAME']}"
    name = f"{base}_e2e"
    env = {"DATABASE_NAME": name}
    if os.environ.get("DATABASE_URL"):
        parts = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    return name, env


def _drop_database(settings, name: str) -> None:

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db.get("HOST") or None, port=db.get("PORT") or None, user=db.get("USER") or None,
        password=db.get("PASSWORD") or None, dbname="postgres", autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited ({process.returncode}):\n{log.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {timeout}s:\n{log.read_text()[-4000:]}")


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    process.log_handle = handle
    return process


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    process.log_handle.close()


@pytest.fixture(scope="session")
def live_site(tmp_path_factory) -> LiveSite:

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    work = tmp_path_factory.mktemp("e2e")
    name, db_env = _e2e_database(settings)
    _drop_database(settings, name)
    env = os.environ | db_env | {
        "DRAMATIQ_NAMESPACE": f"{settings.DRAMATIQ_NAMESPACE}-e2e",
        "MEDIA_ROOT": str(work / "media"),
        "DEBUG": "0",
        "THROTTLE_SEARCH": "10000/min", "THROTTLE_UPLOAD": "10000/min",
        "THROTTLE_LOGIN": "10000/min",
        "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    _manage(env, "migrate", "--noinput")
    _manage(env, "seed_demo", "--products", str(DEMO_PRODUCTS), "--duplicates", "2")
    _, _, checkpoint = tiny_open_clip(work)
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from visualsearch.spaces import space_register\n"
        f"space_register(name={SPACE!r}, architecture={TINY!r}, pretrained={str(checkpoint)!r},"
        f" dimension={TINY_CONFIG['embed_dim']})\n"
        f"for user in get_user_model().objects.filter(username__in={list(ACCOUNTS)!r}):\n"
        f"    user.set_password({PASSWORD!r}); user.save()\n"
    )
    _manage(env, "shell", "-c", code)
    _manage(env, "reindex", "--space", SPACE)
    _manage(env, "activate_space", SPACE)

    port = _free_port()
    site = LiveSite(url=f"http://127.0.0.1:{port}", env=env)
    server_log, worker_log = ARTIFACTS / "server.log", ARTIFACTS / "worker.log"
    server = _start(
        [sys.executable, "-m", "gunicorn", "visualsearch.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--threads", "2", "--timeout", "120",
         "--access-logfile", "-"],
        env, server_log,
    )  # fmt: skip
    site.processes.append(server)
    worker = _start(
        [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "2"],
        env, worker_log,
    )  # fmt: skip
    site.processes.append(worker)
    try:
        _wait_for_http(site.url + "/", server, server_log)
        yield site
    finally:
        for process in site.processes:
            _stop(process)


# ----------------------------------------------------------------------------- the browser
@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")[:60] or "home"


@pytest.fixture
def page(browser, live_site, request):
    """A fresh browser context; every page that finishes loading is screenshotted."""
    folder = ARTIFACTS / _slug(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    context = browser.new_context(base_url=live_site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    counter = {"n": 0}

    def shoot(name: str | None = None) -> Path:
        counter["n"] += 1

        label = name or _slug(urlsplit(page.url).path)
        path = folder / f"{counter['n']:02d}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    page.on("load", lambda _: shoot())
    page.shoot = shoot  # a journey may also take one after an in-page change
    yield page
    try:
        shoot("last")
    except PlaywrightTimeout as exc:  # an artifact, not an assertion: a busy CI box may be slow
        warnings.warn(f"final screenshot of {request.node.name} timed out: {exc}", stacklevel=1)
    finally:
        context.close()


@pytest.fixture
def login(live_site):
    """login(page, "seller1"): log in through the login form."""

    def do(page, username: str, password: str = PASSWORD) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        assert page.get_by_role("link", name=username).is_visible(), "login failed"

    return do


@pytest.fixture
def photo_file(tmp_path):
    """photo_file(name, colour=..., seed=...) → a real JPEG on disk, for <input type=file>."""

    def make(name: str = "photo.jpg", **kwargs) -> Path:
        path = tmp_path / name
        path.write_bytes(make_image_bytes(size=(160, 160), **kwargs))
        return path

    return make
