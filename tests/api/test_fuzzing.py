"""Property-based fuzzing of the whole API with schemathesis.

The application, called in-process as a WSGI server calls it and backed by the real PostgreSQL
(every request commits), answers every operation of the published schema, called with inputs
generated from that schema (valid and invalid), as the release manager with a personal token.
No answer may be a 5xx, and every answer must match what the schema documents: status code,
content type and body.

Two phases: the stateless one calls each operation on its own; the stateful one runs sequences
of operations in which a step may use what an earlier step answered (a created release's id,
say, as schemathesis links them), so operations meet the states that others leave behind.
Around them, every address of a real object is also asked what browsers and tools ask: OPTIONS,
and HTML.

Path parameters point at real objects in the state each operation needs (a planning release for
scope edits, an approved one for starting the deploy, …), so the generated bodies reach the
services instead of stopping at 404. That world is seeded once and copied back at the start of
every test and of every sequence: each meets the same rows and ids. Bounded: ``FUZZ_EXAMPLES``
examples per operation and mode (default 5), derandomized so CI runs are repeatable;
``FUZZ_SEED=random`` explores.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from django.contrib.auth.models import Permission
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from monitoring.models import Check
from monitoring.services import flags, health
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from monitoring.services.results import record_check_result
from releases.api.tokens import TokenRateThrottle
from releases.models import Release
from releases.notifications import notify
from releases.services import trains
from releases.services.freeze_windows import save_freeze_window
from releases.services.incidents import record_incident
from releases.services.lifecycle import complete_release, lock_scope, mark_health
from releases.services.review import add_review_action
from releases.services.rollback import roll_back
from releases.services.scope import request_scope_change
from releases.services.tokens import create_api_token
from subscriptions import services as webhooks
from subscriptions.models import Delivery
from tests.builders import (
    Cast,
    make_approved,
    make_cast,
    make_deploying,
    make_monitoring,
    make_ready,
    make_release,
)
from tests.local_servers import closed_port
from tests.snapshots import Snapshot

# One worker runs them: the schema is generated once for all.
pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("fuzzing"),
]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
# Stateful phase: sequences (scenarios) and the most steps in one. Each sequence starts from the
# seeded world and its steps take about a second; FUZZ_SCENARIOS=50 explores more.
SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "8"))
STEPS = int(os.environ.get("FUZZ_STEPS", "8"))
DERANDOMIZE = os.environ.get("FUZZ_SEED", "") != "random"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Body fields that make the server call an address: fuzzing them would have it call whatever
# host the generator invents. Their validation is covered by the serializers' own tests.
OUTBOUND_URL_FIELDS = ("slack_webhook_url", "rollback_webhook_url", "target_url")


def _release_ids(release: Release) -> dict[str, Any]:
    release.refresh_from_db()
    return {
        "release_id": release.pk,
        "scope_item": release.scope_items.order_by("pk")[0].pk,
        "checklist_item": release.checklist_items.get(title="Critical flows pass").pk,
        "check_id": release.checks.get(name="CI green").pk,
        "assignment_id": release.assignments.order_by("-pk")[0].pk,
    }


def seed(cast: Cast) -> dict[str, dict[str, Any]]:
    """A release in each state an operation needs, keyed by what the operation does."""
    now = timezone.now()
    planning = make_release(cast, "1.0.0")
    record_check_result(
        planning.checks.get(name="CI green"), status="needs_judgement", source="api"
    )
    frozen = make_release(cast, "1.1.0")
    lock_scope(frozen, by=cast.rita)
    change = request_scope_change(
        frozen, by=cast.devin, action="add", reason="Late fix", proposal={"title": "Late fix"}
    )
    ready = make_ready(make_release(cast, "1.2.0"), cast)
    approved = make_approved(make_release(cast, "1.3.0"), cast)
    deploying = make_deploying(make_release(cast, "1.4.0"), cast)
    rolling = make_deploying(make_release(cast, "1.5.0"), cast)
    done = make_monitoring(make_release(cast, "1.6.0"), cast)
    Release.objects.filter(pk=done.pk).update(monitoring_until=now - dt.timedelta(minutes=1))
    released = make_monitoring(make_release(cast, "1.7.0"), cast)
    Release.objects.filter(pk=released.pk).update(monitoring_until=now - dt.timedelta(minutes=1))
    complete_release(released, by=cast.rita)
    action = add_review_action(released, by=cast.rita, description="Alert sooner")
    incident = record_incident(released, by=cast.rita, title="Errors", severity="sev3")
    rolled_back = make_deploying(make_release(cast, "1.10.0"), cast)
    roll_back(rolled_back, by=cast.dana, reason="Errors")
    watched = make_monitoring(make_release(cast, "1.11.0"), cast)
    error_rate = save_release_check(
        watched,
        by=cast.dana,
        integration=cast.ci,
        name="Error rate",
        phase="post_release",
        comparator="lt",
        threshold=0.02,
    )
    trigger = health.add_rollback_trigger(watched, by=cast.dana, check=error_rate, mode="recommend")
    mark_health(watched, "unhealthy", by="Greenlight", reason="5xx spike")
    # A flag whose provider never answers: a switch or a read ends as a recorded failure.
    launchdarkly = save_integration(
        cast.project,
        by=cast.rita,
        name="LaunchDarkly",
        kind="launchdarkly",
        base_url=f"http://127.0.0.1:{closed_port()}",
        config={"project": "shop", "environments": "production"},
        secrets={"token": "api-x"},
    )
    flag = flags.bind_flag(
        watched.scope_items.order_by("pk")[0],
        by=cast.rita,
        integration=launchdarkly,
        key="new-checkout",
    )
    cancel = make_release(cast, "1.8.0")
    lock = make_release(cast, "1.9.0")
    window = save_freeze_window(
        cast.project,
        by=cast.rita,
        reason="Quarter close",
        recurrence="once",
        starts_at=now + dt.timedelta(days=20),
        ends_at=now + dt.timedelta(days=22),
    )
    departure = now.date() + dt.timedelta(days=7)
    train = trains.save_train(
        cast.project, by=cast.rita, name="Weekly", cadence_weeks=1, first_deploy_date=departure
    )
    trains.ensure_slot(train, departure)
    notify([cast.rita], release=planning, verb="note", message="Read me")
    # Project creation is an administrator's grant; the fuzzer's person has it, so generated
    # projects reach the service instead of stopping at 403.
    cast.rita.user_permissions.add(Permission.objects.get(codename="add_project"))
    project = {
        "slug": cast.project.slug,
        "user_id": cast.vic.pk,
        "window_id": window.pk,
        "integration_id": cast.ci.pk,
        "decision_id": approved.decisions.get().pk,
        "template_id": cast.project.checklist_templates.order_by("pk")[0].pk,
        "train_id": train.pk,
    }
    # Paused, so that the events the fuzzer causes are not sent anywhere.
    webhook, _ = webhooks.create_subscription(
        cast.project,
        by=cast.rita,
        name="Deploy board",
        target_url="https://hooks.example.com/greenlight",
        events=["released"],
        active=False,
    )
    failed = Delivery.objects.create(
        subscription=webhook, event="released", body="{}", state=Delivery.State.FAILED
    )
    project |= {"webhook_id": webhook.pk, "delivery_id": failed.pk}
    template = Check.objects.get(project=cast.project, release__isnull=True).pk
    return {
        "project": project,
        "template": {"check_id": template},
        "planning": _release_ids(planning),
        "frozen": _release_ids(frozen) | {"request_id": change.pk},
        "ready": _release_ids(ready),
        "approved": _release_ids(approved),
        "deploying": _release_ids(deploying),
        "rolling": _release_ids(rolling),
        "done": _release_ids(done),
        "released": _release_ids(released) | {"action_id": action.pk, "incident_id": incident.pk},
        "rolled_back": _release_ids(rolled_back),
        "watched": _release_ids(watched) | {"trigger_id": trigger.pk, "flag_id": flag.pk},
        "cancel": _release_ids(cancel),
        "lock": _release_ids(lock),
    }


# The first marker found in the path wins ("/review/actions/…/complete/" is the review's).
RELEASE_FOR = {
    "/rollback-triggers/": "watched",
    "/flags/": "watched",
    "/flag-triggers/": "watched",
    "/restore-health/": "watched",
    "/review/": "released",
    "/incidents/": "released",
    "/change-requests/": "frozen",
    "/sign-offs/": "ready",
    "/poll/": "frozen",
    "/decisions/": "ready",
    "/start-deploy/": "approved",
    "/finish-deploy/": "deploying",
    "/roll-back/": "rolling",
    "/complete/": "done",
    "/finish-rollback/": "rolled_back",
    "/carry-forward/": "rolled_back",
    "/deploy-reports/": "approved",
    "/cancel/": "cancel",
    "/lock-scope/": "lock",
}


def operations_of(schema: BaseSchema) -> list[APIOperation]:
    """Every operation the schema describes; one it cannot read fails the test."""
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        found.append(result.ok())
    return found


def path_parameters(path: str, world: dict[str, dict[str, Any]]) -> dict[str, Any]:
    params = dict(world["project"])
    if path.startswith("/api/projects/{slug}/checks/"):
        params |= world["template"]
    if "{release_id}" in path:
        state = next((s for marker, s in RELEASE_FOR.items() if marker in path), "planning")
        ids = world[state]
        params |= {k: v for k, v in ids.items() if k not in ("scope_item", "checklist_item")}
        params["item_id"] = ids["checklist_item" if "checklist-items" in path else "scope_item"]
    return {name: params[name] for name in _names(path)}


def _names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


@pytest.fixture(scope="module")
def published(django_db_setup: None, django_db_blocker: Any) -> BaseSchema:
    """The published schema, its operations called on the application in-process. Generated
    once for the module: it is the same for every test and takes seconds to build.

    The schema view reads no table, but every request starts by checking the worker's database
    connection, which an earlier test of the same worker may have opened."""
    with django_db_blocker.unblock():
        return schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


@pytest.fixture
def schema(published: BaseSchema) -> Iterator[BaseSchema]:
    with one_connection():
        yield published


@contextmanager
def one_connection() -> Iterator[None]:
    """Requests share the test's database connection, as in Django's test client: the request
    signals would otherwise close it after every request, and the next one connect again."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@dataclass(frozen=True)
