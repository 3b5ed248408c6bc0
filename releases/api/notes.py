"""Notes in a release's log."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import validated
from releases import access as rules
from releases import serializers as s
from releases.api.common import ReleaseScoped
from releases.api.tokens import actor
from releases.services.notes import add_note


class ReleaseNotes(ReleaseScoped):
    @extend_schema(request=s.NoteSerializer, responses={201: s.EventSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Add a note to the timeline."""
        release, access = self.release_and_access()
        rules.ADD_NOTE.check(access)
        data = validated(s.NoteSerializer, request)
        event = add_note(release, by=actor(request), text=data["text"])
        return Response(s.EventSerializer(event).data, status=status.HTTP_201_CREATED)
