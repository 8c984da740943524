"""What the seller's pages show from duplicate moderation; the catalog's views never call this
app."""

from django import template

from dedupe.selectors import seller_duplicate_notes as _seller_duplicate_notes
from dedupe.services import product_duplicates_check

register = template.Library()


@register.simple_tag
def seller_duplicate_notes(seller) -> dict[int, list[dict]]:
    """{product id: notes} for all of ``seller``'s products, in one go (``lookup`` it per
    row)."""
    return _seller_duplicate_notes(seller=seller)


@register.simple_tag
def product_duplicate_notes(product, limit: int = 3) -> list[dict]:
    """Possible duplicates of ``product`` (the synchronous check of its edit page)."""
    return product_duplicates_check(product=product, limit=limit)