class World:
    """The seeded releases' ids, the fuzzer's token, and the rows to copy back."""

    ids: dict[str, dict[str, Any]]
    token: str
    rows: Snapshot


@pytest.fixture(scope="module")
def seeded(django_db_setup: None, django_db_blocker: Any) -> World:
    """The world, seeded once for the module: the services take seconds to build it, a copy
    takes a tenth of one. Built as the requests run, every service committing (what runs after
    a commit runs), then the database is put back as it was for the test that comes first."""
    with django_db_blocker.unblock():
        before = Snapshot()
        before.take()
        cast = make_cast()
        ids = seed(cast)
        _, token = create_api_token(by=cast.rita, name="fuzzer")
        rows = Snapshot()
        rows.take()
        before.restore()
    return World(ids=ids, token=token, rows=rows)


@pytest.fixture
def world(seeded: World) -> World:
    """The seeded world, copied into this test's database."""
    seeded.rows.restore()
    return seeded


def signed_in(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def fuzz(
    operation: Any, mode: GenerationMode, pinned: dict[str, Any], session: requests.Session
) -> list[str]:
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=pinned))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if failures:
            return
        if isinstance(case.body, dict):
            for name in OUTBOUND_URL_FIELDS:
                case.body.pop(name, None)
        response = case.call(session=session, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:
            failures.append(f"{operation.label} ({mode.value}): {exc}")

    run()
    return failures


# Valid and invalid inputs are two tests: each reports its own failures.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_it_answers_every_generated_request_without_5xx_or_schema_violations(
    schema, world, monkeypatch, mode
):
    # One client sends hundreds of requests in seconds here; its token's budget is not the point.
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "1000000/min"})
    session = signed_in(world.token)

    failures: list[str] = []
    operations = operations_of(schema)
    assert len(operations) > 60
    for operation in operations:
        failures += fuzz(operation, mode, path_parameters(operation.path, world.ids), session)

    assert not failures, "\n\n".join(failures)


