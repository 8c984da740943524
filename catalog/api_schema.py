r"""The OpenAPI schema says what the API does (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]).

drf-spectacular reads the serializers; this reads the rest from the views themselves:

- who may call: an operation whose permission classes let an anonymous request through is
  documented with the empty security requirement ``{}`` (a token or a session is optional);
- every error status an operation can answer, each with the one error shape
  (catalog.api_errors): 400 when it takes input, 401 always (a wrong token is refused even where
  none is needed), 403 for a write (the owner, a role, a session's CSRF token) or where a
  signed-in user without a role is refused, 404 for a path with an id or a page number, 415 for a
  body, 429 for a throttled view, and what a view declares itself (409, 503, …);
- the exact text of a decimal (catalog.api_fields.DecimalField.pattern), a non-blank string
  (``\\S``), a list that may not be empty, and what a serializer adds (``openapi_request_extra``).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions, serializers

from catalog import api_fields
from catalog.api_errors import ERRORS_SCHEMA


class _SignedInUser(AnonymousUser):
    """A plain account for the permission probe: signed in, no seller profile, no group."""

    @property
    def is_anonymous(self):
        return False

    @property
    def is_authenticated(self):
        return True


class _Probe:
    """What the permission classes look at: the method and the user."""

    def __init__(self, method: str, user):
        self.method, self.user, self.auth = method, user, None


ERROR_DESCRIPTIONS = {
    "400": "Invalid input: the errors name each field (`non_field_errors` for the rest)",
    "401": "Not signed in, or the token is invalid (the response has `WWW-Authenticate: Token`)",
    "403": "Signed in, but not allowed (not the owner, not the role, or a session request "
    "without its CSRF token)",
    "404": "No such resource (or page)",
    "415": "Unsupported media type for the request body",
    "429": "Too many requests; `Retry-After` says when to try again",
}


class AutoSchema(openapi.AutoSchema):
    def _allowed(self, user) -> bool:
        probe = _Probe(self.method, user)
        return all(p.has_permission(probe, self.view) for p in self.view.get_permissions())

    def get_auth(self):
        auths = [requirement for requirement in super().get_auth() if requirement]
        if self._allowed(AnonymousUser()):
            auths.append({})
        return auths

    def _error_statuses(self, operation: dict) -> dict[str, str]:
        parameters = operation.get("parameters", [])
        public = {} in operation.get("security", [{}])
        statuses = {"401": ERROR_DESCRIPTIONS["401"]}
        if public:
            statuses["401"] = "The token is invalid (an anonymous request needs none)"
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            statuses["400"] = ERROR_DESCRIPTIONS["400"]
        unsafe = self.method not in permissions.SAFE_METHODS
        if unsafe or not self._allowed(_SignedInUser()):
            statuses["403"] = ERROR_DESCRIPTIONS["403"]
        if "{" in self.path or any(p["name"] == "page" for p in parameters):
            statuses["404"] = ERROR_DESCRIPTIONS["404"]
        if "requestBody" in operation:
            statuses["415"] = ERROR_DESCRIPTIONS["415"]
        if self.view.get_throttles():
            statuses["429"] = ERROR_DESCRIPTIONS["429"]
        return statuses

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        errors = ResolvedComponent(
            name="Errors", type=ResolvedComponent.SCHEMA, object="Errors", schema=ERRORS_SCHEMA
        )
        self.registry.register_on_missing(errors)
        responses = operation.setdefault("responses", {})
        for code, description in self._error_statuses(operation).items():
            responses.setdefault(code, {"description": description})
        for code, response in responses.items():
            if code[0] in "45":
                response["content"] = {"application/json": {"schema": errors.ref}}
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListField) and not field.allow_empty:
            schema.setdefault("minItems", 1)
        if direction == "request" and isinstance(field, api_fields.DecimalField):
            schema["pattern"] = field.pattern
        elif (
            direction == "request"
            and isinstance(field, api_fields.CharField)
            and not field.allow_blank
            and field.trim_whitespace
            and "pattern" not in schema
        ):
            schema["pattern"] = r"\S"  # it is trimmed first: blanks alone are blank
        return schema

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        extra = getattr(serializer, "openapi_request_extra", None)
        return {**schema, **extra} if direction == "request" and extra else schema
