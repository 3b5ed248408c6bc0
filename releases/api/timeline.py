"""The timeline of releases across projects."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from releases import serializers as s
from releases.access import (
    visible_projects,
    visible_releases,
)
from releases.models import (
    FreezeWindow,
)


class TimelineQuerySerializer(serializers.Serializer):
    project = serializers.SlugField(required=False, help_text="Only this project.")
    start = serializers.DateTimeField(
        required=False, help_text="With end: only releases alive in [start, end)."
    )
    end = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if (start is None) != (end is None):
            raise serializers.ValidationError("Give both start and end, or neither.")
        if start is not None and not start < end <= start + dt.timedelta(days=400):
            raise serializers.ValidationError("end must come after start, within 400 days.")
        return attrs


class Timeline(APIView):
    """Every visible release with its planned and actual milestones and its incidents, and the
    freeze windows in the range: the data the timeline page draws. Not paginated."""

    @extend_schema(parameters=[TimelineQuerySerializer], responses=s.TimelineSerializer)
    def get(self, request: Request) -> Response:
        query = TimelineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        releases = (
            visible_releases(request.user).select_related("project").prefetch_related("incidents")
        )
        projects = visible_projects(request.user)
        if "project" in params:
            releases = releases.filter(project__slug=params["project"])
            projects = projects.filter(slug=params["project"])
        now = timezone.now()
        start = params.get("start", now - dt.timedelta(days=30))
        end = params.get("end", now + dt.timedelta(days=90))
        if "start" in params:
            releases = releases.filter(created_at__lt=end).exclude(
                Q(released_at__lt=start) | Q(rolled_back_at__lt=start) | Q(cancelled_at__lt=start)
            )
        # Plain dicts: a thousand rows through nested serializers would cost more than the
        # queries do.
        rows = [
            {
                "id": r.pk,
                "project": r.project.slug,
                "version": r.version,
                "title": r.title,
                "kind": r.kind,
                "status": r.status,
                "health": r.health,
                "override_used": r.override_used,
                "milestones": [
                    {"label": label, "planned": planned, "actual": actual}
                    for label, planned, actual in r.milestones()
                ],
                "incidents": [
                    {
                        "id": i.pk,
                        "title": i.title,
                        "severity": i.severity,
                        "started_at": i.started_at,
                        "resolved_at": i.resolved_at,
                    }
                    for i in r.incidents.all()
                ],
            }
            for r in releases.order_by("project__name", "created_at", "pk")
        ]
        windows = FreezeWindow.objects.filter(project__in=projects).select_related("project")
        periods = [
            {
                "window": w.pk,
                "project": w.project.slug,
                "reason": w.reason,
                "starts_at": opens,
                "ends_at": closes,
            }
            for w in windows
            for opens, closes in w.occurrences(start, end)
        ]
        return Response({"releases": rows, "freeze_windows": periods})
