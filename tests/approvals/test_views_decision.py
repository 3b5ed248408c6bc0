"""The decision page: the frozen snapshot, readable and downloadable."""

from __future__ import annotations

import json

import pytest

from approvals.services.decisions import record_decision
from releases.services.lifecycle import lock_scope
from releases.services.notes import add_note
from tests.builders import let_release_managers_override, make_approved
from tests.html import client_for

pytestmark = pytest.mark.django_db


def test_it_shows_the_snapshot_as_it_was_when_the_decision_was_taken(cast, release):
    make_approved(release, cast)
    decision = release.decisions.get()
    # Later changes do not touch what the decision rested on.
    add_note(release, by=cast.rita, text="after the decision")
    page = client_for(cast.vic).get(decision.get_absolute_url()).content.decode()
    assert "Go</span> on Payments 1.0.0" in page
    assert "Readiness then: 100%" in page
    assert "Critical flows pass" in page
    assert "CI green" in page
    assert "Feature 1" in page
    assert "paul" in page  # Product's sign-off


def test_it_shows_an_override_and_its_reason(cast, release):
    let_release_managers_override(cast, "sign_offs")
    lock_scope(release, by=cast.rita)
    decision = record_decision(
        release, by=cast.rita, outcome="go", override_reason="Regulator deadline"
    )
    page = client_for(cast.paul).get(decision.get_absolute_url()).content.decode()
    assert "Override." in page
    assert "Regulator deadline" in page
    assert "Not ready" in page
    assert "Product has not signed off" in page


def test_it_downloads_the_snapshot_as_json(cast, release):
    make_approved(release, cast)
    decision = release.decisions.get()
    response = client_for(cast.quinn).get(decision.get_absolute_url() + "?format=json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="decision-{decision.pk}-1.0.0.json"'
    )
    assert json.loads(response.content) == decision.snapshot


def test_it_hides_decisions_from_outsiders(cast, release):
    make_approved(release, cast)
    decision = release.decisions.get()
    client = client_for(cast.otto)
    assert client.get(decision.get_absolute_url()).status_code == 404
    assert client.get(decision.get_absolute_url() + "?format=json").status_code == 404


def test_it_names_checklist_and_check_phases_as_people_write_them(cast, release):
    make_approved(release, cast)
    decision = release.decisions.get()
    page = client_for(cast.vic).get(decision.get_absolute_url()).content.decode()
    assert "<td>Readiness</td>" in page
    assert "<td>Deployment</td>" in page
    assert "Pre-release" in page
    assert "pre_release" not in page
    assert "Post_release" not in page
