"""Visual search's answers to what the catalog announces (connected in ``apps.ready``)."""

from __future__ import annotations

from visualsearch.services import embeddings_enqueue


def embed_changed_content(sender, *, image_ids=(), product_ids=(), **kwargs) -> None:
    """New photos and changed product text get embedding jobs in the active space."""
    embeddings_enqueue(image_ids=image_ids, product_ids=product_ids)
