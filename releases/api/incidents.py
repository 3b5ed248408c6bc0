"""Incidents against a release: recorded by people, reported by incident tools."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import validated
from releases import access as rules
from releases import serializers as s
from releases.access import access_for, get_project_for
from releases.api.common import ReleaseScoped
from releases.api.tokens import actor
from releases.models import Incident, IncidentSource, Project, Release, Severity
from releases.services.incidents import (
    record_incident,
    report_incident,
    reported_before,
    reported_release,
    update_incident,
)

# PagerDuty has two urgencies: high pages someone at once, low waits for working hours.
PAGERDUTY_SEVERITY = {"high": Severity.SEV2, "low": Severity.SEV3}
# Opsgenie has five priorities and Greenlight four severities: the two lowest are both low.
OPSGENIE_SEVERITY = {
    "P1": Severity.SEV1,
    "P2": Severity.SEV2,
    "P3": Severity.SEV3,
    "P4": Severity.SEV4,
    "P5": Severity.SEV4,
}
# An alert created without a priority is P3 in Opsgenie.
OPSGENIE_DEFAULT_SEVERITY = Severity.SEV3


class ReleaseIncidents(ReleaseScoped, generics.ListAPIView):
    """The release's incidents, oldest first."""

    serializer_class = s.IncidentSerializer
    queryset = Incident.objects.none()

    def get_queryset(self) -> QuerySet[Incident]:
        release, _ = self.release_and_access()
        return Incident.objects.filter(release=release).select_related("release", "created_by")

    @extend_schema(request=s.IncidentInputSerializer, responses={201: s.IncidentSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Record an incident once the release's deploy has started."""
        release, access = self.release_and_access()
        rules.RECORD_INCIDENT.check(access)
        data = validated(s.IncidentInputSerializer, request)
        incident = record_incident(release, by=actor(request), **data)
        return Response(s.IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)


class ReleaseIncidentDetail(ReleaseScoped):
    @extend_schema(request=s.IncidentInputSerializer, responses=s.IncidentSerializer)
    def patch(self, request: Request, release_id: int, incident_id: int) -> Response:
        """Change an incident: resolve it (``resolved_at``), correct its times or severity."""
        release, access = self.release_and_access()
        incident = get_object_or_404(
            Incident.objects.select_related("release__project", "created_by"),
            pk=incident_id,
            release=release,
        )
        rules.RECORD_INCIDENT.check(access)
        data = validated(s.IncidentInputSerializer, request, partial=True)
        incident = update_incident(incident, by=actor(request), **data)
        return Response(s.IncidentSerializer(incident).data)


class ProjectScoped(generics.GenericAPIView):
    filter_backends: list[Any] = []

    def project(self) -> Project:
        return get_project_for(self.request.user, self.kwargs["slug"])

    def report(self, project: Project, named: dict[str, Any], **fields: Any) -> Response:
        release = reported_release(
            project, version=named.get("version", ""), commit_sha=named.get("commit_sha", "")
        )
        return self.report_on(release, **fields)

    def report_on(self, release: Release, **fields: Any) -> Response:
        rules.RECORD_INCIDENT.check(access_for(self.request.user, release))
        incident, created = report_incident(release, by=actor(self.request), **fields)
        return Response(
            s.IncidentReportedSerializer({"created": created, "incident": incident}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ProjectIncidents(ProjectScoped):
    @extend_schema(
        request=s.IncidentReportSerializer,
        responses={201: s.IncidentReportedSerializer, 200: s.IncidentReportedSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        """An incident tool reports an incident of the release with this version or commit.
        The same ``external_id`` from the same ``source`` changes the incident it reported
        before (200) instead of adding another (201)."""
        project = self.project()
        data = dict(validated(s.IncidentReportSerializer, request))
        named = {"version": data.pop("version", ""), "commit_sha": data.pop("commit_sha", "")}
        return self.report(project, named, **data)


class PagerDutyIncidents(ProjectScoped):
    @extend_schema(
        request=s.PagerDutyIncidentSerializer,
        responses={201: s.IncidentReportedSerializer, 200: s.IncidentReportedSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        """PagerDuty's incident object, with the ``version`` or ``commit_sha`` of the release it
        concerns: recorded once per PagerDuty id, resolved when PagerDuty says so."""
        project = self.project()
        data = validated(s.PagerDutyIncidentSerializer, request, strict=False)
        return self.report(project, data, **from_pagerduty(data))


def from_pagerduty(data: dict[str, Any]) -> dict[str, Any]:
    """What Greenlight records of PagerDuty's incident."""
    resolved = data.get("resolved_at")
    if resolved is None and data.get("status") == "resolved":
        # Not every PagerDuty incident carries resolved_at; its last status change, to
        # resolved, is when it was.
        resolved = data.get("last_status_change_at")
    return {
        "source": IncidentSource.PAGERDUTY,
        "external_id": data["id"],
        "title": data["title"],
        "severity": data.get("severity") or PAGERDUTY_SEVERITY[data["urgency"]],
        "started_at": data["created_at"],
        "resolved_at": resolved,
        "link": data.get("html_url", ""),
    }


class OpsgenieIncidents(ProjectScoped):
    @extend_schema(
        request=s.OpsgenieAlertActionSerializer,
        responses={201: s.IncidentReportedSerializer, 200: s.IncidentReportedSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        """What Opsgenie's Webhook integration posts about an alert, as Opsgenie shapes it
        (fields Greenlight does not read are left unread). The first delivery of an alert names
        its release with a tag (``version:1.4.2`` or ``commit_sha:<sha>``) and carries its
        message; it is recorded once per ``alertId``. Later actions change it (a Close with no
        tags included) and ``Close`` resolves it (at its ``updatedAt``, else now); an action
        that carries nothing Greenlight records (Escalate) changes nothing. Priorities map
        P1 → SEV1, P2 → SEV2, P3 → SEV3, P4 and P5 → SEV4."""
        project = self.project()
        data = validated(s.OpsgenieAlertActionSerializer, request, strict=False)
        alert = data["alert"]
        earlier = reported_before(
            project, source=IncidentSource.OPSGENIE, external_id=alert["alertId"]
        )
        if "version" in data or "commit_sha" in data:
            release = reported_release(
                project, version=data.get("version", ""), commit_sha=data.get("commit_sha", "")
            )
        elif earlier is not None:
            release = earlier.release
        else:
            raise ValidationError({"alert": {"tags": [s.OPSGENIE_NAME_THE_RELEASE]}})
        if earlier is None and "message" not in alert:
            raise ValidationError(
                {"alert": {"message": ["Give the alert's message: it is the incident's title."]}}
            )
        return self.report_on(release, **from_opsgenie(data))


def from_opsgenie(data: dict[str, Any]) -> dict[str, Any]:
    """What Greenlight records of the alert Opsgenie sent."""
    alert = data["alert"]
    fields: dict[str, Any] = {
        "source": IncidentSource.OPSGENIE,
        "external_id": alert["alertId"],
        "started_at": alert.get("createdAt"),
        "create_defaults": {"severity": OPSGENIE_DEFAULT_SEVERITY},
    }
    if "message" in alert:
        fields["title"] = alert["message"]
    if "priority" in alert:
        fields["severity"] = OPSGENIE_SEVERITY[alert["priority"]]
    if data["action"] == "Close":
        fields |= {"resolved": True, "resolved_at": alert.get("updatedAt")}
    return fields
