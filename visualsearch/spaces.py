"""Register and activate embedding spaces (blue/green).

A space is registered with its own HNSW indexes, one for image vectors and one for title
vectors, each an expression + partial index so spaces of different dimensions share one table:

    CREATE INDEX ... USING hnsw ((vector::halfvec(D)) halfvec_cosine_ops) WHERE space_id = N

Search keeps using the active space while a new one is registered and backfilled; activating
switches in one transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction

from visualsearch.embedders import Embedder, get_embedder
from visualsearch.heads import heads_load
from visualsearch.models import EmbeddingSpace, ImageEmbedding, TitleEmbedding


def _create_hnsw(
    table: str, index: str, space: EmbeddingSpace, *, column: str = "vector", dim: int = 0
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {index} ON {table} USING hnsw "
            f"(({column}::halfvec({int(dim or space.dimension)})) halfvec_cosine_ops) "
            f"WITH (m = {int(settings.HNSW_M)}, ef_construction = {int(settings.HNSW_EF_CONSTRUCTION)}) "
            f"WHERE space_id = {int(space.pk)}"
        )


@transaction.atomic
def space_register(
    *, name: str, architecture: str, pretrained: str, dimension: int, notes: dict | None = None
) -> EmbeddingSpace:
    """Create (or update the settings of) a space and its HNSW indexes. Does not activate it."""
    space, created = EmbeddingSpace.objects.update_or_create(
        name=name,
        defaults={"architecture": architecture, "pretrained": pretrained, "dimension": dimension}
        | ({"notes": notes} if notes is not None else {}),
    )
    _create_hnsw(ImageEmbedding._meta.db_table, space.image_index_name, space)
    _create_hnsw(TitleEmbedding._meta.db_table, space.title_index_name, space)
    raw_dim = space_raw_dim(space)
    if raw_dim:
        _create_hnsw(ImageEmbedding._meta.db_table, space.raw_index_name, space,
                     column="raw_vector", dim=raw_dim)  # fmt: skip
    return space


def space_raw_dim(space: EmbeddingSpace) -> int:
    """The width of the space's raw channel: set by the training domain in its heads
    (``heads.safetensors`` beside the checkpoint), 0 when it has none."""
    heads = heads_load(space.pretrained)
    return heads.domain.dim if heads is not None and heads.domain is not None else 0


@transaction.atomic
def space_activate(*, name: str) -> EmbeddingSpace:
    space = EmbeddingSpace.objects.select_for_update().get(name=name)
    EmbeddingSpace.objects.filter(is_active=True).exclude(pk=space.pk).update(is_active=False)
    space.is_active = True
    space.save(update_fields=["is_active", "updated_at"])
    return space


def space_active() -> EmbeddingSpace | None:
    return EmbeddingSpace.objects.filter(is_active=True).first()


def embedder_for(space: EmbeddingSpace) -> Embedder:
    """The space's model, loaded once per process. Search, embedding jobs and training all load
    it here (call it as ``spaces.embedder_for``, so a test replaces it in one place)."""
    return get_embedder(
        architecture=space.architecture,
        pretrained=space.pretrained,
        threads=settings.EMBED_THREADS or None,
    )
