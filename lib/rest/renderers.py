"""How an API view describes itself: the browsable HTML renderer and the OPTIONS metadata.

DRF loads both when it builds ``APIView``, while ``rest_framework.views`` is still being
imported: this module must not import ``rest_framework.views`` itself.
"""

from __future__ import annotations

from typing import Any

from rest_framework.metadata import SimpleMetadata
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
