"""REST API for a project's outgoing webhooks and their deliveries (the same services and rules
as the settings page)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lib.rest.input import no_input, validated
from releases.access import get_project_for
from releases.models import Project
from subscriptions import access, services
from subscriptions import serializers as s
from subscriptions.models import Delivery, Subscription


def _project(request: Request, slug: str) -> Project:
    project = get_project_for(request.user, slug)
    access.SEE_WEBHOOKS.check(request.user, project)
    return project


class Webhooks(generics.ListAPIView):
    """The project's outgoing webhooks: DevOps and release managers only."""

    serializer_class = s.SubscriptionSerializer
    queryset = Subscription.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Subscription]:
        project = _project(self.request, self.kwargs["slug"])
        return Subscription.objects.filter(project=project).order_by("name", "pk")

    @extend_schema(
        request=s.SubscriptionInputSerializer, responses={201: s.CreatedSubscriptionSerializer}
    )
    def post(self, request: Request, slug: str) -> Response:
        """Add a webhook; the answer carries its signing secret, this once."""
        project = get_project_for(request.user, slug)
        access.MANAGE_WEBHOOKS.check(request.user, project)
        data = validated(s.SubscriptionInputSerializer, request)
        subscription, secret = services.create_subscription(project, by=request.user, **data)
        body = s.SubscriptionSerializer(subscription).data | {"secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookScoped(APIView):
    def subscription(self) -> Subscription:
        project = _project(self.request, self.kwargs["slug"])
        return get_object_or_404(Subscription, project=project, pk=self.kwargs["webhook_id"])


class WebhookDetail(WebhookScoped):
    @extend_schema(responses=s.SubscriptionSerializer)
    def get(self, request: Request, slug: str, webhook_id: int) -> Response:
        return Response(s.SubscriptionSerializer(self.subscription()).data)

    @extend_schema(request=s.SubscriptionInputSerializer, responses=s.SubscriptionSerializer)
    def patch(self, request: Request, slug: str, webhook_id: int) -> Response:
        """Change the name, target URL or events; ``active: false`` pauses it."""
        subscription = self.subscription()
        access.MANAGE_WEBHOOKS.check(request.user, subscription.project)
        data = validated(s.SubscriptionInputSerializer, request, partial=True)
        subscription = services.update_subscription(subscription, by=request.user, **data)
        return Response(s.SubscriptionSerializer(subscription).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str, webhook_id: int) -> Response:
        subscription = self.subscription()
        no_input(request)
        services.delete_subscription(subscription, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateWebhookSecret(WebhookScoped):
    @extend_schema(request=None, responses=s.SecretSerializer)
    def post(self, request: Request, slug: str, webhook_id: int) -> Response:
        """Replace the signing secret; the new one signs every attempt from now on."""
        subscription = self.subscription()
        no_input(request)
        return Response({"secret": services.rotate_secret(subscription, by=request.user)})


class WebhookDeliveries(generics.ListAPIView):
    """The webhook's deliveries, newest first: state, attempts, the receiver's answer."""

    serializer_class = s.DeliverySerializer
    queryset = Delivery.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Delivery]:
        project = _project(self.request, self.kwargs["slug"])
        subscription = get_object_or_404(
            Subscription, project=project, pk=self.kwargs["webhook_id"]
        )
        return subscription.deliveries.order_by("-created_at", "-pk")


class Redeliver(WebhookScoped):
    @extend_schema(request=None, responses={202: s.DeliverySerializer})
    def post(self, request: Request, slug: str, webhook_id: int, delivery_id: int) -> Response:
        """Send a finished delivery again (same body and delivery id); 409 while it is still
        being sent."""
        subscription = self.subscription()
        delivery = get_object_or_404(Delivery, subscription=subscription, pk=delivery_id)
        no_input(request)
        again = services.redeliver(delivery, by=request.user)
        return Response(s.DeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)
