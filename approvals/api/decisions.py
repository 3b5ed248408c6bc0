"""REST API for the go/no-go poll and decisions."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import serializers as s
from approvals.models import Decision
from approvals.services.decisions import open_poll, record_decision
from lib.rest.input import no_input, validated
from releases import access as rules
from releases.access import access_for
from releases.api.common import ReleaseScoped, release_response
from releases.serializers import ReleaseSerializer


class OpenPoll(ReleaseScoped):
    @extend_schema(request=None, responses=ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Ask every required role's assignees for their go/no-go (frozen releases)."""
        release, access = self.release_and_access()
        rules.PEOPLE_ONLY.check(access)
        no_input(request)
        return release_response(open_poll(release, by=request.user))


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
        decision = record_decision(release, by=request.user, **data)
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
