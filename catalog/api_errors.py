"""One error shape for the whole API: ``{"errors": {field: [messages]}}``.

Validation errors keep their field names; errors that are not about one field go under
``non_field_errors``; errors that only have a ``detail`` (401, 403, 404, 405, 429, 503 …) go under
``detail``. Registered as REST_FRAMEWORK["EXCEPTION_HANDLER"]; catalog.api_schema documents the
shape on every error an operation can answer, and catalog.views answers it for an /api/ path that
matches no route (404) and for an unhandled error under /api/ (500).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler

NON_FIELD = "non_field_errors"


def _messages(value: Any) -> list[str]:
    """Flatten DRF's nested error details (lists of lists, dicts for list items) into strings."""
    if isinstance(value, dict):
        out: list[str] = []
        for key, inner in value.items():
            out.extend(f"{key}: {message}" for message in _messages(inner))
        return out
    if isinstance(value, list | tuple):
        return [message for item in value for message in _messages(item)]
    return [str(value)]


def errors_format(detail: Any, *, validation: bool) -> dict[str, dict[str, list[str]]]:
    """The body for an exception's ``detail``: a dict keeps its keys, anything else becomes
    ``non_field_errors`` (validation) or ``detail`` (everything else)."""
    if isinstance(detail, dict):
        key_fallback = NON_FIELD if validation else "detail"
        errors = {
            (NON_FIELD if key in (None, "__all__") else str(key)): _messages(value)
            for key, value in detail.items()
        }  # fmt: skip
        return {"errors": errors or {key_fallback: ["Invalid request."]}}
    return {"errors": {NON_FIELD if validation else "detail": _messages(detail)}}


def api_exception_handler(exc: Exception, context: dict) -> Any:
    if isinstance(exc, DjangoValidationError):
        # A service refused the write: the same 400 as a serializer error, per field.
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django renders its 500 page and logs it
    validation = isinstance(exc, exceptions.ValidationError)
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    response.data = errors_format(detail, validation=validation)
    return response


ERRORS_SCHEMA = {
    "type": "object",
    "description": "Every API error. Field errors are keyed by field name; errors not about one "
    "field are under `non_field_errors`; authentication, permission, not-found, method, "
    "throttling and availability errors are under `detail`.",
    "properties": {
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }
    },
    "required": ["errors"],
    "example": {"errors": {"image": ["Upload a valid image."]}},
}
