"""`manage.py backup` and `restore` round-trip: products, photos, vectors, HNSW indexes and
moderator decisions come back equal in another database, and a restore refuses what it should.

The commands run as subprocesses, as an operator runs them, on the test database (the data is
committed: a transactional test) and then on a fresh database of the same embedded server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg import sql

from dedupe.services import candidate_decide
from tests.dedupe.helpers import candidate_for, listed, moderator, unit
from tests.factories import ProductImageFactory
from tests.support import ROOT
from visualsearch import backup
from visualsearch.models import ImageEmbedding
from visualsearch.spaces import space_register

COMPARED = [
    "catalog_product",
    "catalog_productimage",
    "visualsearch_embeddingspace",
    "visualsearch_imageembedding",
    "visualsearch_titleembedding",
    "dedupe_duplicatecandidate",
    "dedupe_reviewevent",
    "auth_user",
]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=os.environ | env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def connect(dbname: str) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"] or None, user=db["USER"], dbname=dbname, autocommit=True
    )


def rows(dbname: str, table: str) -> list[tuple]:
    """Every row, every column as PostgreSQL prints it (vectors exactly as stored)."""
    query = sql.SQL("SELECT t::text FROM {} AS t ORDER BY id").format(sql.Identifier(table))
    with connect(dbname) as conn:
        return [row for (row,) in conn.execute(query).fetchall()]


def hnsw_indexes(dbname: str) -> dict[str, str]:
    with connect(dbname) as conn:
        return dict(
            conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef ILIKE '%USING hnsw%'"
            ).fetchall()
        )


@pytest.fixture
def other_database():
    """A database name on the same server that the restore creates; dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restored"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with connect("postgres") as conn:
        conn.execute(drop)
    yield name
    with connect("postgres") as conn:
        conn.execute(drop)


@pytest.fixture
def catalog_with_decisions():
    """Two listings with photos (one has a second photo), image and title vectors in a space
    with its HNSW indexes, and a moderator's dismissal of the pair."""
    space = space_register(name="backup-test", architecture="x", pretrained="y", dimension=8)
    a = listed(space, vector=unit(1, 0.2, 0.1), title="Red velvet scarf")
    b = listed(space, vector=unit(0.9, 0.3), title="Red velvet scarf, long", price="52.00")
    extra = ProductImageFactory(product=a, position=1)
    ImageEmbedding.objects.create(
        image=extra, product=a, space=space, vector=[0.1, -0.25, 0.3333, 0, 0, 0, 0, 0.9],
        image_sha256=extra.sha256,
    )  # fmt: skip
    pair = candidate_for(a, b)
    candidate_decide(
        candidate_id=pair.pk, moderator=moderator(), action="dismiss", reason="variant",
        note="different lengths",
    )  # fmt: skip
    return [a, b]


@pytest.mark.django_db(transaction=True)
def test_a_backup_restored_into_a_fresh_database_has_the_same_products_vectors_and_decisions(
    catalog_with_decisions, other_database, settings, tmp_path
):
    source = connection.settings_dict["NAME"]
    folder, restored_media = tmp_path / "backup", tmp_path / "restored-media"
    models_dir = tmp_path / "models"
    (models_dir / "space").mkdir(parents=True)
    (models_dir / "space" / "weights.pt").write_bytes(b"\x00checkpoint\xff" * 100)

    made = manage(
        "backup", str(folder),
        DATABASE_NAME=source, MEDIA_ROOT=str(settings.MEDIA_ROOT), MODELS_DIR=str(models_dir),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["database"]["tables"]["visualsearch_imageembedding"] == 3
    assert manifest["media"]["count"] == 3 and manifest["media"]["referenced_missing"] == []

    done = manage(
        "restore", str(folder),
        DATABASE_NAME=other_database, MEDIA_ROOT=str(restored_media),
        MODELS_DIR=str(tmp_path / "restored-models"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3 files copied" in done.stdout

    for table in COMPARED:
        before = rows(source, table)
        assert before, table
        assert rows(other_database, table) == before, table
    assert hnsw_indexes(other_database) == hnsw_indexes(source) != {}
    for product in catalog_with_decisions:
        for image in product.images.all():
            restored = (restored_media / image.file.name).read_bytes()
            assert restored == (settings.MEDIA_ROOT / image.file.name).read_bytes()
    assert (tmp_path / "restored-models" / "space" / "weights.pt").read_bytes() == (
        models_dir / "space" / "weights.pt"
    ).read_bytes()

    # A second restore into the now non-empty database is refused, unless --force.
    again = manage("restore", str(folder), DATABASE_NAME=other_database,
                   MEDIA_ROOT=str(restored_media))  # fmt: skip
    assert again.returncode != 0
    assert "is not empty" in again.stderr and "--force" in again.stderr
    forced = manage("restore", str(folder), "--force", DATABASE_NAME=other_database,
                    MEDIA_ROOT=str(restored_media))  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert rows(other_database, "dedupe_reviewevent") == rows(source, "dedupe_reviewevent")


@pytest.mark.django_db
def test_a_restore_refuses_a_folder_that_is_not_a_whole_backup_and_a_database_with_tables(
    settings, tmp_path
):
    settings.MODELS_DIR = tmp_path / "models"
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("restore", str(tmp_path / "nowhere"))
    with pytest.raises(CommandError, match="no manifest.json: it is not a backup"):
        call_command("restore", str(tmp_path))

    (settings.MEDIA_ROOT / "x").mkdir(parents=True)
    (settings.MEDIA_ROOT / "x" / "a.jpg").write_bytes(b"photo")
    folder = tmp_path / "backup"
    call_command("backup", str(folder), stdout=io.StringIO())
    with pytest.raises(CommandError, match="is not empty .* --force"):
        call_command("restore", str(folder))  # the test database has tables

    (folder / "media" / "x" / "a.jpg").write_bytes(b"other")
    with pytest.raises(CommandError, match="does not match its checksum"):
        call_command("restore", str(folder), "--force")
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(CommandError, match="not a valid backup manifest"):
        call_command("restore", str(folder), "--force")
    with pytest.raises(CommandError, match="exists and is not an empty folder"):
        call_command("backup", str(folder))


@pytest.mark.django_db
def test_a_backup_without_pg_dump_or_whose_dump_fails_says_so_and_leaves_no_folder(
    monkeypatch, settings, tmp_path
):
    settings.MODELS_DIR = tmp_path / "models"
    settings.EMBEDDED_POSTGRES = False
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(CommandError, match="No pg_dump on PATH"):
        call_command("backup", str(tmp_path / "one"))

    monkeypatch.setattr(backup, "pg_tool", lambda name: "/bin/false")
    with pytest.raises(CommandError, match=r"pg_dump of .* failed \(exit 1\)"):
        call_command("backup", str(tmp_path / "two"), stdout=io.StringIO())
    assert not (tmp_path / "two").exists()
