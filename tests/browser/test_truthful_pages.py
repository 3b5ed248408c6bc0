"""What the release page says agrees with itself: health, readiness, notes and labels."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from monitoring.models import Check, CheckPhase
from monitoring.services.results import record_check_result
from releases.services.rollback import roll_back
from tests.builders import make_cast, make_monitoring, make_release
from tests.html import client_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


def test_it_says_healthy_only_once_a_health_result_says_so(cast, open_as, live_server):
    release = make_monitoring(make_release(cast, "5.0.0"), cast)
    error_rate = Check.objects.create(
        project=cast.project,
        release=release,
        integration=cast.ci,
        name="Error rate",
        phase=CheckPhase.POST_RELEASE,
    )
    rita = open_as(cast.rita, release.get_absolute_url())
    expect(rita.get_by_test_id("health")).to_have_text("Awaiting the first health result")
    # Past the deploy the header weighs health; readiness and its "Ready" are gone.
    expect(rita.get_by_test_id("health-box")).to_contain_text("Awaiting the first health result")
    expect(rita.get_by_test_id("readiness")).to_have_count(0)
    # The planned end of monitoring is the health window's end, as the health section says.
    end = f"{release.monitoring_until:%a %-d %b, %H:%M}"
    planned = rita.locator("table.milestones tr", has_text="End of monitoring")
    expect(planned).to_contain_text(end)
    expect(rita.locator("#sec-deploy")).to_contain_text(end)

    record_check_result(error_rate, status="failing", value="4 %", source="api")
    rita.reload()
    expect(rita.get_by_test_id("health")).to_have_text("Unhealthy")
    expect(rita.get_by_test_id("health-box")).to_contain_text("Unhealthy")
    expect(rita.get_by_text("100%")).to_have_count(0)


def test_it_writes_labels_as_people_write_them(cast, open_as, live_server):
    release = make_release(cast, "5.1.0")
    rita = open_as(cast.rita, release.get_absolute_url())
    checklists = rita.locator("#sec-checklists")
    expect(checklists).to_contain_text("needed before the go/no-go")
    expect(checklists).not_to_contain_text("due now")
    quinn = open_as(cast.quinn, release.get_absolute_url())
    told = quinn.locator("#sec-checklists")
    expect(told).to_contain_text("for the release manager to tick")
    expect(told).not_to_contain_text("ticked by Release manager or the release manager")


def test_it_says_a_rolled_back_release_is_not_live_in_its_notes(cast, open_as, live_server):
    release = make_monitoring(make_release(cast, "5.2.0"), cast)
    roll_back(release, by=cast.rita, reason="Errors after the deploy")
    rita = open_as(cast.rita, release.get_absolute_url())
    expect(rita.locator("#sec-notes")).to_contain_text("none of this is live")
    download = client_for(cast.rita).get(reverse("release_notes", args=[release.pk]))
    assert "> Rolled back " in download.content.decode()
