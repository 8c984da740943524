"""What catalog pages show from visual search: a product's attributes, its similar items and
its photos' indexing status. Each tag fetches what a whole page needs in a constant number of
queries, so the catalog's views never call into this app."""

from django import template

from catalog.models import Product
from visualsearch.attributes import ATTRIBUTE_PARAMS
from visualsearch.search import EmptyQuery, NoActiveSpace, products_similar
from visualsearch.selectors import images_embedding_status, product_attributes
from visualsearch.spaces import space_active

register = template.Library()


@register.simple_tag
def zero_shot_attributes(product) -> list[dict]:
    """[{"name", "value", "confidence"}] of ``product``'s primary photo in the active space, in
    taxonomy order; empty before any space is active or before the photo is embedded."""
    found = product_attributes(product_ids=[product.pk], space=space_active()).get(product.pk, {})
    return [
        {
            "name": "item type" if param == "item_type" else param,
            "value": found[facet][0],
            "confidence": found[facet][1],
        }
        for facet, param in ATTRIBUTE_PARAMS.items()
        if facet in found
    ]


@register.simple_tag
def similar_products(product, k: int = 8) -> list:
    """(product, score) pairs that look like ``product``, best score first (MMR picks a varied
    set; the page shows it in score order); empty until it has vectors or when it is not
    active."""
    if not product.is_active:
        return []
    try:
        results = products_similar(product=product, k=k, diversity=0.3).results
    except (EmptyQuery, NoActiveSpace):
        return []
    return sorted(results, key=lambda pair: -pair[1])


@register.simple_tag
def photo_index_status(items) -> dict[int, dict[str, str]]:
    """{image id: {"status": "done" | "pending" | "failed", "reason"}} in the active space for
    these photos, or for every photo of these products (use their prefetched galleries)."""
    image_ids = []
    for item in items:
        if isinstance(item, Product):
            image_ids.extend(image.pk for image in item.images.all())
        else:
            image_ids.append(item.pk)
    return images_embedding_status(image_ids=image_ids, space=space_active())
