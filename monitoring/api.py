"""REST API for checks: read them and their history, report results, judge the undecidable.

A project token lets any CI system post a check result for its project's releases.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring import serializers as s
from monitoring import services
from monitoring.models import Check, CheckResult
from releases.api import ReleaseScoped
from releases.permissions import ReleaseAccess, is_person
from releases.rest import PagePagination, actor, require, validated


class Checks(ReleaseScoped, generics.ListAPIView):
    """The release's checks (gates) with their current status."""

    serializer_class = s.CheckSerializer
    queryset = Check.objects.none()
    pagination_class = PagePagination

    def get_queryset(self) -> QuerySet[Check]:
        release, _ = self.release_and_access()
        return release.checks.select_related("integration", "release")


class CheckScoped(ReleaseScoped):
    def check_for(self) -> tuple[ReleaseAccess, Check]:
        release, access = self.release_and_access()
        check = get_object_or_404(
            Check.objects.filter(release=release).select_related("integration", "release"),
            pk=self.kwargs["check_id"],
        )
        return access, check

    def check_response(self, check: Check, code: int = status.HTTP_200_OK) -> Response:
        check = Check.objects.select_related("integration", "release").get(pk=check.pk)
        return Response(s.CheckSerializer(check).data, status=code)


class CheckDetail(CheckScoped):
    @extend_schema(responses=s.CheckSerializer)
    def get(self, request: Request, release_id: int, check_id: int) -> Response:
        _, check = self.check_for()
        return self.check_response(check)


class CheckResults(CheckScoped, generics.ListAPIView):
    """Every status change of the check, newest first."""

    serializer_class = s.CheckResultSerializer
    queryset = CheckResult.objects.none()

    def get_queryset(self) -> QuerySet[CheckResult]:
        _, check = self.check_for()
        return check.results.select_related("judged_by")

    @extend_schema(request=s.CheckResultInputSerializer, responses=s.CheckSerializer)
    def post(self, request: Request, release_id: int, check_id: int) -> Response:
        """Report what CI or a monitor observed. A changed status is recorded and logged; the
        same status again only refreshes "last evaluated"."""
        access, check = self.check_for()
        require(
            access.reports_check_results,
            "Only the release manager, DevOps or the project's token report check results.",
        )
        data: dict[str, Any] = validated(s.CheckResultInputSerializer, request)
        check = services.record_check_result(check, source="api", by=actor(request), **data)
        return self.check_response(check)


class JudgeCheck(CheckScoped):
    @extend_schema(request=s.JudgementSerializer, responses=s.CheckSerializer)
    def post(self, request: Request, release_id: int, check_id: int) -> Response:
        """Resolve a check that needs judgement to pass or fail, with a reason (audited)."""
        access, check = self.check_for()
        require(
            is_person(request.user) and access.judges_checks,
            "Only the release manager, DevOps and QA judge checks.",
        )
        data = validated(s.JudgementSerializer, request)
        check = services.judge_check(
            check, by=request.user, passed=data["passed"], reason=data["reason"]
        )
        return self.check_response(check)
