"""Configuring integrations: who may, what is validated, credentials encrypted and write-only."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from lib.errors import NotAllowed, Refused
from monitoring.models import Check, CheckPhase, Integration
from monitoring.services.checks import save_check_template, save_release_check
from monitoring.services.integrations import (
    delete_integration,
    param_fields,
    save_integration,
    test_connection,
)
from monitoring.services.results import record_check_result
from releases.models import ProjectEvent
from tests.builders import known, make_release, make_user
from tests.monitoring.helpers import FakeApi

TOKEN = "ghp_TopSecretToken1234567890"


def github(cast, **overrides):
    fields: dict[str, Any] = {
        "name": "GitHub",
        "kind": "github",
        "base_url": "",
        "config": {"repo": "example/payments"},
        "secrets": {"token": TOKEN},
    }
    fields.update(overrides)
    return save_integration(cast.project, by=cast.rita, **fields)


def raw_ciphertext(integration: Integration) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secrets_encrypted FROM monitoring_integration WHERE id = %s", [integration.pk]
        )
        return cursor.fetchone()[0]


def test_it_stores_credentials_encrypted(cast):
    integration = github(cast)

    stored = raw_ciphertext(integration)
    assert TOKEN not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert Integration.objects.get(pk=integration.pk).secrets() == {"token": TOKEN}


def test_it_keeps_a_stored_credential_when_the_field_is_left_empty(cast):
    integration = github(cast)

    github(cast, integration=integration, name="GitHub Actions", secrets={"token": ""})

    integration.refresh_from_db()
    assert integration.name == "GitHub Actions"
    assert integration.secrets() == {"token": TOKEN}


def test_it_replaces_a_credential_and_clears_one_only_when_asked(cast):
    integration = github(cast, secrets={"token": TOKEN, "webhook_secret": "hook"})

    github(cast, integration=integration, secrets={"token": "new-token"})
    integration.refresh_from_db()
    assert integration.secrets() == {"token": "new-token", "webhook_secret": "hook"}

    github(cast, integration=integration, secrets={}, clear_secrets=["webhook_secret"])
    integration.refresh_from_db()
    assert integration.secrets() == {"token": "new-token"}


@pytest.mark.parametrize(
    "url",
    ["ftp://ci.example.com", "javascript:alert(1)", "file:///etc/passwd", "ci.example.com"],
)
def test_it_accepts_only_http_and_https_base_urls(cast, url):
    with pytest.raises(ValidationError) as info:
        save_integration(cast.project, by=cast.rita, name="Prom", kind="prometheus", base_url=url)

    assert "base_url" in info.value.message_dict
    assert not Integration.objects.filter(name="Prom").exists()


def test_it_accepts_an_https_base_url(cast):
    integration = save_integration(
        cast.project, by=cast.rita, name="Prom", kind="prometheus", base_url="https://prom:9090"
    )

    assert integration.base_url == "https://prom:9090"


def test_it_names_each_missing_setting_and_credential(cast):
    with pytest.raises(ValidationError) as info:
        save_integration(cast.project, by=cast.rita, name="GitHub", kind="github")

    errors = info.value.message_dict
    assert errors["config.repo"] == ["Repository (owner/name) is required."]
    assert errors["secrets.token"] == ["Token is required."]


def test_it_refuses_settings_the_kind_does_not_have(cast):
    with pytest.raises(ValidationError) as info:
        github(cast, config={"repo": "a/b", "rep": "typo"}, secrets={"token": "t", "pasword": "x"})

    assert set(info.value.message_dict) == {"config.rep", "secrets.pasword"}


def test_it_refuses_an_unknown_kind_and_a_duplicate_name(cast):
    with pytest.raises(ValidationError) as info:
        save_integration(cast.project, by=cast.rita, name="CI", kind="teamcity")

    assert set(info.value.message_dict) == {"name", "kind"}


@pytest.mark.parametrize("who", ["paul", "quinn", "devin", "vic", "otto"])
def test_it_lets_only_devops_release_managers_and_administrators_configure(cast, who):
    with pytest.raises(NotAllowed, match="Only DevOps and the project's release managers"):
        save_integration(
            cast.project,
            by=getattr(cast, who),
            name="Prom",
            kind="prometheus",
            base_url="http://prom:9090",
        )

    assert not Integration.objects.filter(name="Prom").exists()


def test_it_lets_an_administrator_configure(cast):
    admin = make_user("admin", is_superuser=True, is_staff=True)

    integration = save_integration(
        cast.project, by=admin, name="Prom", kind="prometheus", base_url="http://prom:9090"
    )

    assert integration.pk


def test_it_gives_changed_settings_a_fresh_start(cast, release):
    integration = github(cast)
    check = Check.objects.create(
        release=release, integration=integration, name="CI", next_poll_at=timezone.now()
    )
    later = timezone.now() + dt.timedelta(hours=1)
    Integration.objects.filter(pk=integration.pk).update(
        circuit_state="open",
        circuit_opened_at=timezone.now(),
        consecutive_failures=7,
        backoff_until=later,
    )
    Check.objects.filter(pk=check.pk).update(next_poll_at=later, etag='"abc"')
    integration.refresh_from_db()

    github(cast, integration=integration, secrets={"token": "fixed-token"})

    integration.refresh_from_db()
    check.refresh_from_db()
    assert (integration.circuit_state, integration.consecutive_failures) == ("closed", 0)
    assert integration.backoff_until is None
    assert known(check.next_poll_at) <= timezone.now()
    assert check.etag == ""


def test_it_keeps_the_kind_of_an_integration_that_checks_read(cast):
    integration = github(cast)
    Check.objects.create(project=cast.project, integration=integration, name="CI")

    with pytest.raises(ValidationError) as info:
        save_integration(
            cast.project,
            by=cast.rita,
            integration=integration,
            name="GitHub",
            kind="gitlab",
            config={"project": "1"},
            secrets={"token": "t"},
        )

    assert "kind" in info.value.message_dict


def test_it_deletes_an_integration_and_its_templates_but_not_one_releases_read(cast):
    unused = github(cast, name="Unused")
    Check.objects.create(project=cast.project, integration=unused, name="tpl")
    delete_integration(unused, by=cast.rita)
    assert not Integration.objects.filter(name="Unused").exists()

    make_release(cast)  # copies the "CI green" template, which reads cast.ci
    with pytest.raises(Refused, match="disable it instead"):
        delete_integration(cast.ci, by=cast.rita)
    assert Integration.objects.filter(pk=cast.ci.pk).exists()


def test_it_tests_the_connection_with_a_check_and_records_the_health(cast, release):
    integration = github(cast)
    Check.objects.create(
        release=release, integration=integration, name="CI", phase=CheckPhase.PRE_RELEASE
    )
    run = {"name": "build", "status": "completed", "conclusion": "success"}
    api = FakeApi(
        [
            httpx.Response(200, json={"total_count": 1, "check_runs": [run]}),
            httpx.Response(200, json={"state": "pending", "statuses": [], "total_count": 0}),
        ]
    )

    result = test_connection(integration, by=cast.rita, client=api.client())

    assert result.ok
    assert "1 of 1 check run succeeded" in result.summary
    first = api.requests[0]
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.url.path == f"/repos/example/payments/commits/{release.commit_sha}/check-runs"
    integration.refresh_from_db()
    assert integration.last_success_at is not None


def test_it_reports_a_failed_connection_and_counts_it(cast):
    integration = github(cast)
    api = FakeApi([httpx.ConnectError("connection refused")])

    result = test_connection(integration, by=cast.rita, client=api.client())

    assert not result.ok
    assert "No answer from api.github.com" in result.detail
    integration.refresh_from_db()
    assert integration.consecutive_failures == 1
    assert "No answer from api.github.com" in integration.last_error


def test_it_lets_only_managers_test_a_connection(cast):
    integration = github(cast)

    with pytest.raises(NotAllowed):
        test_connection(integration, by=cast.devin, client=FakeApi([]).client())


def test_it_rotates_every_secret_to_the_newest_key(cast, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    integration = github(cast)
    before = raw_ciphertext(integration)

    settings.FERNET_KEYS = [new, old]
    call_command("rotate_secrets", stdout=StringIO())

    after = raw_ciphertext(integration)
    assert after != before
    settings.FERNET_KEYS = [new]  # the old key is gone: only the rotated secret can be read
    integration.refresh_from_db()
    assert integration.secrets() == {"token": TOKEN}


def test_it_says_which_secrets_no_key_can_read(cast, settings):
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    github(cast)
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(CommandError, match="payments/GitHub"):
        call_command("rotate_secrets", stdout=StringIO())


def test_disabling_an_integration_stops_its_checks_counting(cast, release):
    integration = github(cast)
    check = save_release_check(
        release, by=cast.rita, integration=integration, name="Build", phase="pre_release"
    )
    record_check_result(check, status="passing", source="api")

    github(cast, integration=integration, enabled=False)

    check.refresh_from_db()
    assert (check.status, check.last_value) == ("error", "integration disabled")
    assert not check.counts_as_passing(commit_sha=release.commit_sha)


@pytest.mark.parametrize(
    "url", ["https://admin:hunter2@jenkins.example.com", "https://hunter2@jenkins.example.com"]
)
def test_it_refuses_credentials_in_the_base_url_before_they_are_stored_or_logged(cast, url):
    with pytest.raises(ValidationError) as info:
        save_integration(
            cast.project,
            by=cast.dana,
            name="Jenkins",
            kind="jenkins",
            base_url=url,
            secrets={"user": "ci", "token": "api-token"},
        )

    assert info.value.message_dict["base_url"] == [
        "Put credentials in the credential fields, not in the URL."
    ]
    assert not Integration.objects.filter(name="Jenkins").exists()
    assert "hunter2" not in str(list(ProjectEvent.objects.values("before", "after", "summary")))


def test_it_does_not_send_a_stored_token_to_a_new_address_without_it_being_entered_again(cast):
    # Credentials are write-only: whoever may edit an integration must not be able to collect
    # its token by pointing it at a server of their own.
    integration = github(cast, secrets={"token": TOKEN, "webhook_secret": "hook"})

    with pytest.raises(ValidationError) as info:
        github(
            cast,
            integration=integration,
            base_url="https://collector.example.net/api/v3",
            secrets={},
        )

    assert "secrets.token" in info.value.message_dict
    integration.refresh_from_db()
    assert integration.base_url == ""
    moved = github(
        cast,
        integration=integration,
        base_url="https://github.example.com/api/v3",
        secrets={"token": "ghp_enterprise"},
    )
    # The webhook secret is only ever compared with what arrives; it goes nowhere.
    assert moved.secrets() == {"token": "ghp_enterprise", "webhook_secret": "hook"}
    # Another path on the same origin is the same place.
    github(cast, integration=moved, base_url="https://github.example.com/api/v4", secrets={})


@pytest.mark.parametrize("param", ["url", "staging_url"])
def test_it_refuses_credentials_in_a_checks_url_before_members_can_read_them(cast, param):
    kind = "http_health" if param == "url" else "parity"
    integration = save_integration(cast.project, by=cast.dana, name="Web", kind=kind)
    params = {
        "url": "https://svc.example.com/health",
        "staging_url": "https://staging.example.com/version",
        "production_url": "https://www.example.com/version",
        "json_field": "version",
    }
    fields = {f.name for f in param_fields(kind)}
    params = {k: v for k, v in params.items() if k in fields}
    params[param] = "https://admin:hunter2@svc.example.com/health"

    with pytest.raises(ValidationError) as info:
        save_check_template(
            cast.project,
            by=cast.dana,
            integration=integration,
            name="Health",
            phase=CheckPhase.POST_RELEASE,
            params=params,
        )

    assert info.value.message_dict[f"params.{param}"] == [
        "Put credentials in the credential fields, not in the URL."
    ]
    assert not Check.objects.filter(name="Health").exists()
