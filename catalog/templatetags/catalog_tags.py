"""Template helpers of the catalog's own pages."""

from django import template

register = template.Library()


@register.filter
def lookup(mapping, key):
    """``mapping[key]``, or None: reads a per-page dict that a tag fetched in one go."""
    return mapping.get(key) if mapping else None
