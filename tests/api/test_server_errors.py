"""No request a client can send makes the API answer 5xx.

Every operation of the published schema is walked with the methods and headers that browsers and
HTTP tools send besides the documented ones: ``OPTIONS`` (CORS preflights, API explorers) and
``GET`` asking for HTML (someone opening an action's address in a browser).
"""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.builders import Cast, make_release

pytestmark = pytest.mark.django_db


def _every_api_address(cast: Cast) -> list[str]:
    release = make_release(cast)
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    addresses = []
    for path in paths:
        address = path.replace("{release_id}", str(release.pk)).replace("{slug}", cast.project.slug)
        addresses.append(re.sub(r"\{[^}]+\}", "1", address))
    return addresses


def test_it_answers_options_on_every_api_address_without_a_server_error(cast, client_for):
    client = client_for("rita")
    addresses = _every_api_address(cast)
    assert len(addresses) > 60

    failures = {a: r.status_code for a in addresses if (r := client.options(a)).status_code >= 500}

    assert failures == {}


def test_it_answers_a_browser_asking_for_html_on_every_api_address_without_a_server_error(
    cast, client_for
):
    client = client_for("rita")

    failures = {
        address: response.status_code
        for address in _every_api_address(cast)
        if (response := client.get(address, HTTP_ACCEPT="text/html")).status_code >= 500
    }

    assert failures == {}


def test_it_describes_an_action_that_takes_no_body_on_options(cast, client_for):
    release = make_release(cast)

    response = client_for("rita").options(f"/api/releases/{release.pk}/lock-scope/")

    assert response.status_code == 200
    assert "POST" in response.headers["Allow"]


def test_it_refuses_an_approval_policy_requirement_without_a_role_with_a_field_error(
    cast, client_for
):
    address = f"/api/projects/{cast.project.slug}/approval-policy/"
    client = client_for("rita")
    before = client.get(address).json()["requirements"]

    response = client.patch(
        address, {"requirements": [{"release_kind": "standard", "quorum": 2}]}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"requirements": {"0": {"role": ["This field is required."]}}}
    assert client.get(address).json()["requirements"] == before


def test_it_refuses_a_deeply_nested_json_body_with_400(cast, client_for):
    release = make_release(cast)
    before = release.scope_items.count()
    body = '{"title": ' * 100_000 + '"x"' + "}" * 100_000

    response = client_for("rita").post(
        f"/api/releases/{release.pk}/scope-items/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert release.scope_items.count() == before