def test_it_answers_every_generated_sequence_of_requests_without_5xx(schema, seeded, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "1000000/min"})
    session = signed_in(seeded.token)
    world = seeded.ids
    calls: list[str] = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Each sequence starts from the same state, ids included, so that a sequence
            # replayed by the generator meets the answers it met before.
            seeded.rows.restore()

        def step(self, input: Any) -> Any:
            case = input.case
            # A value an earlier step answered stays; any other path parameter points at the
            # seeded object in the state this operation needs.
            linked = {
                name
                for location, name in input.applied_parameters
                if location == ParameterLocation.PATH
            }
            for name, value in path_parameters(case.path, world).items():
                if name not in linked:
                    case.path_parameters[name] = value
            if isinstance(case.body, dict):
                for name in OUTBOUND_URL_FIELDS:
                    case.body.pop(name, None)
            calls.append(f"{case.method} {case.formatted_path}")
            return super().step(input)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"session": session, "timeout": 30}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            # Schema conformance is the stateless phase's; here: no server error, whatever
            # state earlier steps left behind.
            case.validate_response(response, checks=[not_a_server_error])

    Workflow.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=DERANDOMIZE,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )

    # The sequences reached beyond reads: state-changing operations ran between others.
    assert len(calls) > SCENARIOS
    assert sum(not c.startswith("GET") for c in calls) > SCENARIOS // 2


# Nothing here needs a commit: the walk runs in a transaction that is rolled back.
@pytest.mark.django_db
def test_it_answers_options_and_html_on_every_address_of_real_objects(schema, world):
    client = Client(headers={"Authorization": f"Bearer {world.token}"})

    failures = []
    for operation in {found.path for found in operations_of(schema)}:
        address = operation.format(**path_parameters(operation, world.ids))
        for method, response in (
            ("OPTIONS", client.options(address)),
            ("GET", client.get(address, headers={"Accept": "text/html"})),
        ):
            if response.status_code >= 500:
                failures.append(f"{method} {address}: {response.status_code}")

    assert failures == []
