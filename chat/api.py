"""REST API for a project's Slack app: the second door to the same services as the page."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import services
from chat.models import SlackApp
from lib.rest.input import no_input, validated
from releases.access import get_project_for
from releases.api.tokens import actor


class SlackAppSerializer(serializers.Serializer):
    bot_token = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=300,
        help_text="xoxb-… (write-only; empty or absent keeps the saved one)",
    )
    signing_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Write-only; empty or absent keeps the saved one.",
    )
    release_channel = serializers.CharField(required=False, allow_blank=True, max_length=32)
    team_id = serializers.CharField(read_only=True)
    team_name = serializers.CharField(read_only=True)
    bot_user_id = serializers.CharField(read_only=True)
    interactivity_url = serializers.SerializerMethodField()
    command_url = serializers.SerializerMethodField()

    def get_interactivity_url(self, app: SlackApp) -> str:
        return services.request_url(app.project, "slack_interactivity")

    def get_command_url(self, app: SlackApp) -> str:
        return services.request_url(app.project, "slack_command")


class SlackAppView(APIView):
    @extend_schema(responses=SlackAppSerializer)
    def get(self, request: Request, slug: str) -> Response:
        """The project's Slack app (its token and secret are never shown)."""
        project = get_project_for(request.user, slug)
        app = SlackApp.objects.filter(project=project).select_related("project").first()
        if app is None:
            raise Http404("The project has no Slack app.")
        return Response(SlackAppSerializer(app).data)

    @extend_schema(request=SlackAppSerializer, responses=SlackAppSerializer)
    def put(self, request: Request, slug: str) -> Response:
        """Connect or change the Slack app; the token is tried with Slack before it is saved."""
        project = get_project_for(request.user, slug)
        data = validated(SlackAppSerializer, request)
        app = services.configure_slack_app(project, by=actor(request), **data)
        return Response(SlackAppSerializer(app).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        no_input(request)
        services.remove_slack_app(project, by=actor(request))
        return Response(status=204)
