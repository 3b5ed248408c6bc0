"""The app exactly as gunicorn serves it in production, plus two routes for the benchmark, each
returning 20 rows from one query:

- the bare floor: a DRF endpoint with no authentication, no permission check and no throttle;
- the authenticated floor: the same rows behind what every real API request pays — the token
  looked up (and its last use noted), "signed in" checked, the token's rate limit counted.

``benchmarks/api_latency.py`` serves this module.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

from django.urls import path  # noqa: E402
from rest_framework.permissions import AllowAny  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.settings import api_settings  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

import config.urls  # noqa: E402
from releases.models import Release  # noqa: E402


class Floor(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def get(self, request: Request) -> Response:
        return Response(
            list(
                Release.objects.order_by("-created_at").values(
                    "id", "version", "status", "kind", "created_at"
                )[:20]
            )
        )


class AuthenticatedFloor(Floor):
    # The project's defaults (REST_FRAMEWORK): bearer tokens, IsAuthenticated, TokenRateThrottle.
    # api_settings hands out the imported classes; its stub types them as their dotted paths.
    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES  # type: ignore[assignment]
    permission_classes = api_settings.DEFAULT_PERMISSION_CLASSES  # type: ignore[assignment]
    throttle_classes = api_settings.DEFAULT_THROTTLE_CLASSES  # type: ignore[assignment]


# Before the first request, when Django builds its resolver from this list.
config.urls.urlpatterns += [
    path("bench/floor/", Floor.as_view()),
    path("bench/floor/authenticated/", AuthenticatedFloor.as_view()),
]
