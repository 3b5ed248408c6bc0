"""The release page's feature-flag section: the same services and sentences as the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from monitoring.models import FeatureFlag, FlagSwitch, RollbackTrigger
from monitoring.services import flags
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from tests.builders import make_monitoring


@pytest.fixture
def split(cast):
    return save_integration(
        cast.project,
        by=cast.dana,
        name="Split",
        kind="split",
        config={"workspace": "ws-1", "environments": "Staging,Production"},
        secrets={"token": "admin-key"},
    )


def post(client, user, name: str, *args, **data):
    client.force_login(user)
    return client.post(reverse(name, args=args), data)


def test_a_developer_names_a_flag_on_the_page(client, cast, release, split):
    item = release.scope_items.first()
    answer = post(
        client,
        cast.devin,
        "release_flag_add",
        release.pk,
        scope_item=item.pk,
        integration=split.pk,
        key="new_checkout",
    )
    assert answer.status_code == 302
    assert answer["Location"].endswith(f"/releases/{release.pk}/#sec-flags")
    assert FeatureFlag.objects.get().key == "new_checkout"
    page = client.get(reverse("release_detail", args=[release.pk])).content.decode()
    assert "new_checkout" in page
    assert "not yet" in page.split('id="sec-flags"', 1)[1]


def test_a_viewer_is_refused_on_the_page(client, cast, release, split):
    item = release.scope_items.first()
    answer = post(
        client,
        cast.vic,
        "release_flag_add",
        release.pk,
        scope_item=item.pk,
        integration=split.pk,
        key="x",
    )
    assert answer.status_code == 403
    assert not FeatureFlag.objects.exists()


def test_a_missing_key_is_shown_not_saved(client, cast, release, split):
    item = release.scope_items.first()
    answer = post(
        client,
        cast.rita,
        "release_flag_add",
        release.pk,
        scope_item=item.pk,
        integration=split.pk,
        key="",
    )
    assert answer.status_code == 302
    page = client.get(answer["Location"]).content.decode()
    assert "Give the flag&#x27;s key." in page
    assert not FeatureFlag.objects.exists()


def test_the_switch_off_button_and_the_trigger_form(client, cast, release, split):
    flag = flags.bind_flag(release.scope_items.first(), by=cast.rita, integration=split, key="nc")
    make_monitoring(release, cast)
    push = save_integration(cast.project, by=cast.dana, name="Push", kind="push")
    check = save_release_check(
        release, by=cast.dana, integration=push, name="Errors", phase="post_release"
    )
    client.force_login(cast.dana)
    page = client.get(reverse("release_detail", args=[release.pk])).content.decode()
    assert f'id="flag-{flag.pk}-off"' in page
    assert 'id="flag-trigger-add"' in page

    answer = post(
        client,
        cast.dana,
        "release_flag_trigger_add",
        release.pk,
        check=check.pk,
        flag=flag.pk,
        mode="recommend",
    )
    assert answer.status_code == 302
    trigger = RollbackTrigger.objects.get()
    assert trigger.flag == flag
    page = client.get(reverse("release_detail", args=[release.pk])).content.decode()
    assert "Recommends switching flag nc off" in page

    answer = post(client, cast.dana, "release_flag_off", release.pk, flag.pk, reason="errors")
    assert answer.status_code == 302
    assert FlagSwitch.objects.get().requested_by == "dana"
    assert post(client, cast.devin, "release_flag_off", release.pk, flag.pk).status_code == 403


@pytest.mark.parametrize("kind", ["launchdarkly", "split", "unleash", "bitbucket"])
def test_the_integration_form_asks_for_each_kinds_settings(client, cast, kind):
    client.force_login(cast.rita)
    page = client.get(reverse("integration_create", args=[cast.project.slug]), {"kind": kind})
    assert page.status_code == 200
