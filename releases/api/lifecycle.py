"""A release's way through its lifecycle: scope lock, cancel, deploy finish and CI's deploy
reports."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import no_input, validated
from releases import access as rules
from releases import serializers as s
from releases.api.common import ReleaseScoped, release_response
from releases.api.tokens import actor
from releases.services.lifecycle import (
    cancel_release,
    finish_deploy,
    lock_scope,
    record_deploy_report,
)


class LockScope(ReleaseScoped):
    @extend_schema(request=None, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """planning → frozen: later scope changes go through change requests."""
        release, access = self.release_and_access()
        rules.LOCK_SCOPE.check(access)
        no_input(request)
        return release_response(lock_scope(release, by=actor(request)))


class CancelRelease(ReleaseScoped):
    @extend_schema(request=s.ReasonSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.CANCEL.check(access)
        data = validated(s.ReasonSerializer, request)
        return release_response(cancel_release(release, by=actor(request), reason=data["reason"]))


class FinishDeploy(ReleaseScoped):
    @extend_schema(request=None, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """deploying → monitoring, once every required deployment checklist item is ticked."""
        release, access = self.release_and_access()
        rules.FINISH_DEPLOY.check(access)
        no_input(request)
        return release_response(finish_deploy(release, by=actor(request)))


class DeployReports(ReleaseScoped):
    @extend_schema(request=s.DeployReportSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """CI reports its deploy. ``started`` and ``finished`` pass the same guards as a person
        (a 409 is the pipeline's gate); ``failed`` marks the release unhealthy."""
        release, access = self.release_and_access()
        rules.REPORT_DEPLOY.check(access)
        data = validated(s.DeployReportSerializer, request)
        if data["override_reason"].strip():
            rules.OVERRIDE_DEPLOY_GUARDS.check(access)
        return release_response(record_deploy_report(release, by=actor(request), **data))
