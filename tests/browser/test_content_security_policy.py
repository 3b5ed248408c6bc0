"""The site's strict Content-Security-Policy in a real browser: it blocks what it should, and the
pages that lean on script and drawing (htmx, the charts, the readiness meters) still work."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.builders import make_cast, make_release, tick_readiness

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


def test_it_blocks_and_reports_a_script_injected_into_a_page(
    cast, open_as, live_server, csp_violations
):
    page = open_as(cast.rita, by_form=True)

    # Done once the image has failed to load (its refused handler's turn has come and gone)
    # and the page has reported the refusal of that handler, its last.
    last_refusal = "CSP violation: script-src-attr"
    with page.expect_console_message(lambda message: message.text.startswith(last_refusal)):
        page.evaluate(
            """() => new Promise((resolve) => {
              const script = document.createElement("script");
              script.textContent = "window.injected = true";
              document.body.appendChild(script);
              const img = document.createElement("img");
              img.setAttribute("onerror", "window.handled = true");
              img.addEventListener("error", () => resolve());
              img.src = "/nowhere.png";
              document.body.appendChild(img);
            })"""
        )

    assert page.evaluate("window.injected") is None
    assert page.evaluate("window.handled") is None
    assert any("script-src" in v for v in csp_violations), csp_violations
    csp_violations.clear()  # seen and expected: the policy works


def test_it_keeps_htmx_the_meters_and_the_charts_working_under_the_policy(
    cast, open_as, live_server
):
    release = make_release(cast, "3.1.0")
    tick_readiness(release, cast)
    page = open_as(cast.rita)

    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    bar = page.locator(f"#release-{release.pk} .meter rect")
    expect(bar).to_be_visible()
    assert bar.bounding_box()["width"] > 0

    page.goto(f"{live_server.url}{reverse('project_metrics', args=[cast.project.slug])}")
    expect(page.locator("svg").first).to_be_visible()
    page.goto(f"{live_server.url}{release.get_absolute_url()}")
    expect(page.locator(".readiness-box .meter rect")).to_be_visible()
