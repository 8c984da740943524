"""The API's JSON parser: DRF's, with a nesting limit.

Python's ``json`` recurses once per nested array or object, so a body nested a few thousand
levels deep raised RecursionError, a 500. Bodies nested deeper than MAX_DEPTH are refused with a
400 before they are decoded; no API input is nested more than a few levels.
"""

from __future__ import annotations

import io

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


def json_depth_exceeds(raw: bytes, *, limit: int) -> bool:
    """True when brackets outside strings nest deeper than ``limit``. One linear pass."""
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if json_depth_exceeds(raw, limit=MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.")
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:  # belt and braces: the scan above should make this unreachable
            raise ParseError("JSON parse error - nested too deeply.") from None
