"""The REST API's conventions, shared by every app's ``api.py``.

- Errors: ``{"detail": "…"}`` or field errors ``{"field": ["…"]}``; 400 bad input, 401 no or bad
  credentials, 403 not permitted, 404 not found (and everything an outsider asks for), 409 a
  refused transition with the plain-words reason (and ``blockers``, one reason each, when there
  are several), 429 a token over its rate.
- Services raise ``Refused`` / ``NotAllowed`` / Django ``ValidationError``; the exception handler
  turns them into 409 / 403 / 400, so API views only call services and never catch. Who may do
  what is a rule in ``releases.access`` (``rule.check(...)`` raises ``NotAllowed`` with the
  rule's sentence); no API view writes a refusal of its own.
- Strict input: ``validated`` refuses fields the serializer does not take or may not set, and
  ``no_input`` any field sent to an operation that takes none (400, naming each field).
- Lists are paginated by page number (20 a page); the event log by cursor, so new events never
  shift the page a client is reading.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from lib.errors import NotAllowed, Refused
from releases.access import ProjectTokenUser, is_person
from releases.events import Actor

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


def actor(request: Request) -> Actor:
    """``by=`` for services: the person, or the project token's label ("CI token deploy-bot")."""
    user = request.user
    if isinstance(user, ProjectTokenUser):
        return user.label
    if isinstance(user, AnonymousUser):
        raise exceptions.NotAuthenticated()
    return user


class PeopleOnly(BasePermission):
    """What belongs to a person, such as their notifications: a project token is a machine
    with no inbox, so it is refused (403) rather than shown an empty list."""

    message = "This belongs to a person: sign in or use a personal token, not a project token."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_person(request.user)


UNKNOWN_FIELD = "Unknown field, or one that cannot be set here."
READ_ONLY_FIELD = "This field is read-only."


def stray_fields(serializer: serializers.Serializer, data: Any) -> dict[str, Any]:
    """Field errors for every name in ``data`` that ``serializer`` does not take as input.

    DRF drops such names silently, so a client that misspells a field, or tries to set what it
    may not (a release's status), would get 200 and believe it worked. Nested objects are
    checked by their own serializers.
    """
    if not isinstance(data, Mapping):
        return {}
    errors: dict[str, Any] = {}
    fields = serializer.fields
    for name, value in data.items():
        field = fields.get(name)
        if field is None:
            errors[name] = [UNKNOWN_FIELD]
        elif field.read_only:
            errors[name] = [READ_ONLY_FIELD]
        elif isinstance(field, serializers.Serializer) and isinstance(value, Mapping):
            nested = stray_fields(field, value)
            if nested:
                errors[name] = nested
        elif (
            isinstance(field, serializers.ListSerializer)
            and isinstance(field.child, serializers.Serializer)
            and isinstance(value, list)
        ):
            items = [stray_fields(field.child, item) for item in value]
            if any(items):
                errors[name] = items
    return errors


def validated(
    serializer_class: type[serializers.Serializer],
    request: Request,
    *,
    context: dict[str, Any] | None = None,
    partial: bool = False,
) -> Any:
    """The request body checked by ``serializer_class``; field errors answer 400, and so does
    any field the serializer does not take (strict input: nothing is silently ignored)."""
    serializer = serializer_class(
        data=request.data, context={"request": request, **(context or {})}, partial=partial
    )
    stray = stray_fields(serializer, request.data)
    if not serializer.is_valid() or stray:
        errors = dict(serializer.errors) if serializer.errors else {}
        raise exceptions.ValidationError({**errors, **stray})
    return serializer.validated_data


def no_input(request: Request) -> None:
    """For operations that take no body: any field sent is refused like an unknown one."""
    data = request.data
    if isinstance(data, Mapping) and data:
        raise exceptions.ValidationError({name: [UNKNOWN_FIELD] for name in data})


class FilterBackend(DjangoFilterBackend):
    """django-filter, skipped when the request names none of the view's filters.

    Building and validating a FilterSet costs about a millisecond; most list requests filter
    on nothing (docs/performance.md).
    """

    # DRF hands filter backends its own Request; the django-filter stub says HttpRequest.
    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:  # type: ignore[override]
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not set(request.query_params) & set(
            filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


@dataclass(frozen=True)
class PlainRows:
    """``queryset`` for a paginator, its pages read as ``values(*fields)``.

    The count is the queryset's own, without the joins that only the rows' columns need, and a
    page's rows are dicts rather than model instances that would only be read and thrown away.
    """

    queryset: QuerySet[Any]
    fields: tuple[str, ...]

    @property
    def ordered(self) -> bool:
        """Django's paginator warns about pages of an unordered queryset."""
        return self.queryset.ordered

    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        return list(self.queryset[page].values(*self.fields))


class PagePagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class EventCursorPagination(CursorPagination):
    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


# --- schema -------------------------------------------------------------------------------

ERROR_STATUSES = {
    "400": 'Invalid input: `{"detail": …}` or field errors `{"field": ["…"]}`.',
    "401": "No credentials, or an invalid or revoked token.",
    "403": "Signed in, but not permitted to do this.",
    "404": "Not found, or not visible to you.",
    "409": "Refused in the current state; `detail` says why in plain words.",
    "429": "Too many requests from this token; retry after `Retry-After` seconds.",
}
READ_ERRORS = ("401", "404", "429")

ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` with a sentence, or a list of messages per field.",
    # A request field named ``detail`` (a deploy report's) answers a list of its messages.
    "properties": {
        "detail": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    },
    "additionalProperties": {},
}


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document the error answers of every operation.

    Reads can fail with 401/404/429 (and 400 for a bad filter or page), writes with every
    status in ``ERROR_STATUSES``, all with the same body.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/") or path.startswith("/api/schema"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = ERROR_STATUSES if method != "get" else (*READ_ERRORS, "400", "403")
            for code in codes:
                responses.setdefault(
                    code,
                    {
                        "description": ERROR_STATUSES[code],
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                )
    return result


def allow_blank_urls(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every URL field here may also be empty.

    Django's ``URLField(blank=True)`` holds "" for "no link", which is not a ``uri``; the schema
    says "a URI, or empty" so that clients and validators accept what the API really sends.
    """

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("format") == "uri" and node.get("type") == "string":
                del node["format"]
                node["anyOf"] = [{"format": "uri"}, {"maxLength": 0}]
            alternatives = node.get("oneOf", [])
            if any(alt.get("maxLength") == 0 for alt in alternatives):
                # drf-spectacular already offers "empty" beside this writable field.
                return
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result.get("components", {}))
    return result
