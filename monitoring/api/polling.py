"""REST API: read a release's check now."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import no_input
from monitoring import serializers as s
from monitoring.api.checks import CheckScoped
from monitoring.services.polling import poll_check_now
from releases import access as rules


class PollCheckNow(CheckScoped):
    @extend_schema(request=None, responses=s.CheckSerializer)
    def post(self, request: Request, release_id: int, check_id: int) -> Response:
        """Read the check at the poller's next tick instead of waiting for its interval."""
        access, check = self.check_for()
        rules.EDIT_CHECKS.check(access)
        no_input(request)
        return self.check_response(poll_check_now(check, by=request.user))
