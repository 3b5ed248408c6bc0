"""REST API for integrations and checks: configure them, read their history, report results,
judge the undecidable; the rollback triggers bound to a release's post-release checks.

Credentials are write-only: they go in through ``secrets`` and only their names come back. A
project token lets any CI system post a check result for its project's releases.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import health, rollback_webhook, services
from monitoring import serializers as s
from monitoring.models import Check, CheckResult, Integration, RollbackTrigger
from releases import access as rules
from releases.access import ReleaseAccess, get_project_for
from releases.api.common import ReleaseScoped
from releases.models import Project
from releases.rest import actor, no_input, validated

# --- integrations ---------------------------------------------------------------------------


class Integrations(generics.ListAPIView):
    """The project's connections to CI, monitoring and the issue tracker, with their health."""

    serializer_class = s.IntegrationSerializer
    queryset = Integration.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Integration]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        return project.integrations.order_by("name", "pk")

    @extend_schema(request=s.IntegrationInputSerializer, responses={201: s.IntegrationSerializer})
    def post(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(s.IntegrationInputSerializer, request)
        integration = services.save_integration(
            project,
            by=request.user,
            name=data["name"],
            kind=data["kind"],
            base_url=data.get("base_url", ""),
            config=data.get("config"),
            secrets=data.get("secrets"),
            clear_secrets=data.get("clear_secrets", ()),
            enabled=data.get("enabled", True),
        )
        return Response(s.IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)


class IntegrationScoped(APIView):
    def integration(self) -> tuple[Project, Integration]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        return project, get_object_or_404(project.integrations, pk=self.kwargs["integration_id"])


class IntegrationDetail(IntegrationScoped):
    @extend_schema(responses=s.IntegrationSerializer)
    def get(self, request: Request, slug: str, integration_id: int) -> Response:
        _, integration = self.integration()
        return Response(s.IntegrationSerializer(integration).data)

    @extend_schema(request=s.IntegrationInputSerializer, responses=s.IntegrationSerializer)
    def patch(self, request: Request, slug: str, integration_id: int) -> Response:
        """Change settings; credentials left out (or empty) stay as stored."""
        project, integration = self.integration()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(s.IntegrationInputSerializer, request, partial=True)
        integration = services.save_integration(
            project,
            by=request.user,
            integration=integration,
            name=data.get("name", integration.name),
            kind=data.get("kind", integration.kind),
            base_url=data.get("base_url", integration.base_url),
            config=data.get("config", integration.config),
            secrets=data.get("secrets"),
            clear_secrets=data.get("clear_secrets", ()),
            enabled=data.get("enabled", integration.enabled),
        )
        return Response(s.IntegrationSerializer(integration).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, slug: str, integration_id: int) -> Response:
        """Delete an integration no release's checks read (otherwise disable it)."""
        project, integration = self.integration()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        services.delete_integration(integration, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TestIntegration(IntegrationScoped):
    @extend_schema(request=None, responses=s.ConnectionTestSerializer)
    def post(self, request: Request, slug: str, integration_id: int) -> Response:
        """Call the provider once the way the poller would and say what came back."""
        project, integration = self.integration()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        no_input(request)
        result = services.test_connection(integration, by=request.user)
        return Response(
            {"ok": result.ok, "summary": result.summary, "detail": result.detail, "url": result.url}
        )


# --- project check templates ----------------------------------------------------------------

TEMPLATES = Check.objects.filter(release__isnull=True).select_related("integration")


class CheckTemplates(generics.ListAPIView):
    """The project's checks, copied onto every release created afterwards."""

    serializer_class = s.CheckTemplateSerializer
    queryset = Check.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Check]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        return TEMPLATES.filter(project=project)

    @extend_schema(request=s.CheckInputSerializer, responses={201: s.CheckTemplateSerializer})
    def post(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(s.CheckInputSerializer, request, context={"project": project})
        check = services.save_check_template(project, by=request.user, **data)
        return Response(
            s.CheckTemplateSerializer(TEMPLATES.get(pk=check.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class CheckTemplateDetail(APIView):
    def template(self) -> tuple[Project, Check]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        check = get_object_or_404(TEMPLATES.filter(project=project), pk=self.kwargs["check_id"])
        return project, check

    @extend_schema(responses=s.CheckTemplateSerializer)
    def get(self, request: Request, slug: str, check_id: int) -> Response:
        _, check = self.template()
        return Response(s.CheckTemplateSerializer(check).data)

    @extend_schema(request=s.CheckInputSerializer, responses=s.CheckTemplateSerializer)
    def patch(self, request: Request, slug: str, check_id: int) -> Response:
        """Releases created later get the change; existing releases keep their copies."""
        project, check = self.template()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(
            s.CheckInputSerializer, request, partial=True, context={"project": project}
        )
        check = services.save_check_template(project, by=request.user, check=check, **data)
        return Response(s.CheckTemplateSerializer(TEMPLATES.get(pk=check.pk)).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, slug: str, check_id: int) -> Response:
        project, check = self.template()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        services.delete_check_template(check, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- a release's checks ---------------------------------------------------------------------


class Checks(ReleaseScoped, generics.ListAPIView):
    """The release's checks (gates) with their current status."""

    serializer_class = s.CheckSerializer
    queryset = Check.objects.none()

    def get_queryset(self) -> QuerySet[Check]:
        release, _ = self.release_and_access()
        return release.checks.select_related("integration", "release")

    @extend_schema(request=s.CheckInputSerializer, responses={201: s.CheckSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Add a check (gate) to the release; it is read from now on."""
        release, access = self.release_and_access()
        rules.EDIT_CHECKS.check(access)
        data = validated(s.CheckInputSerializer, request, context={"project": release.project})
        check = services.save_release_check(release, by=request.user, **data)
        check = Check.objects.select_related("integration", "release").get(pk=check.pk)
        return Response(s.CheckSerializer(check).data, status=status.HTTP_201_CREATED)


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

    @extend_schema(request=s.CheckInputSerializer, responses=s.CheckSerializer)
    def patch(self, request: Request, release_id: int, check_id: int) -> Response:
        """Change the check; a change to what it reads starts its evidence over (pending)."""
        access, check = self.check_for()
        rules.EDIT_CHECKS.check(access)
        context = {"project": check.release.project}
        data = validated(s.CheckInputSerializer, request, partial=True, context=context)
        check = services.save_release_check(check.release, by=request.user, check=check, **data)
        return self.check_response(check)

    @extend_schema(responses={204: OpenApiResponse(description="Removed.")})
    def delete(self, request: Request, release_id: int, check_id: int) -> Response:
        access, check = self.check_for()
        rules.EDIT_CHECKS.check(access)
        services.delete_release_check(check, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PollCheckNow(CheckScoped):
    @extend_schema(request=None, responses=s.CheckSerializer)
    def post(self, request: Request, release_id: int, check_id: int) -> Response:
        """Read the check at the poller's next tick instead of waiting for its interval."""
        access, check = self.check_for()
        rules.EDIT_CHECKS.check(access)
        no_input(request)
        return self.check_response(services.poll_check_now(check, by=request.user))


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
        check = services.record_check_result(check, source="api", by=actor(request), **data)
        return self.check_response(check)


class JudgeCheck(CheckScoped):
    @extend_schema(request=s.JudgementSerializer, responses=s.CheckSerializer)
    def post(self, request: Request, release_id: int, check_id: int) -> Response:
        """Resolve a check that needs judgement to pass or fail, with a reason (audited)."""
        access, check = self.check_for()
        rules.JUDGE_CHECKS.check(access)
        data = validated(s.JudgementSerializer, request)
        check = services.judge_check(
            check, by=request.user, passed=data["passed"], reason=data["reason"]
        )
        return self.check_response(check)


# --- rollback triggers ----------------------------------------------------------------------

TRIGGERS = RollbackTrigger.objects.select_related("check_ref", "created_by", "release__project")


class RollbackTriggers(ReleaseScoped, generics.ListAPIView):
    """The rollback plan's triggers: each watches one post-release check and, when it breaches
    (failing for its hold time), recommends the rollback to the decider or starts it."""

    serializer_class = s.RollbackTriggerSerializer
    queryset = RollbackTrigger.objects.none()

    def get_queryset(self) -> QuerySet[RollbackTrigger]:
        release, _ = self.release_and_access()
        return TRIGGERS.filter(release=release)

    @extend_schema(
        request=s.RollbackTriggerInputSerializer, responses={201: s.RollbackTriggerSerializer}
    )
    def post(self, request: Request, release_id: int) -> Response:
        """Bind a trigger to a post-release check (one per check). ``automatic`` needs the
        rollback plan's webhook URL."""
        release, access = self.release_and_access()
        rules.EDIT_ROLLBACK_PLAN.check(access)
        data = validated(s.RollbackTriggerInputSerializer, request, context={"release": release})
        trigger = health.add_rollback_trigger(
            release,
            by=request.user,
            check=data["check"],
            mode=data["mode"],
            description=data.get("description", ""),
        )
        return Response(
            s.RollbackTriggerSerializer(TRIGGERS.get(pk=trigger.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class RollbackTriggerDetail(ReleaseScoped):
    def trigger(self) -> tuple[ReleaseAccess, RollbackTrigger]:
        release, access = self.release_and_access()
        trigger = get_object_or_404(TRIGGERS.filter(release=release), pk=self.kwargs["trigger_id"])
        return access, trigger

    @extend_schema(responses=s.RollbackTriggerSerializer)
    def get(self, request: Request, release_id: int, trigger_id: int) -> Response:
        _, trigger = self.trigger()
        return Response(s.RollbackTriggerSerializer(trigger).data)

    @extend_schema(request=s.RollbackTriggerChangeSerializer, responses=s.RollbackTriggerSerializer)
    def patch(self, request: Request, release_id: int, trigger_id: int) -> Response:
        """Change the mode or the description; the check stays (remove and add for another)."""
        access, trigger = self.trigger()
        rules.EDIT_ROLLBACK_PLAN.check(access)
        data = validated(s.RollbackTriggerChangeSerializer, request, partial=True)
        trigger = health.update_rollback_trigger(trigger, by=request.user, **data)
        return Response(s.RollbackTriggerSerializer(TRIGGERS.get(pk=trigger.pk)).data)

    @extend_schema(responses={204: OpenApiResponse(description="Removed.")})
    def delete(self, request: Request, release_id: int, trigger_id: int) -> Response:
        access, trigger = self.trigger()
        rules.EDIT_ROLLBACK_PLAN.check(access)
        health.remove_rollback_trigger(trigger, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the rollback webhook secret ----------------------------------------------------------------


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
        secret = rollback_webhook.reveal_rollback_webhook_secret(project, by=request.user)
        return Response({"secret": secret})


class RotateRollbackSecret(APIView):
    @extend_schema(request=None, responses=RollbackSecretRevealSerializer)
    def post(self, request: Request, slug: str) -> Response:
        """Replace the secret; the new one signs every call from now on. Recorded."""
        project = get_project_for(request.user, slug)
        no_input(request)
        secret = rollback_webhook.rotate_rollback_webhook_secret(project, by=request.user)
        return Response({"secret": secret})
