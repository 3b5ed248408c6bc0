"""The feature-flag doors of the API: the same services and sentences as the release page."""

from __future__ import annotations

import pytest

from monitoring.models import FeatureFlag, FlagSwitch
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from tests.builders import make_monitoring


@pytest.fixture
def launchdarkly(cast):
    return save_integration(
        cast.project,
        by=cast.dana,
        name="LaunchDarkly",
        kind="launchdarkly",
        config={"project": "shop"},
        secrets={"token": "api-x"},
    )


def url(release, tail: str = "") -> str:
    return f"/api/releases/{release.pk}/flags/{tail}"


def test_a_developer_names_a_flag_and_everyone_on_the_release_reads_it(
    client_for, cast, release, launchdarkly
):
    item = release.scope_items.first()
    answer = client_for("devin").post(
        url(release),
        {"scope_item": item.pk, "integration": launchdarkly.pk, "key": "new-checkout"},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["key"] == "new-checkout"
    assert answer.json()["scope_item_key"] == "PAY-1"
    listed = client_for("vic").get(url(release))
    assert [f["key"] for f in listed.json()["results"]] == ["new-checkout"]
    assert client_for("otto").get(url(release)).status_code == 404


def test_a_viewer_is_refused_with_the_pages_sentence(client_for, release, launchdarkly):
    item = release.scope_items.first()
    answer = client_for("vic").post(
        url(release),
        {"scope_item": item.pk, "integration": launchdarkly.pk, "key": "x"},
        format="json",
    )
    assert answer.status_code == 403
    assert answer.json() == {
        "detail": "Only Product, developers, DevOps and the release manager name a scope "
        "item's feature flag."
    }


def test_input_is_strict(client_for, cast, release, launchdarkly):
    item = release.scope_items.first()
    answer = client_for("rita").post(
        url(release),
        {"scope_item": item.pk, "integration": cast.ci.pk, "key": "", "colour": "red"},
        format="json",
    )
    assert answer.status_code == 400
    assert set(answer.json()) == {"integration", "key", "colour"}
    assert not FeatureFlag.objects.exists()


def test_devops_switches_a_flag_off_and_a_trigger_can_do_it(
    client_for, cast, release, launchdarkly
):
    flag = FeatureFlag.objects.create(
        scope_item=release.scope_items.first(), integration=launchdarkly, key="new-checkout"
    )
    make_monitoring(release, cast)
    refused = client_for("devin").post(url(release, f"{flag.pk}/switch-off/"), {}, format="json")
    assert refused.status_code == 403
    answer = client_for("dana").post(
        url(release, f"{flag.pk}/switch-off/"), {"reason": "errors"}, format="json"
    )
    assert answer.status_code == 202
    assert answer.json()["environment"] == "production"
    assert FlagSwitch.objects.get().reason == "errors"

    push = save_integration(cast.project, by=cast.dana, name="Push", kind="push")
    check = save_release_check(
        release, by=cast.dana, integration=push, name="Errors", phase="post_release"
    )
    trigger = client_for("dana").post(
        f"/api/releases/{release.pk}/flag-triggers/",
        {"check": check.pk, "flag": flag.pk, "mode": "automatic"},
        format="json",
    )
    assert trigger.status_code == 201, trigger.json()
    assert trigger.json()["flag"] == flag.pk
    listed = client_for("vic").get(f"/api/releases/{release.pk}/rollback-triggers/")
    assert [t["flag"] for t in listed.json()["results"]] == [flag.pk]


def test_removing_a_flag(client_for, release, launchdarkly):
    flag = FeatureFlag.objects.create(
        scope_item=release.scope_items.first(), integration=launchdarkly, key="new-checkout"
    )
    assert client_for("vic").delete(url(release, f"{flag.pk}/")).status_code == 403
    assert client_for("rita").delete(url(release, f"{flag.pk}/")).status_code == 204
    assert not FeatureFlag.objects.exists()
