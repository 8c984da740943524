"""Production settings and shared state: security headers, `check --deploy` clean with HTTPS=1,
and one cache (Redis) shared by every process, so limits are not per process (issue 14,
defects 7 and 12)."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from tests.support import ROOT

pytestmark = pytest.mark.django_db


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:

    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=os.environ | {"DATABASE_NAME": connection.settings_dict["NAME"]} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_pages_and_api_send_csp_and_permissions_policy(client):
    for url in ("/", "/api/products/", "/api/docs/"):
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "geolocation=()" in response["Permissions-Policy"]
        assert response["X-Frame-Options"] == "DENY"


def test_the_api_docs_have_no_inline_script(client):
    page = client.get("/api/docs/").content.decode()
    for chunk in page.split("<script")[1:]:
        assert chunk.lstrip().startswith("src=") or " src=" in chunk.split(">")[0], chunk[:80]


def test_check_deploy_is_clean_in_production_mode():
    env = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "HTTPS": "1"}
    done = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_https_makes_cookies_secure_and_sends_hsts():
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_SSL_REDIRECT)"
    )
    on = manage("shell", "-c", code, HTTPS="1").stdout.strip().splitlines()[-1].split()
    off = manage("shell", "-c", code, HTTPS="0").stdout.strip().splitlines()[-1].split()
    assert on == ["True", "True", "31536000", "True"]
    assert off == ["False", "False", "0", "False"]


def test_two_processes_share_one_count():
    """A throttle or log-in counter incremented in another process is seen here."""
    cache.set("shared-count", 0, timeout=60)
    code = "from django.core.cache import cache; cache.incr('shared-count'); cache.incr('shared-count')"
    env = {"DRAMATIQ_NAMESPACE": os.environ.get("DRAMATIQ_NAMESPACE", "") or _namespace()}
    for _ in range(2):
        done = manage("shell", "-c", code, **env)
        assert done.returncode == 0, done.stderr
    assert cache.get("shared-count") == 4


def _namespace() -> str:

    return settings.CACHES["default"]["KEY_PREFIX"]
