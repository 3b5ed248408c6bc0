"""A project's DORA metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from releases import serializers as s
from releases.access import (
    get_project_for,
)
from releases.metrics import compute_metrics


class MetricsQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False, help_text="Default: 90 days before end.")
    end = serializers.DateTimeField(required=False, help_text="Default: now.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end") or timezone.now()
        start = attrs.get("start") or end - dt.timedelta(days=90)
        if not start < end <= start + dt.timedelta(days=731):
            raise serializers.ValidationError("end must come after start, within two years.")
        return {"start": start, "end": end}


class ProjectMetrics(APIView):
    @extend_schema(parameters=[MetricsQuerySerializer], responses=s.MetricsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        """DORA metrics: deployment frequency, lead time for changes, change failure rate and
        time to restore, each with its band. Incidents count: a deploy with an incident
        recorded against it failed, and is restored when its last incident is resolved."""
        project = get_project_for(request.user, slug)
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = query.validated_data
        return Response(compute_metrics(project, period["start"], period["end"]).as_dict())
