"""Loaded by the ``st`` process that tests/reliability/test_schema.py starts (``hooks`` in its
config): a narrower copy of schemathesis' positive_data_acceptance check.

The built-in check fails any 400 to a request that matches the schema. Some input is refused for
what the database holds, which no schema can say: a category id that does not exist, bytes that
do not decode as a photo. Here a 400 passes only when every field it names is one listed below
for that operation, with its reason; a 400 on any other field (``k``, ``price``, ``kind``…)
fails as the built-in check would.
"""

from __future__ import annotations

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

# {operation: {field named in the 400: why the schema cannot rule it out}}
DATA_DEPENDENT_FIELDS: dict[str, dict[str, str]] = {
    "POST /api/auth/token/": {
        "non_field_errors": "which username and password pair exists",
    },
    "POST /api/products/": {"category": "which category ids exist"},
    "PUT /api/products/{id}/": {
        "category": "which category ids exist",
        "status": "a merged listing cannot be published again",
    },
    "PATCH /api/products/{id}/": {
        "category": "which category ids exist",
        "status": "a merged listing cannot be published again",
    },
    "POST /api/products/{id}/images/": {"image": "which bytes decode as a photo"},
    "POST /api/products/{id}/images/order/": {"order": "which image ids the product has"},
    "POST /api/search/": {
        "image": "which bytes decode as a photo",
        "category": "which category slugs exist",
        "seller": "which seller slugs exist",
        "max_price": "max_price below min_price: a relation between two fields",
        "non_field_errors": "a negative text that cancels the text leaves no direction to search",
    },
    "GET /api/products/": {"max_price": "max_price below min_price: a relation between two fields"},
    "GET /api/products/{product_id}/similar/": {"seller": "which seller slugs exist"},
    "GET /api/duplicates/": {"cursor": "which cursors the API issued"},
    "POST /api/duplicates/{id}/decision/": {"canonical": "which products the pair holds"},
}

ACCEPTED = {401, 403, 404, 409, 429}  # as the built-in check: who asks, what exists, how often


@schemathesis.check
def positive_data_accepted(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    status = response.status_code
    if status < 400 or status in ACCEPTED or status >= 500:  # 5xx: not_a_server_error's
        return None
    if status == 400:
        try:
            fields = set(response.json()["errors"])
        except (ValueError, KeyError, TypeError):
            fields = set()
        if fields and fields <= set(DATA_DEPENDENT_FIELDS.get(case.operation.label, {})):
            return None
    raise AssertionError(
        f"Valid data should have been accepted: {status} {response.text[:300]}"
        "\n(a 400 passes only on the fields tests/reliability/schemathesis_hooks.py lists)"
    )
