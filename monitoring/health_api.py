"""REST API for the end of the health window: releasing a healthy release, restoring health."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring import health
from releases import access as rules
from releases import serializers as s
from releases.api.common import ReleaseScoped, release_response
from releases.rest import actor, no_input, validated


class CompleteRelease(ReleaseScoped):
    @extend_schema(request=None, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """monitoring → released, failing closed: only once the monitoring window is over,
        the release is not unhealthy and every required post-release check counts as passing
        (pending, error and needs-judgement do not). Otherwise 409, with each reason in
        ``blockers``."""
        release, access = self.release_and_access()
        rules.COMPLETE.check(access)
        no_input(request)
        return release_response(health.release_if_healthy(release, by=actor(request)))


class RestoreHealth(ReleaseScoped):
    @extend_schema(request=s.ReasonSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Judge an unhealthy release healthy again, with a reason, while it is deploying or
        monitoring; refused (409) while a check that decides is still failing. A standing
        rollback recommendation lapses."""
        release, access = self.release_and_access()
        rules.RESTORE_HEALTH.check(access)
        data = validated(s.ReasonSerializer, request)
        return release_response(
            health.restore_health(release, by=request.user, reason=data["reason"])
        )
