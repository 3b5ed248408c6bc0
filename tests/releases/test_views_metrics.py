"""The DORA metrics page: the figures of ``compute_metrics``, the definitions, the charts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from releases.metrics import compute_metrics, metrics_over_time
from releases.models import Release
from releases.services.projects import set_project_roles
from releases.templatetags.greenlight import duration
from tests.builders import make_cast
from tests.html import client_for
from tests.releases.dora_history import END, START, seed_history

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-28"}  # START to END, the last day included


@pytest.fixture
def history(cast, time_machine):
    time_machine.move_to(NOW, tick=False)
    return seed_history(cast)


def url(cast) -> str:
    return reverse("project_metrics", args=[cast.project.slug])


def shown(page: str, testid: str) -> str:
    return page.split(f'data-testid="{testid}">')[1].split("<")[0]


def chart(page: str, key: str) -> str:
    return page.split(f'id="chart-{key}"')[1].split("</figure>")[0]


def test_it_shows_the_four_figures_of_the_period_with_their_bands(history):
    page = client_for(history.vic).get(url(history), NOVEMBER).content.decode()
    expected = compute_metrics(history.project, START, END)
    assert shown(page, "period") == "From Sun 1 Nov 2026, 00:00 to Sun 29 Nov 2026, 00:00 UTC."
    # What compute_metrics says, as the page words it …
    assert shown(page, "value-frequency") == f"{expected.deploys_per_week:g} a week"
    assert shown(page, "value-lead_time") == duration(expected.lead_time)
    assert shown(page, "value-failure_rate") == f"{expected.change_failure_rate:.0%}".replace(
        "%", " %"
    )
    assert shown(page, "value-restore") == duration(expected.time_to_restore)
    for key, band in [
        ("frequency", expected.frequency_band),
        ("lead_time", expected.lead_time_band),
        ("failure_rate", expected.failure_rate_band),
        ("restore", expected.restore_band),
    ]:
        assert band is not None
        assert shown(page, f"band-{key}") == band.capitalize()
    # … and the same figures worked out by hand (tests/releases/test_metrics.py).
    assert [shown(page, f"value-{k}") for k in ("frequency", "lead_time", "failure_rate")] == [
        "1.25 a week",
        "1.5 d",
        "40 %",
    ]
    assert shown(page, "value-restore") == "2 h"
    assert "5 deploys in 28 days" in page
    assert "2 of 5 deploys failed" in page


def test_it_lists_the_failed_deploys_with_their_cause_and_time_to_restore(history):
    page = client_for(history.rita).get(url(history), NOVEMBER).content.decode()
    failures = page.split('id="failures-title"')[1].split("</section>")[0]
    first = Release.objects.get(version="1.1.0")
    assert f'<a href="{first.get_absolute_url()}">1.1.0</a>' in failures
    assert "Fixed by hotfix 1.1.1</td><td>3.5 h" in failures
    assert "Rolled back</td><td>30 min" in failures


def test_it_writes_the_definitions_and_the_bands_on_the_page(history):
    page = client_for(history.vic).get(url(history)).content.decode()
    definitions = page.split('id="definitions-title"')[1]
    assert "Releases whose deploy started in the period, per week." in definitions
    assert "from the moment its change was merged" in definitions
    assert "rolled back, that had an incident recorded against them, or that" in definitions
    assert "until service was restored" in definitions
    assert "7 or more a week (daily)" in definitions
    assert "under 1 h" in definitions
    assert "over 15 %" in definitions


def test_it_charts_each_metric_by_week_with_the_bands_marked(history):
    page = client_for(history.vic).get(url(history), NOVEMBER).content.decode()
    weeks = metrics_over_time(history.project, START, END, bucket=dt.timedelta(weeks=1))
    frequency = chart(page, "frequency")
    assert 'role="img"' in frequency
    assert '<title id="chart-frequency-title">Deployment frequency</title>' in frequency
    assert "Deployment frequency for each week, in deploys a week." in frequency
    for band in ("elite", "high", "medium", "low"):
        assert f'class="band band-{band}"' in frequency
        assert f'class="band-label band-{band}"' in frequency
    # Every value is written on the chart: 1, 2, 1 and 1 deploys in the four weeks.
    values = [
        text.split(">")[1].split("<")[0] for text in frequency.split('<text class="value"')[1:]
    ]
    assert values == [f"{w.deploys_per_week:g}" for w in weeks] == ["1", "2", "1", "1"]
    # No failure in the first and the last week: the restore chart leaves gaps, not zeros.
    restore = chart(page, "restore")
    assert restore.count('<circle class="point"') == 2
    assert '<text class="value" x="' in restore
    assert ">3.5 h</text>" in restore
    assert ">30 min</text>" in restore
    table = page.split('id="metrics-table"')[1].split("</table>")[0]
    assert '<th scope="row">1 Nov – 7 Nov</th><td>1</td>' in table
    assert '<th scope="row">8 Nov – 14 Nov</th><td>2</td>' in table


def test_it_offers_30_90_and_180_days_and_defaults_to_90(history):
    client = client_for(history.vic)
    page = client.get(url(history)).content.decode()
    assert "(the last 90 days)" in shown(page, "period")
    assert 'href="?days=30"' in page
    expected = compute_metrics(history.project, NOW - dt.timedelta(days=30), NOW)
    page = client.get(url(history), {"days": "30"}).content.decode()
    assert "(the last 30 days)" in shown(page, "period")
    # 30 days back from 10 Dec: 1.2.0 (16 Nov), 1.3.0 and 1.4.0.
    assert len(expected.deployments) == 3
    assert "3 deploys in 30 days" in page
    page = client.get(url(history), {"days": "180"}).content.decode()
    assert "Over time, by 30 days" in page


def test_it_charts_by_30_days_when_asked(history):
    page = (
        client_for(history.vic).get(url(history), NOVEMBER | {"bucket": "month"}).content.decode()
    )
    table = page.split('id="metrics-table"')[1].split("</table>")[0]
    assert table.count('<th scope="row">') == 1
    assert "Over time, by 30 days" in page


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"start": "2026-11-20", "end": "2026-11-01"}, "The period cannot end before it starts."),
        ({"start": "2026-11-01", "end": "2026-12-31"}, "The period cannot end in the future."),
        ({"start": "2026-11-01"}, "Give the last day of the period too."),
        ({"start": "2020-01-01", "end": "2026-11-01"}, "Choose at most three years."),
        ({"start": "yesterday", "end": "2026-11-01"}, "Enter a valid date."),
        ({"days": "7"}, "Select a valid choice."),
    ],
)
def test_it_explains_a_period_it_cannot_show(history, query, error):
    response = client_for(history.vic).get(url(history), query)
    assert response.status_code == 200
    page = response.content.decode()
    assert error in page
    assert 'id="figure-frequency"' not in page
    assert "What the figures mean" in page


def test_it_shows_the_metrics_to_members_only(history):
    assert client_for(history.vic).get(url(history)).status_code == 200
    assert client_for(history.otto).get(url(history)).status_code == 404
    home = client_for(history.vic).get(reverse("metrics"))
    assert home.status_code == 302
    assert home["Location"] == url(history)
    assert client_for(history.otto).get(reverse("metrics")).status_code == 404


def test_it_is_linked_from_the_header_and_the_project_settings(history):
    client = client_for(history.vic)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("metrics")}"' in dashboard
    settings = client.get(reverse("project_settings", args=[history.project.slug]))
    assert f'href="{url(history)}"' in settings.content.decode()


def test_it_lets_a_person_on_two_projects_switch_between_them(history):
    other = make_cast("billing")
    set_project_roles(other.project, history.vic, ["viewer"], by=other.rita)
    page = client_for(history.vic).get(url(history)).content.decode()
    assert f'href="{reverse("project_metrics", args=["billing"])}"' in page


@pytest.mark.parametrize("count", [10, 120])
def test_it_reads_the_history_in_the_same_number_of_queries_however_long(
    cast, count, time_machine, django_assert_max_num_queries
):
    time_machine.move_to(NOW, tick=False)
    start = NOW - dt.timedelta(days=80)
    for n in range(count):
        deployed_at = start + dt.timedelta(hours=12 * n)
        Release.objects.create(
            project=cast.project,
            version=f"5.{n}.0",
            kind="hotfix" if n % 7 == 0 else "standard",
            status="rolled_back" if n % 5 == 0 else "released",
            deploy_started_at=deployed_at,
            deploy_finished_at=deployed_at + dt.timedelta(minutes=30),
            rolled_back_at=deployed_at + dt.timedelta(hours=1) if n % 5 == 0 else None,
            rollback_finished_at=deployed_at + dt.timedelta(hours=2) if n % 5 == 0 else None,
        )
    client = client_for(cast.rita)
    # One of them reads the releases' incidents, whatever their number.
    with django_assert_max_num_queries(13):
        response = client.get(url(cast))
    assert response.status_code == 200
    assert f"{count} deploys in 90 days" in response.content.decode()
