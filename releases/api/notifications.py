"""The signed-in person's notifications."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lib.rest.input import no_input, validated
from releases import notifications as notices
from releases import serializers as s
from releases.api.tokens import PeopleOnly
from releases.models import (
    Notification,
)


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at",
        lookup_expr="isnull",
        help_text="Only unread notifications (or only read ones).",
    )

    class Meta:
        model = Notification
        fields = ["unread"]


class Notifications(generics.ListAPIView):
    """Your in-app notifications, newest first. ``?unread=true`` lists the unread ones; its
    ``count`` is the number a badge shows."""

    serializer_class = s.NotificationSerializer
    queryset = Notification.objects.none()
    filterset_class = NotificationFilter
    permission_classes = [IsAuthenticated, PeopleOnly]

    def get_queryset(self) -> QuerySet[Notification]:
        return notices.notifications_for(self.request.user)


def _marked(request: Request, marked: int) -> Response:
    return Response({"marked": marked, "unread": notices.unread_count(request.user)})


class MarkNotificationsRead(APIView):
    permission_classes = [IsAuthenticated, PeopleOnly]

    @extend_schema(request=s.MarkReadSerializer, responses=s.MarkedSerializer)
    def post(self, request: Request) -> Response:
        """Mark some of your notifications read; ids that are not yours change nothing."""
        data = validated(s.MarkReadSerializer, request)
        return _marked(request, notices.mark_read(request.user, data["ids"]))


class MarkAllNotificationsRead(APIView):
    permission_classes = [IsAuthenticated, PeopleOnly]

    @extend_schema(request=None, responses=s.MarkedSerializer)
    def post(self, request: Request) -> Response:
        """Mark every one of your notifications read."""
        no_input(request)
        return _marked(request, notices.mark_all_read(request.user))
