"""DRF classes that every API view loads when DRF builds ``APIView``: the JSON parser, the
browsable renderer and the OPTIONS metadata.

They live apart from the project's other REST conventions because DRF imports them while
``rest_framework.views`` is still being imported: a module that imports ``rest_framework.views``
itself cannot provide them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request

# DRF's OPTIONS description and its browsable HTML page build a form from the view's
# ``serializer_class`` (and ``queryset`` for PUT). Action endpoints here validate their body
# with ``validated()`` and have neither, which made DRF fail with an AssertionError (500). Such a
# view is described without its form; its input is documented in the schema.


class Metadata(SimpleMetadata):
    def determine_actions(self, request: Request, view: Any) -> dict[str, Any]:
        try:
            return super().determine_actions(request, view)
        except AssertionError:
            return {}


class BrowsableRenderer(BrowsableAPIRenderer):
    def get_context(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Syntax colours come as an inline <style>, which the Content-Security-Policy refuses.
        return {**super().get_context(*args, **kwargs), "code_style": None}

    def get_rendered_html_form(self, data: Any, view: Any, method: str, request: Request) -> Any:
        try:
            return super().get_rendered_html_form(data, view, method, request)
        except AssertionError:
            return None

    def get_raw_data_form(self, data: Any, view: Any, method: str, request: Request) -> Any:
        try:
            return super().get_raw_data_form(data, view, method, request)
        except AssertionError:
            return None


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, which also refuses (400) a body nested past the parser's recursion."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(
                "JSON parse error - the body is nested too deeply."
            ) from exc
