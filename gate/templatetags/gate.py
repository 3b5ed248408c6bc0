"""The release page's "Ask Greenlight from CI" snippets, with the project's values filled in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.conf import settings
from django.urls import reverse

from releases.models import Release

register = template.Library()


@dataclass(frozen=True)
class Snippet:
    key: str
    label: str
    where: str
    text: str


def _command(base: str, release: Release, sha: str, indent: str) -> str:
    lines = [
        f"curl -fsSL {base}{reverse('gate_command')} -o greenlight-gate.py",
        f"python3 greenlight-gate.py --url {base} --project {release.project.slug} "
        f'--environment {release.environment} --sha "{sha}" --timeout 1800',
    ]
    return "\n".join(indent + line for line in lines)


def snippets(release: Release) -> list[Snippet]:
    base = settings.SITE_URL.rstrip("/")
    environment = release.environment
    return [
        Snippet(
            "github",
            "GitHub Actions",
            "Settings → Environments → "
            f"{environment} → Deployment protection rules: enable the project's Greenlight App. "
            "The job below then waits for Greenlight's answer.",
            "jobs:\n"
            "  deploy:\n"
            f"    environment: {environment}\n"
            "    runs-on: ubuntu-latest\n"
            "    steps:\n"
            "      - uses: actions/checkout@v4\n"
            "      - run: ./deploy.sh\n",
        ),
        Snippet(
            "gitlab",
            "GitLab CI",
            f"Protect the {environment} environment with a deployment approval by the user of "
            "the GitLab integration Greenlight approves through; or gate the job with the "
            "command (GREENLIGHT_TOKEN as a masked CI/CD variable).",
            "greenlight-gate:\n"
            "  stage: deploy\n"
            "  image: python:3.13\n"
            "  script:\n" + _command(base, release, "$CI_COMMIT_SHA", "    - ") + "\n\ndeploy:\n"
            "  stage: deploy\n"
            "  needs: [greenlight-gate]\n"
            f"  environment: {environment}\n"
            "  script: ./deploy.sh\n",
        ),
        Snippet(
            "jenkins",
            "Jenkins",
            "A stage before the deploy (GREENLIGHT_TOKEN as a secret-text credential).",
            "stage('Greenlight gate') {\n"
            "  steps {\n"
            "    withCredentials([string(credentialsId: 'greenlight-token', "
            "variable: 'GREENLIGHT_TOKEN')]) {\n"
            "      sh '''\n" + _command(base, release, "$GIT_COMMIT", "        ") + "\n"
            "      '''\n"
            "    }\n"
            "  }\n"
            "}\n",
        ),
        Snippet(
            "circleci",
            "CircleCI",
            "A job the deploy job requires (GREENLIGHT_TOKEN in a context or project variable).",
            "jobs:\n"
            "  greenlight-gate:\n"
            "    docker:\n"
            "      - image: cimg/python:3.13\n"
            "    steps:\n"
            "      - run: |\n" + _command(base, release, "$CIRCLE_SHA1", "          ") + "\n",
        ),
        Snippet(
            "bitbucket",
            "Bitbucket Pipelines",
            "A step before the deploy step (GREENLIGHT_TOKEN as a secured repository variable).",
            "- step:\n"
            "    name: Greenlight gate\n"
            "    image: python:3.13\n"
            "    script:\n" + _command(base, release, "$BITBUCKET_COMMIT", "      - ") + "\n",
        ),
    ]


@register.inclusion_tag("gate/snippets.html")
def gate_snippets(release: Release) -> dict[str, Any]:
    # Built from the release alone: the release page's query count does not grow with it.
    return {
        "release": release,
        "snippets": snippets(release),
        "token_url": reverse("project_tokens", args=[release.project.slug]),
    }
