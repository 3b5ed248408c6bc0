"""A deploy report for staging in a real browser: the production release on the same commit
does not move, on its page or anywhere else; the integrations page says why."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from django.urls import reverse
from playwright.sync_api import expect

from monitoring.services.integrations import save_integration
from releases.models import Release, Status
from tests.builders import make_approved, make_cast, make_release
from tests.monitoring.deliveries import SECRET

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# GitLab's documented deployment event: a deploy of commit 279484c0… to staging.
EXAMPLE = Path(__file__).parent.parent / "monitoring" / "recorded" / "gitlab" / "webhooks"


@pytest.fixture
def cast(transactional_db):
    return make_cast()


def test_a_staging_deploy_report_leaves_the_production_release_page_unchanged(
    cast, open_as, live_server
):
    payload = json.loads((EXAMPLE / "deployment.json").read_text())
    sha = payload["commit_url"].rsplit("/", 1)[-1]
    # The only release on the commit is production's: nothing of staging's to move.
    production = make_approved(make_release(cast, "2.3.3", sha=sha), cast)
    gitlab = save_integration(
        cast.project,
        by=cast.rita,
        name="GitLab",
        kind="gitlab",
        config={"project": "root/test-deployment-webhooks"},
        secrets={"token": "glpat-x", "webhook_secret": SECRET},
    )
    rita = open_as(cast.rita, production.get_absolute_url())
    expect(rita.locator("[data-testid=status]")).to_have_text("Approved")
    before = rita.locator("#sec-header").inner_text()
    rita.evaluate("window.stillTheSamePage = true")

    payload["status"] = "running"
    answer = httpx.post(
        f"{live_server.url}/webhooks/gitlab/{gitlab.pk}/",
        json=payload,
        headers={"X-Gitlab-Event": "Deployment Hook", "X-Gitlab-Token": SECRET},
    )

    assert answer.status_code == 200
    # The page asks whether anything changed every few seconds. The first answer may come to
    # a question asked before the report; the second is to one asked after it, and by the
    # third, what a changed answer made the page fetch is shown.
    pulse = f"{production.get_absolute_url()}pulse/"
    for _ in range(3):
        with rita.expect_response(lambda response: pulse in response.url):
            pass
    expect(rita.locator("[data-testid=status]")).to_have_text("Approved")
    assert rita.locator("#sec-header").inner_text() == before
    assert rita.evaluate("window.stillTheSamePage") is True
    rita.reload()
    expect(rita.locator("[data-testid=status]")).to_have_text("Approved")
    expect(rita.get_by_text("Deploy started")).to_have_count(0)
    assert Release.objects.get(pk=production.pk).status == Status.APPROVED

    assert answer.json()["changes"] == []
    detail = "ignored: no release for environment staging on commit 279484c09fbe."
    assert answer.json()["detail"] == detail
    rita.goto(f"{live_server.url}{reverse('integration_list', args=[cast.project.slug])}")
    expect(rita.locator("#deliveries")).to_contain_text(detail)
