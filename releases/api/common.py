"""What every release endpoint shares: the release it is scoped to and the answer it gives."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import generics, status
from rest_framework.response import Response

from releases import serializers as s
from releases.access import (
    ReleaseAccess,
    get_release_for,
)
from releases.models import (
    Release,
)


class ReleaseScoped(generics.GenericAPIView):
    """Base for everything under ``/api/releases/{release_id}/``."""

    filter_backends: list[Any] = []
    release_queryset: QuerySet[Release] = Release.objects.select_related("project")

    def release_and_access(self) -> tuple[Release, ReleaseAccess]:
        if not hasattr(self, "_release"):
            self._release = get_release_for(
                self.request.user, self.kwargs["release_id"], queryset=self.release_queryset
            )
        return self._release


def release_response(release: Release, code: int = status.HTTP_200_OK) -> Response:
    return Response(s.ReleaseSerializer(release).data, status=code)
