"""Ticking a checklist item with the evidence its project's checklist requires."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from lib.errors import Refused
from releases.models import Evidence, ReleaseEvent
from releases.services.checklists import save_checklist_template, tick_checklist_item
from tests.builders import make_release

pytestmark = pytest.mark.django_db


@pytest.fixture
def needs_link(cast):
    template = cast.project.checklist_templates.get(title="Critical flows pass")
    return save_checklist_template(
        cast.project, by=cast.rita, template=template, evidence_required=Evidence.LINK
    )


def test_it_refuses_a_tick_without_the_link_the_item_requires_and_says_why(cast, needs_link):
    release = make_release(cast)
    item = release.checklist_items.get(template=needs_link)

    with pytest.raises(ValidationError) as refused:
        tick_checklist_item(item, by=cast.quinn, note="All green on staging")

    assert refused.value.message_dict == {
        "url": [
            "This item needs a link to its evidence (a test report, a dashboard…) "
            "before it can be ticked."
        ]
    }
    item.refresh_from_db()
    assert item.ticked_at is None
    assert not ReleaseEvent.objects.filter(release=release, verb="checklist_ticked").exists()


def test_it_names_each_piece_of_evidence_missing_when_both_are_required(cast):
    template = save_checklist_template(
        cast.project,
        by=cast.rita,
        title="Load test within budget",
        owner_role="qa",
        evidence_required=Evidence.BOTH,
    )
    item = make_release(cast).checklist_items.get(template=template)

    with pytest.raises(ValidationError) as refused:
        tick_checklist_item(item, by=cast.quinn, note="   ", url="")

    assert set(refused.value.message_dict) == {"note", "url"}
    assert refused.value.message_dict["note"] == [
        "This item needs a note on what was checked before it can be ticked."
    ]


def test_it_ticks_an_item_given_the_evidence_it_requires(cast, needs_link):
    item = make_release(cast).checklist_items.get(template=needs_link)

    ticked = tick_checklist_item(item, by=cast.quinn, url="https://ci.example.com/run/7")

    assert ticked.ticked_by == cast.quinn
    assert ticked.evidence_url == "https://ci.example.com/run/7"


def test_it_keeps_the_requirement_a_release_was_planned_with(cast, needs_link):
    planned = make_release(cast, "1.0.0")
    save_checklist_template(
        cast.project, by=cast.rita, template=needs_link, evidence_required=Evidence.NONE
    )
    later = make_release(cast, "1.1.0")

    assert planned.checklist_items.get(template=needs_link).evidence_required == Evidence.LINK
    assert later.checklist_items.get(template=needs_link).evidence_required == Evidence.NONE
    with pytest.raises(ValidationError):
        tick_checklist_item(planned.checklist_items.get(template=needs_link), by=cast.quinn)
    tick_checklist_item(later.checklist_items.get(template=needs_link), by=cast.quinn)


def test_it_still_says_an_item_is_ticked_before_asking_for_evidence(cast, needs_link):
    item = make_release(cast).checklist_items.get(template=needs_link)
    tick_checklist_item(item, by=cast.quinn, url="https://ci.example.com/run/7")

    with pytest.raises(Refused, match="is already ticked by quinn"):
        tick_checklist_item(item, by=cast.rita)
