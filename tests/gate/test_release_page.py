"""The release page shows each CI's gate snippet with the project's values filled in, and the
command they download is served."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.builders import make_release

pytestmark = pytest.mark.django_db


def test_it_shows_the_gate_snippet_for_each_ci(client, cast) -> None:
    release = make_release(cast)
    client.force_login(cast.vic)

    page = client.get(release.get_absolute_url()).content.decode()

    command = (
        "python3 greenlight-gate.py --url http://127.0.0.1:8000 --project payments "
        "--environment production --sha &quot;{}&quot; --timeout 1800"
    )
    for key, sha in [
        ("gitlab", "$CI_COMMIT_SHA"),
        ("jenkins", "$GIT_COMMIT"),
        ("circleci", "$CIRCLE_SHA1"),
        ("bitbucket", "$BITBUCKET_COMMIT"),
    ]:
        assert f'data-testid="gate-snippet-{key}"' in page
        assert command.format(sha) in page
    assert 'data-testid="gate-snippet-github"' in page
    assert "    environment: production" in page
    assert "curl -fsSL http://127.0.0.1:8000/gate/greenlight-gate.py -o greenlight-gate.py" in page


def test_it_serves_the_command(client) -> None:
    response = client.get(reverse("gate_command"))

    assert response.status_code == 200
    body = b"".join(response)
    assert body.startswith(b"#!/usr/bin/env python3")
    assert b"def main(" in body
    assert response["Content-Disposition"] == 'attachment; filename="greenlight-gate.py"'
