"""Settings that feed date arithmetic are bounded: a huge value is a field error, not a crash."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals.models import ApprovalPolicy
from approvals.services.policy import set_role_requirement, update_policy
from releases.models import Project
from releases.services.projects import update_project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["monitoring_minutes_standard", "monitoring_minutes_hotfix"])
def test_it_refuses_a_monitoring_window_longer_than_a_week(cast, field):
    with pytest.raises(ValidationError) as error:
        update_project(cast.project, by=cast.rita, **{field: 10**9})
    assert field in error.value.message_dict
    assert getattr(Project.objects.get(pk=cast.project.pk), field) < 10**9


def test_it_refuses_an_absurd_sign_off_expiry(cast):
    with pytest.raises(ValidationError) as error:
        update_policy(cast.project, by=cast.rita, sign_off_expiry_days=10**9)
    assert "sign_off_expiry_days" in error.value.message_dict
    assert ApprovalPolicy.objects.get(project=cast.project).sign_off_expiry_days is None


def test_it_refuses_an_absurd_quorum(cast):
    with pytest.raises(ValidationError) as error:
        set_role_requirement(
            cast.project, by=cast.rita, release_kind="standard", role="qa", quorum=40000
        )
    assert "quorum" in error.value.message_dict
