"""REST API for sign-offs, the go/no-go poll, decisions and the approval policy.

The same services and permissions as the pages: a project token reads decisions but never signs
or decides — those are a person's call.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import serializers as s
from approvals import services
from approvals.models import ApprovalPolicy, Decision, SignOff
from releases import access as rules
from releases.access import access_for, get_project_for
from releases.api.common import ReleaseScoped, release_response
from releases.rest import FilterBackend, actor, no_input, validated
from releases.serializers import ReleaseSerializer


class SignOffFilter(django_filters.FilterSet):
    current = django_filters.BooleanFilter(
        field_name="is_current", help_text="Only the current sign-offs (or only the history)."
    )
    role = django_filters.ChoiceFilter(choices=s.SIGNING_ROLE_CHOICES)

    class Meta:
        model = SignOff
        fields = ["current", "role"]


class SignOffs(ReleaseScoped, generics.ListAPIView):
    """Every sign-off on the release, newest first, with the ones it replaced."""

    serializer_class = s.SignOffSerializer
    queryset = SignOff.objects.none()
    filter_backends = [FilterBackend]
    filterset_class = SignOffFilter

    def get_queryset(self) -> QuerySet[SignOff]:
        release, _ = self.release_and_access()
        return SignOff.objects.filter(release=release).select_related("user")

    @extend_schema(request=s.SignOffInputSerializer, responses={201: s.SignOffSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Give Go or No-go for a role you are assigned; signing again replaces your earlier
        sign-off for that role."""
        release, access = self.release_and_access()
        rules.PEOPLE_ONLY.check(access)
        data = validated(s.SignOffInputSerializer, request)
        sign_off = services.record_sign_off(
            release,
            by=request.user,
            role=data["role"],
            decision=data["decision"],
            comment=data["comment"],
        )
        return Response(s.SignOffSerializer(sign_off).data, status=status.HTTP_201_CREATED)


class WithdrawSignOff(ReleaseScoped):
    @extend_schema(request=s.WithdrawSignOffSerializer, responses=s.SignOffSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Withdraw your current sign-off for a role, until the deploy starts (withdrawing one
        that carried a Go withdraws the Go)."""
        release, access = self.release_and_access()
        data = validated(s.WithdrawSignOffSerializer, request)
        rules.WITHDRAW_SIGN_OFF.check(access, data["role"])
        sign_off = services.withdraw_sign_off(release, by=request.user, role=data["role"])
        return Response(s.SignOffSerializer(sign_off).data)


class OpenPoll(ReleaseScoped):
    @extend_schema(request=None, responses=ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Ask every required role's assignees for their go/no-go (frozen releases)."""
        release, access = self.release_and_access()
        rules.PEOPLE_ONLY.check(access)
        no_input(request)
        return release_response(services.open_poll(release, by=request.user))


class Decisions(ReleaseScoped, generics.ListAPIView):
    """The go/no-go decisions recorded on the release, newest first (snapshots on each
    decision's own endpoint)."""

    serializer_class = s.DecisionSerializer
    queryset = Decision.objects.none()

    def get_queryset(self) -> QuerySet[Decision]:
        release, _ = self.release_and_access()
        return Decision.objects.filter(release=release).select_related("decided_by")

    @extend_schema(request=s.DecisionInputSerializer, responses={201: s.DecisionDetailSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Record Go (frozen → approved) or No-go (back to frozen), with a frozen snapshot of
        the evidence. A Go over blockers needs ``override_reason``."""
        release, access = self.release_and_access()
        # Who decides is the project's policy (its decider role); the service knows it.
        rules.PEOPLE_ONLY.check(access)
        data = validated(s.DecisionInputSerializer, request)
        decision = services.record_decision(release, by=request.user, **data)
        return Response(s.DecisionDetailSerializer(decision).data, status=status.HTTP_201_CREATED)


class DecisionDetail(APIView):
    @extend_schema(responses=s.DecisionDetailSerializer)
    def get(self, request: Request, decision_id: int) -> Response:
        """One decision with the snapshot of everything it rested on."""
        decision = (
            Decision.objects.select_related("release__project", "decided_by")
            .filter(pk=decision_id)
            .first()
        )
        if decision is None or not access_for(request.user, decision.release).can_view:
            raise Http404("No such decision.")
        return Response(s.DecisionDetailSerializer(decision).data)


class ApprovalPolicyView(APIView):
    def policy_response(self, policy: ApprovalPolicy) -> Response:
        policy = ApprovalPolicy.objects.prefetch_related("requirements").get(pk=policy.pk)
        return Response(s.ApprovalPolicySerializer(policy).data)

    @extend_schema(responses=s.ApprovalPolicySerializer)
    def get(self, request: Request, slug: str) -> Response:
        """Required roles and quorums per release kind, separation of duties, expiry."""
        project = get_project_for(request.user, slug)
        return self.policy_response(services.ensure_policy(project))

    @extend_schema(request=s.ApprovalPolicySerializer, responses=s.ApprovalPolicySerializer)
    def patch(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data: dict[str, Any] = dict(validated(s.ApprovalPolicySerializer, request, partial=True))
        requirements = data.pop("requirements", [])
        # One change from the caller's point of view: all of it or none of it.
        policy = services.update_policy(
            project, by=actor(request), requirements=requirements, **data
        )
        return self.policy_response(policy)
