"""The OpenAPI schema validates without warnings; Swagger UI is served from our own static files."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient


def test_it_generates_a_valid_schema_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_it_serves_the_schema_to_anyone():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    created = schema["paths"]["/api/releases/"]["post"]["responses"]
    assert set(created) >= {"201", "400", "401", "403", "404", "409", "429"}
    body = created["201"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Release"}


@pytest.mark.django_db
def test_it_serves_swagger_ui_without_a_cdn():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("drf_spectacular_sidecar/swagger-ui-dist" in s for s in sources)
    assert not [s for s in sources if s.startswith(("http://", "https://", "//"))]


@pytest.mark.django_db
def test_its_docs_say_where_incidents_count():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    metrics = schema["components"]["schemas"]["Metrics"]["properties"]
    assert "incident" in metrics["change_failure_rate"]["description"]
    assert "incident" in metrics["time_to_restore_seconds"]["description"]
    summary = schema["paths"]["/api/projects/{slug}/metrics/"]["get"]["description"]
    assert "Incidents count" in summary
    timeline = schema["components"]["schemas"]["TimelineRelease"]["properties"]
    assert timeline["incidents"]["items"] == {"$ref": "#/components/schemas/TimelineIncident"}
    webhooks = schema["components"]["schemas"]["SubscriptionInputRequest"]["properties"]["events"]
    assert "`incident_resolved`" in webhooks["description"]
