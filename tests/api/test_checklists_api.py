"""Checklists over the API: ticking with the evidence an item requires, and the templates that
require it."""

from __future__ import annotations

import pytest

from releases.models import Evidence, ReleaseEvent
from tests.builders import make_release

pytestmark = pytest.mark.django_db

LINK_NEEDED = (
    "This item needs a link to its evidence (a test report, a dashboard…) before it can be ticked."
)
NOTE_NEEDED = "This item needs a note on what was checked before it can be ticked."


@pytest.fixture
def both_needed(cast):
    template = cast.project.checklist_templates.get(title="Critical flows pass")
    template.evidence_required = Evidence.BOTH
    template.save(update_fields=["evidence_required"])
    return template


def tick_url(release, item) -> str:
    return f"/api/releases/{release.pk}/checklist-items/{item.pk}/tick/"


def test_it_answers_400_naming_the_missing_evidence_and_ticks_nothing(
    cast, client_for, both_needed
):
    release = make_release(cast)
    item = release.checklist_items.get(template=both_needed)

    response = client_for("quinn").post(tick_url(release, item), {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"note": [NOTE_NEEDED], "url": [LINK_NEEDED]}
    item.refresh_from_db()
    assert item.ticked_at is None
    assert not ReleaseEvent.objects.filter(release=release, verb="checklist_ticked").exists()


def test_it_ticks_with_the_evidence_and_shows_what_the_item_requires(cast, client_for, both_needed):
    release = make_release(cast)
    item = release.checklist_items.get(template=both_needed)

    response = client_for("quinn").post(
        tick_url(release, item),
        {"note": "Regression suite green", "url": "https://ci.example.com/run/7"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["ticked"] is True
    assert body["evidence_required"] == "both"
    assert body["evidence_url"] == "https://ci.example.com/run/7"


def test_it_sets_and_reads_the_evidence_a_template_requires(cast, client_for):
    rita = client_for("rita")
    added = rita.post(
        "/api/projects/payments/checklist-templates/",
        {"title": "Regression suite passed", "owner_role": "qa", "evidence_required": "link"},
        format="json",
    )
    assert added.status_code == 201, added.json()
    assert added.json()["evidence_required"] == "link"

    url = f"/api/projects/payments/checklist-templates/{added.json()['id']}/"
    changed = rita.patch(url, {"evidence_required": "both"}, format="json")
    listed = client_for("quinn").get("/api/projects/payments/checklist-templates/")

    assert changed.status_code == 200
    assert {t["title"]: t["evidence_required"] for t in listed.json()["results"]} == {
        "Critical flows pass": "none",
        "Migrations reviewed": "none",
        "Stakeholders told": "none",
        "Smoke test in production": "none",
        "Regression suite passed": "both",
    }
    item = make_release(cast).checklist_items.get(title="Regression suite passed")
    assert item.evidence_required == Evidence.BOTH


def test_it_refuses_an_evidence_requirement_it_does_not_know(cast, client_for):
    template = cast.project.checklist_templates.get(title="Critical flows pass")
    response = client_for("rita").patch(
        f"/api/projects/payments/checklist-templates/{template.pk}/",
        {"evidence_required": "screenshot"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["evidence_required"]
    template.refresh_from_db()
    assert template.evidence_required == Evidence.NONE
