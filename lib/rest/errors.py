"""How the API answers an error: services' refusals and the database's last word, in DRF's shape.

Services raise ``Refused`` / ``NotAllowed`` / Django ``ValidationError``; this handler turns
them into 409 / 403 / 400, so API views only call services and never catch.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from lib.errors import NotAllowed, Refused

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # A refusal with several reasons (the release cannot be marked released: …) also lists
    # them one by one, for machines.
    blockers = getattr(exc, "blockers", None) if isinstance(exc, Refused) else None
    if isinstance(exc, Refused):
        exc = Conflict(exc.message)
    elif isinstance(exc, NotAllowed):
        exc = exceptions.PermissionDenied(exc.message)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, IntegrityError):
        # Two requests raced to create the same thing; the loser's transaction rolled back.
        exc = Conflict("This conflicts with something that was saved at the same time. Try again.")
    elif isinstance(exc, DataError):
        # The serializers bound every value; this is the last line, not the plan.
        logger.warning("Input the serializers let through was refused by the database: %s", exc)
        exc = exceptions.ParseError("A value is malformed or out of range.")
    response = drf_exception_handler(exc, context)
    if blockers and response is not None:
        response.data["blockers"] = list(blockers)
    return response
