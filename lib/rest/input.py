"""Strict input: a request body is what its serializer takes, and nothing else.

A field the serializer does not take, or may not set, answers 400 naming it, like any field error;
nothing a client sends is silently ignored. The one exception is a provider's own object posted
as the provider shapes it (an Opsgenie alert action, a PagerDuty incident): the provider adds
fields, some only with some actions, and a field Greenlight does not read is not the sender's
mistake. There the fields Greenlight reads are checked as everywhere, and the others are left
unread (``strict=False``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.request import Request

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
    strict: bool = True,
) -> Any:
    """The request body checked by ``serializer_class``; field errors answer 400, and so does
    any field the serializer does not take (strict input: nothing is silently ignored), unless
    the body is a provider's own object (``strict=False``, above)."""
    serializer = serializer_class(
        data=request.data, context={"request": request, **(context or {})}, partial=partial
    )
    stray = stray_fields(serializer, request.data) if strict else {}
    if not serializer.is_valid() or stray:
        errors = dict(serializer.errors) if serializer.errors else {}
        raise exceptions.ValidationError({**errors, **stray})
    return serializer.validated_data


def no_input(request: Request) -> None:
    """For operations that take no body: any field sent is refused like an unknown one."""
    data = request.data
    if isinstance(data, Mapping) and data:
        raise exceptions.ValidationError({name: [UNKNOWN_FIELD] for name in data})
