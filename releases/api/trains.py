"""REST API for a project's release trains: their cadence, the coming departures with the
releases beat created for them (or why it could not), skipping one departure with a reason.

The trains page's rules (``workspace.views.trains``): members and the project's token read, the
project's release managers change, outsiders get 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lib.rest.input import validated
from releases import access as rules
from releases import serializers as s
from releases.access import get_project_for
from releases.api.tokens import actor
from releases.models import Project, ReleaseTrain, TrainSlot
from releases.services import trains


class Trains(generics.ListAPIView):
    """The project's release trains."""

    serializer_class = s.TrainSerializer
    queryset = ReleaseTrain.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[ReleaseTrain]:
        return get_project_for(self.request.user, self.kwargs["slug"]).trains.order_by("name", "pk")

    @extend_schema(request=s.TrainSerializer, responses={201: s.TrainSerializer})
    def post(self, request: Request, slug: str) -> Response:
        """Start a train: beat creates each departure's release ``create_days_ahead`` days
        before it, with the project's checklists, roles and checks."""
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.TrainSerializer, request)
        train = trains.save_train(project, by=actor(request), **data)
        return Response(s.TrainSerializer(train).data, status=status.HTTP_201_CREATED)


class TrainScoped(APIView):
    def train(self) -> tuple[Project, ReleaseTrain]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        train = get_object_or_404(
            project.trains.select_related("project"), pk=self.kwargs["train_id"]
        )
        return project, train


class TrainDetail(TrainScoped):
    @extend_schema(responses=s.TrainSerializer)
    def get(self, request: Request, slug: str, train_id: int) -> Response:
        _, train = self.train()
        return Response(s.TrainSerializer(train).data)

    @extend_schema(request=s.TrainSerializer, responses=s.TrainSerializer)
    def patch(self, request: Request, slug: str, train_id: int) -> Response:
        """Change the train; releases already created keep their plan. ``active: false``
        pauses it."""
        project, train = self.train()
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.TrainSerializer, request, partial=True)
        train = trains.save_train(project, by=actor(request), train=train, **data)
        return Response(s.TrainSerializer(train).data)


class TrainSlots(TrainScoped):
    @extend_schema(parameters=[s.SlotsQuerySerializer], responses=s.SlotSerializer(many=True))
    def get(self, request: Request, slug: str, train_id: int) -> Response:
        """The next departures, today's included: each with its release once beat created it,
        or the problem that stopped it, or who skipped it and why."""
        _, train = self.train()
        query = s.SlotsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        departures = trains.upcoming_slots([train], count=query.validated_data["count"])
        return Response(s.SlotSerializer(departures[train.pk], many=True).data)


class SkipSlot(TrainScoped):
    @extend_schema(request=s.SkipSlotSerializer, responses=s.SlotSerializer)
    def post(self, request: Request, slug: str, train_id: int) -> Response:
        """Skip one departure: no release is created for it, or its planned release is
        cancelled. A release already approved or further along answers 409."""
        project, train = self.train()
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.SkipSlotSerializer, request)
        slot = trains.skip_slot(train, data["deploy_date"], by=request.user, reason=data["reason"])
        slot = TrainSlot.objects.select_related("release", "skipped_by").get(pk=slot.pk)
        departure = trains.Upcoming(train=train, deploy_date=slot.deploy_date, slot=slot)
        return Response(s.SlotSerializer(departure).data)
