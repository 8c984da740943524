"""API input fields that accept what the OpenAPI schema says, and refuse the rest per field.

DRF's fields coerce: its CharField takes ``0`` as "0", IntegerField takes "5", BooleanField takes
"yes", FloatField takes ``true``. In a JSON body the schema's types are the contract, so a value
of another JSON type is a 400 on its field here. Form and query values are text by nature: there
a number must be written as the schema's examples write it (digits, a decimal point). Decimals
are text in both (the API returns prices as "12.50"), in the pattern the schema shows.

The input serializers of every app use these fields; catalog.api_schema documents them.
"""

from __future__ import annotations

import re

from rest_framework import serializers
from rest_framework.utils import html

INTEGER_TEXT = re.compile(r"^[-+]?\d+$")
NUMBER_TEXT = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


def _from_json(field: serializers.Field) -> bool:
    """Whether the field's value came from a JSON body (not a form or a query string)."""
    data = getattr(field.root, "initial_data", None)
    return data is not None and not html.is_html_input(data)


class CharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, str) and not _from_json(self):
            if not INTEGER_TEXT.search(data):
                self.fail("invalid")
        elif isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class FloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, str) and not _from_json(self):
            if not NUMBER_TEXT.search(data):
                self.fail("invalid")
        elif isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class BooleanField(serializers.BooleanField):
    """JSON ``true``/``false``; in a form "true" or "false" (the search page's checkbox sends
    "true"), not DRF's "1", "yes", "on", ..."""

    def to_internal_value(self, data):
        # A form without the box at all gives DRF's ``False`` (default_empty_html).
        if not isinstance(data, bool) and (_from_json(self) or data not in ("true", "false")):
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


class DecimalField(serializers.DecimalField):
    """Text such as "12.50": at least one digit before the point, at most ``decimal_places``
    after it, no sign when the minimum is 0 or more. An optional field also takes "" for "none",
    as a form sends an empty box (JSON ``null`` only where ``allow_null``). :attr:`pattern` is
    what the schema shows."""

    @property
    def pattern(self) -> str:
        sign = "" if self.min_value is not None and self.min_value >= 0 else "-?"
        whole = self.max_digits - self.decimal_places
        number = rf"{sign}\d{{1,{whole}}}(?:\.\d{{1,{self.decimal_places}}})?"
        return rf"^{number}$" if self.required else rf"^(?:{number})?$"

    def validate_empty_values(self, data):
        if data == "" and not self.required:
            return (True, self.get_default())  # none: the default, or left out
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.search(self.pattern, data):
            self.fail("invalid")
        return super().to_internal_value(data)


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id: a JSON integer, or a form's digits."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not _from_json(self):
            if not INTEGER_TEXT.search(data):
                self.fail("incorrect_type", data_type=type(data).__name__)
        elif isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)
