"""REST API for a project's rollback webhook secret: showing and rotating it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lib.rest.input import no_input
from monitoring.services.rollback import (
    reveal_rollback_webhook_secret,
    rotate_rollback_webhook_secret,
)
from releases.access import get_project_for


class RollbackSecretRevealSerializer(serializers.Serializer):
    secret = serializers.CharField(
        help_text="The key of X-Greenlight-Signature (HMAC-SHA256 of the raw body)."
    )


class RevealRollbackSecret(APIView):
    @extend_schema(request=None, responses=RollbackSecretRevealSerializer)
    def post(self, request: Request, slug: str) -> Response:
        """The project's rollback webhook secret; release managers only, and recorded."""
        project = get_project_for(request.user, slug)
        no_input(request)
        secret = reveal_rollback_webhook_secret(project, by=request.user)
        return Response({"secret": secret})


class RotateRollbackSecret(APIView):
    @extend_schema(request=None, responses=RollbackSecretRevealSerializer)
    def post(self, request: Request, slug: str) -> Response:
        """Replace the secret; the new one signs every call from now on. Recorded."""
        project = get_project_for(request.user, slug)
        no_input(request)
        secret = rotate_rollback_webhook_secret(project, by=request.user)
        return Response({"secret": secret})
