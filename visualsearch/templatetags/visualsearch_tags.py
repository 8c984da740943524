"""Template helpers for pages outside the search app (the product page shows attributes)."""

from django import template

from visualsearch.attributes import ATTRIBUTE_PARAMS
from visualsearch.selectors import product_attributes
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
