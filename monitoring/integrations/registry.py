"""Integration kind → adapter. Adding a kind is one module and one line here."""

from __future__ import annotations

from monitoring.integrations.base import Adapter, ConfigError
from monitoring.integrations.bitbucket import BitbucketStatuses
from monitoring.integrations.circleci import CircleCIWorkflows
from monitoring.integrations.datadog import DatadogMonitor
from monitoring.integrations.github import GitHubChecks
from monitoring.integrations.gitlab import GitLabPipelines
from monitoring.integrations.http_health import HttpHealth
from monitoring.integrations.jenkins import JenkinsBuild
from monitoring.integrations.jira import JiraIssues
from monitoring.integrations.launchdarkly import LaunchDarklyFlag
from monitoring.integrations.newrelic import NewRelicNrql
from monitoring.integrations.parity import EnvironmentParity
from monitoring.integrations.prometheus import PrometheusQuery
from monitoring.integrations.sentry import SentryReleaseHealth
from monitoring.integrations.split import SplitFlag
from monitoring.integrations.unleash import UnleashFlag

ADAPTERS: dict[str, Adapter] = {
    adapter.kind: adapter
    for adapter in (
        GitHubChecks(),
        GitLabPipelines(),
        JenkinsBuild(),
        CircleCIWorkflows(),
        PrometheusQuery(),
        DatadogMonitor(),
        NewRelicNrql(),
        SentryReleaseHealth(),
        JiraIssues(),
        HttpHealth(),
        EnvironmentParity(),
        BitbucketStatuses(),
        LaunchDarklyFlag(),
        SplitFlag(),
        UnleashFlag(),
    )
}

# (kind, label) pairs, in the order forms offer them; usable as model field choices.
KINDS: list[tuple[str, str]] = [(kind, adapter.label) for kind, adapter in ADAPTERS.items()]


def get_adapter(kind: str) -> Adapter:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise ConfigError(f"Unknown integration kind {kind!r}.") from None
