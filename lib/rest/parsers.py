"""The JSON parser every API view loads when DRF builds ``APIView``.

DRF imports it while ``rest_framework.views`` is still being imported: this module must not
import ``rest_framework.views`` itself.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, which also refuses (400) a body nested past the parser's recursion."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(
                "JSON parse error - the body is nested too deeply."
            ) from exc
