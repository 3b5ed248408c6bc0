"""The demo as each of its people sees it in a browser: markers apart, labels in words, one end
of monitoring."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import expect

from releases.models import Release, Status
from tests.snapshots import seed_demo

# In the worker that seeds the demo for tests/workspace/test_seed_demo.py: seeded once for both.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("seed_demo"),
]

DEMO_PEOPLE = ("rita", "paul", "quinn", "dana", "devin", "vic")
# A stored name shown as it is stored ("post_release", "release_manager", "json_field").
STORED_NAME = re.compile(r"\b[a-z]+_[a-z_]+\b")
AWKWARD = ("due now", "Post_release", "ticked by Release manager", "Created on")

# The bounding boxes of the chart's marker circles and its texts outside the markers.
BOXES = """
() => [...document.querySelectorAll('svg.timeline g.marker circle, svg.timeline text')]
  .filter(e => e.tagName === 'circle' || !e.closest('g.marker'))
  .map(e => { const r = e.getBoundingClientRect();
              return {what: e.closest('g.marker') ? 'marker' : e.textContent.trim(),
                      title: (e.closest('g.marker')?.querySelector('title')?.textContent || ''),
                      x: r.x, y: r.y, w: r.width, h: r.height}; })
"""


@pytest.fixture
def demo(transactional_db: Any, live_server: Any) -> dict[str, Any]:
    address = live_server.url.rsplit(":", 1)
    seed_demo("--port", address[1])
    return {user.username: user for user in get_user_model().objects.all()}


def overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    pairs = []
    for index, a in enumerate(boxes):
        for b in boxes[index + 1 :]:
            apart = (
                a["x"] + a["w"] <= b["x"] + 0.5
                or b["x"] + b["w"] <= a["x"] + 0.5
                or a["y"] + a["h"] <= b["y"] + 0.5
                or b["y"] + b["h"] <= a["y"] + 0.5
            )
            if not apart:
                pairs.append((a["title"] or a["what"], b["title"] or b["what"]))
    return pairs


def test_it_shows_the_demo_to_each_of_its_people_as_they_expect(demo, open_as, live_server):
    """One demo, seeded once (it takes seconds), looked at from every side."""
    rita = open_as(demo["rita"], reverse("project_trains", args=["payments"]))
    says_the_next_train_departure_has_its_release(rita)
    for width in (1360, 375):
        keeps_the_timeline_markers_apart(rita, live_server, width)
    shows_every_demo_user_labels_as_people_write_them(demo, open_as, live_server)
    gives_one_planned_end_of_monitoring_wherever_it_is_shown(demo, open_as, live_server)


def says_the_next_train_departure_has_its_release(trains: Any) -> None:
    first = trains.get_by_test_id("slot-state").first
    expect(first).to_contain_text("Planning")
    expect(first.get_by_role("link")).to_have_count(1)


def keeps_the_timeline_markers_apart(page: Any, live_server: Any, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}{reverse('timeline')}")
    boxes = page.evaluate(BOXES)
    markers = [box for box in boxes if box["what"] == "marker"]
    assert len(markers) > 20, width
    assert overlapping(boxes) == [], width


def shows_every_demo_user_labels_as_people_write_them(
    demo: Any, open_as: Any, live_server: Any
) -> None:
    rolled_back = Release.objects.get(status=Status.ROLLED_BACK)
    monitoring = Release.objects.get(status=Status.MONITORING)
    frozen = Release.objects.get(status=Status.FROZEN)
    pages = [
        rolled_back.get_absolute_url(),
        monitoring.get_absolute_url(),
        frozen.get_absolute_url(),
        reverse("timeline"),
        reverse("project_metrics", args=["payments"]),
        reverse("project_trains", args=["payments"]),
        reverse("project_audit", args=["payments"]),
        reverse("check_templates", args=["payments"]),
    ]
    for username in DEMO_PEOPLE:
        # Signing in lands on the dashboard, the first page to read.
        page = open_as(demo[username], by_form=True)
        reads_as_people_write(page, username, reverse("dashboard"))
        for path in pages:
            answer = page.goto(f"{live_server.url}{path}")
            if answer is None or answer.status != 200:
                continue  # not theirs to see
            reads_as_people_write(page, username, path)
        page.close()  # open, it would ask the server every second whether anything changed


def reads_as_people_write(page: Any, username: str, path: str) -> None:
    text = page.locator("main").inner_text()
    assert STORED_NAME.findall(text) == [], (username, path)
    for phrase in AWKWARD:
        assert phrase not in text, (username, path, phrase)


def gives_one_planned_end_of_monitoring_wherever_it_is_shown(
    demo: Any, open_as: Any, live_server: Any
) -> None:
    release = Release.objects.get(status=Status.MONITORING)
    assert release.monitoring_until is not None
    end = f"{release.monitoring_until:%a %-d %b, %H:%M}"
    dana = open_as(demo["dana"], release.get_absolute_url())
    expect(dana.locator("table.milestones tr", has_text="End of monitoring")).to_contain_text(end)
    expect(dana.locator("#sec-deploy")).to_contain_text(end)
    dana.goto(f"{live_server.url}{reverse('timeline')}")
    planned = dana.locator("svg.timeline title", has_text=f"End of monitoring planned: {end}")
    expect(planned).to_have_count(1)
