"""REST API for the results of a check: its history, results reported by CI (a project token
lets any CI system post them for its project's releases), and a person's judgement.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import validated
from monitoring import serializers as s
from monitoring.api.checks import CheckScoped
from monitoring.models import CheckResult
from monitoring.services.results import judge_check, record_check_result
from releases import access as rules
from releases.api.tokens import actor


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
        rules.REPORT_CHECK_RESULTS.check(access)
        data: dict[str, Any] = validated(s.CheckResultInputSerializer, request)
        check = record_check_result(check, source="api", by=actor(request), **data)
        return self.check_response(check)


class JudgeCheck(CheckScoped):
    @extend_schema(request=s.JudgementSerializer, responses=s.CheckSerializer)
    def post(self, request: Request, release_id: int, check_id: int) -> Response:
        """Resolve a check that needs judgement to pass or fail, with a reason (audited)."""
        access, check = self.check_for()
        rules.JUDGE_CHECKS.check(access)
        data = validated(s.JudgementSerializer, request)
        check = judge_check(check, by=request.user, passed=data["passed"], reason=data["reason"])
        return self.check_response(check)
