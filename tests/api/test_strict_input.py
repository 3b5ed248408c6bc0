"""Strict input: a field the endpoint does not take, or may not change, is a 400 that names it,
and nothing changes. Walked over every write operation of the published schema, so a new
endpoint cannot forget it."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from approvals.models import SignOff
from releases.models import Release, ReleaseEvent
from releases.services.lifecycle import lock_scope
from tests.api.test_fuzzing import path_parameters, seed
from tests.builders import make_ready, make_release

pytestmark = pytest.mark.django_db

STRAY = "zz_unexpected"
# A provider's own object, posted as the provider shapes it: the fields Greenlight does not read
# are left unread (lib/rest/input.py), and tests/api/test_incidents_api.py shows it.
PROVIDER_SHAPED = {
    "/api/projects/{slug}/incidents/opsgenie/",
    "/api/projects/{slug}/incidents/pagerduty/",
}


def signed_in(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_it_refuses_an_unknown_field_on_a_sign_off_and_records_nothing(cast):
    release = make_release(cast)
    lock_scope(release, by=cast.rita)

    response = signed_in(cast.quinn).post(
        f"/api/releases/{release.pk}/sign-offs/",
        {"role": "qa", "decision": "go", "comment": "", "approved_by": "the board"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"approved_by": ["Unknown field, or one that cannot be set here."]}
    assert not SignOff.objects.filter(release=release).exists()


def test_it_refuses_to_set_a_releases_status_by_editing_it(cast):
    release = make_ready(make_release(cast), cast)
    events = ReleaseEvent.objects.count()

    response = signed_in(cast.rita).patch(
        f"/api/releases/{release.pk}/", {"status": "approved", "title": "Go!"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    release.refresh_from_db()
    assert release.status == "frozen"
    assert release.title != "Go!"
    assert ReleaseEvent.objects.count() == events


def test_it_refuses_a_read_only_field_by_name(cast):
    release = make_release(cast)

    response = signed_in(cast.dana).patch(
        f"/api/releases/{release.pk}/rollback-plan/",
        {"revert_steps": "Redeploy the previous tag.", "missing": []},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"missing": ["This field is read-only."]}
    release.rollback_plan.refresh_from_db()
    assert release.rollback_plan.revert_steps == ""


def test_it_refuses_a_stray_field_inside_a_nested_object(cast):
    release = make_release(cast)
    lock_scope(release, by=cast.rita)

    response = signed_in(cast.devin).post(
        f"/api/releases/{release.pk}/change-requests/",
        {"action": "add", "reason": "Late fix", "proposal": {"title": "Fix", STRAY: 1}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "proposal": {STRAY: ["Unknown field, or one that cannot be set here."]}
    }


def test_it_refuses_a_stray_field_on_every_write_operation(cast):
    world = seed(cast)
    cast.rita.is_superuser = True
    cast.rita.save(update_fields=["is_superuser"])
    client = signed_in(cast.rita)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    statuses = dict(Release.objects.values_list("pk", "status"))

    walked, failures = 0, []
    for template, operations in schema["paths"].items():
        for method in ("post", "put", "patch"):
            if method not in operations:
                continue
            path = template.format(**path_parameters(template, world))
            response = getattr(client, method)(path, {STRAY: 1}, format="json")
            walked += 1
            body = response.json() if response.content else None
            if template in PROVIDER_SHAPED:
                # Refused for what it lacks, never for the stray field.
                if response.status_code != 400 or STRAY in (body or {}):
                    failures.append(f"{method.upper()} {template}: {response.status_code} {body}")
                continue
            if response.status_code != 400 or STRAY not in (body or {}):
                failures.append(f"{method.upper()} {template}: {response.status_code} {body}")

    assert walked > 50
    assert not failures, "\n".join(failures)
    assert dict(Release.objects.values_list("pk", "status")) == statuses
