"""The builders that write a release's state directly leave the rows the services leave.

Each state is built twice from the same database: once through the services (``lifecycle=True``)
and once directly, and every table is compared, row by row and column by column. Rows made by
the build are matched in the order they were inserted, so their keys (and the keys pointing at
them, in columns and in events' data) are compared by that order; moments are compared as their
distance from the start of the build, within a tolerance. A service that starts writing
something else, or writing it differently, fails here until the direct builder follows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.db import models, transaction
from django.utils import timezone

from releases.models import Project, Release
from releases.services.lifecycle import lock_scope
from releases.signals import event_logged
from tests.builders import (
    Cast,
    make_approved,
    make_cast,
    make_deploying,
    make_monitoring,
    make_ready,
    make_release,
)

pytestmark = pytest.mark.django_db

# How far apart the same moment may be in the two builds: each service takes its own "now".
TOLERANCE = dt.timedelta(seconds=10)

# Keys in JSON columns (events' data, decisions' snapshots) that hold another row's key.
KEYS_IN_DATA: dict[str, str] = {
    "sign_off": "approvals.SignOff",
    "decision": "approvals.Decision",
    "checklist_item": "releases.ChecklistItem",
    "scope_item": "releases.ScopeItem",
    "check": "monitoring.Check",
    "result": "monitoring.CheckResult",
    "user": "auth.User",
    "release": "releases.Release",
    "freeze_windows": "releases.FreezeWindow",
    "asked": "auth.User",
}

# A password hash is salted afresh for each user made.
UNCOMPARED = {("auth.User", "password")}

ISO_MOMENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?$")


@dataclasses.dataclass(frozen=True)
class Moment:
    """A moment as its distance from the start of the build."""

    offset: dt.timedelta


def _models() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and not model._meta.auto_created
    ] + [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.auto_created and model._meta.managed
    ]


def _keys() -> dict[str, set[Any]]:
    return {
        model._meta.label: set(model._base_manager.values_list("pk", flat=True))
        for model in _models()
    }


class Tables:
    """Every table's rows after a build, with the build's own keys replaced by their order."""

    def __init__(self, before: dict[str, set[Any]], start: dt.datetime) -> None:
        self.start = start
        raw = {
            model._meta.label: (model, list(model._base_manager.order_by("pk").values()))
            for model in _models()
        }
        self.new: dict[str, dict[Any, str]] = {}
        for label, (model, rows) in raw.items():
            pk = model._meta.pk.attname
            added = [row[pk] for row in rows if row[pk] not in before[label]]
            self.new[label] = {key: f"{label} new #{n}" for n, key in enumerate(added)}
        self.rows = {
            label: [self._row(model, row) for row in rows] for label, (model, rows) in raw.items()
        }

    def _key(self, label: str, value: Any) -> Any:
        return self.new.get(label, {}).get(value, value)

    def _row(self, model: type[models.Model], row: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for field in model._meta.concrete_fields:
            value = row[field.attname]
            if (model._meta.label, field.attname) in UNCOMPARED:
                continue
            if field.primary_key:
                value = self._key(model._meta.label, value)
            elif field.is_relation and field.related_model is not None:
                value = self._key(field.related_model._meta.label, value)
            else:
                value = self._value(value)
            out[field.attname] = value
        return out

    def _value(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dt.datetime):
            return Moment(value - self.start)
        if isinstance(value, str) and ISO_MOMENT.match(value):
            return Moment(dt.datetime.fromisoformat(value) - self.start)
        if isinstance(value, dict):
            return {k: self._value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v, key) for v in value]
        if key in KEYS_IN_DATA and isinstance(value, int) and not isinstance(value, bool):
            return self._key(KEYS_IN_DATA[key], value)
        return value


def _differences(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, Moment) and isinstance(b, Moment):
        if abs(a.offset - b.offset) > TOLERANCE:
            return [f"{where}: {a.offset} != {b.offset}"]
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items != {len(b)}:\n  {a}\n  {b}"]
        return [
            d
            for n, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{where}[{n}]")
        ]
    if a != b:
        return [f"{where}: {a!r} != {b!r}"]
    return []


def _build(builder: Callable[..., Release], release: Release, cast: Cast, **kwargs: Any) -> None:
    # Fresh copies: nothing cached on the objects from the other build.
    release = Release.objects.get(pk=release.pk)
    cast = dataclasses.replace(cast, project=Project.objects.get(pk=cast.project.pk))
    builder(release, cast, **kwargs)


def _window_closed() -> dict[str, Any]:
    """A deploy window that closed an hour ago: the deploy is started with an override."""
    now = timezone.now()
    return {
        "deploy_window_start": now - dt.timedelta(hours=3),
        "deploy_window_end": now - dt.timedelta(hours=1),
    }


RELEASES: dict[str, Callable[[], dict[str, Any]]] = {
    "standard": lambda: {"kind": "standard"},
    "hotfix": lambda: {"kind": "hotfix", "scope": 2},
    # Its release-manager sign-off comes from Rhea, assigned through the service; it is not
    # ready for a Go with one QA sign-off.
    "major": lambda: {"kind": "major"},
    "window closed": _window_closed,
}

CASES = [
    *((make_ready, name) for name in RELEASES),
    *((make_approved, name) for name in ("standard", "hotfix", "window closed")),
    *(
        (builder, name)
        for builder in (make_deploying, make_monitoring)
        for name in ("standard", "hotfix", "window closed")
    ),
]


def _after_commit(callback: Callable[[], Any]) -> str:
    """What a callback left for after the commit does: an event's signal (a closure in
    ``log_event``, a partial in the builders), or a task queued."""
    func = callback.func if isinstance(callback, functools.partial) else callback
    owner = getattr(func, "__self__", None)
    if owner is event_logged or func.__qualname__.startswith("log_event."):
        return "event_logged"
    return f"{getattr(owner, 'name', owner)}.{func.__name__}"


def _both_ways(
    build: Callable[[bool], Any], capture: Callable[..., Any]
) -> tuple[list[str], list[str], list[str]]:
    """``build(True)`` (through the services), rolled back, then ``build(False)`` (directly):
    the rows that differ, and what each build left for after the commit."""
    before = _keys()
    savepoint = transaction.savepoint_create()
    with capture() as services_leave:
        start = timezone.now()
        build(True)
        through_services = Tables(before, start)
    transaction.savepoint_rollback(savepoint)
    with capture() as builder_leaves:
        start = timezone.now()
        build(False)
        directly = Tables(before, start)
    differences = [
        difference
        for label, rows in through_services.rows.items()
        for difference in _differences(rows, directly.rows[label], label)
    ]
    return (
        differences,
        sorted(map(_after_commit, builder_leaves)),
        sorted(map(_after_commit, services_leave)),
    )


def _compare(
    builder: Callable[..., Release], release: Release, cast: Cast, capture: Callable[..., Any]
) -> tuple[list[str], list[str], list[str]]:
    return _both_ways(
        lambda services: _build(
            builder, release, cast, **({"lifecycle": True} if services else {})
        ),
        capture,
    )


@pytest.mark.parametrize(
    ("builder", "name"),
    CASES,
    ids=[f"{builder.__name__}-{name}" for builder, name in CASES],
)
def test_it_writes_the_rows_the_services_write(
    cast, builder, name, django_capture_on_commit_callbacks
):
    release = make_release(cast, "2.0.0", **RELEASES[name]())
    differences, builder_leaves, services_leave = _compare(
        builder, release, cast, django_capture_on_commit_callbacks
    )
    assert not differences, "\n".join(differences)
    assert builder_leaves == services_leave


def test_it_starts_from_a_frozen_release_as_the_services_do(
    cast, django_capture_on_commit_callbacks
):
    release = make_release(cast, "2.0.0")
    lock_scope(release, by=cast.rita)
    differences, builder_leaves, services_leave = _compare(
        make_monitoring, release, cast, django_capture_on_commit_callbacks
    )
    assert not differences, "\n".join(differences)
    assert builder_leaves == services_leave


def test_it_writes_the_cast_as_the_services_write_it(django_capture_on_commit_callbacks):
    differences, builder_leaves, services_leave = _both_ways(
        lambda services: make_cast("orbit", through_services=services),
        django_capture_on_commit_callbacks,
    )
    assert not differences, "\n".join(differences)
    assert builder_leaves == services_leave


NEW_RELEASES: dict[str, dict[str, Any]] = {
    "standard": {},
    "hotfix without scope": {"kind": "hotfix", "scope": 0},
    "major with three items": {"kind": "major", "scope": 3},
    "titled, for staging, short commit": {
        "title": "Spring",
        "environment": "staging",
        "git_ref": "v2.0.0",
        "sha": "ABC1234",
    },
    "without a commit": {"sha": ""},
}


@pytest.mark.parametrize("name", NEW_RELEASES)
def test_it_writes_a_new_release_as_the_services_write_it(
    cast, name, django_capture_on_commit_callbacks
):
    differences, builder_leaves, services_leave = _both_ways(
        lambda services: make_release(
            cast, "2.0.0", through_services=services, **NEW_RELEASES[name]
        ),
        django_capture_on_commit_callbacks,
    )
    assert not differences, "\n".join(differences)
    assert builder_leaves == services_leave
