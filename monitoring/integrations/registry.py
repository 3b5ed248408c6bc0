"""Integration kind → adapter. Adding a kind is one module and one line here."""

from __future__ import annotations

from monitoring.integrations.base import Adapter, ConfigError
from monitoring.integrations.bitbucket import BitbucketStatuses
from monitoring.integrations.bitbucket_commits import BitbucketCommits
from monitoring.integrations.circleci import CircleCIWorkflows
from monitoring.integrations.clickup import ClickUpTasks
from monitoring.integrations.commits import GitHost
from monitoring.integrations.datadog import DatadogMonitor
from monitoring.integrations.github import GitHubChecks
from monitoring.integrations.github_compare import GitHubCompare
from monitoring.integrations.gitlab import GitLabPipelines
from monitoring.integrations.gitlab_compare import GitLabCompare
from monitoring.integrations.http_health import HttpHealth
from monitoring.integrations.jenkins import JenkinsBuild
from monitoring.integrations.jira import JiraIssues
from monitoring.integrations.launchdarkly import LaunchDarklyFlag
from monitoring.integrations.newrelic import NewRelicNrql
from monitoring.integrations.parity import EnvironmentParity
from monitoring.integrations.prometheus import PrometheusQuery
from monitoring.integrations.sentry import SentryReleaseHealth
from monitoring.integrations.split import SplitFlag
from monitoring.integrations.trackers import TrackerAdapter
from monitoring.integrations.trello import TrelloCards
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
        ClickUpTasks(),
        TrelloCards(),
        HttpHealth(),
        EnvironmentParity(),
        BitbucketStatuses(),
        LaunchDarklyFlag(),
        SplitFlag(),
        UnleashFlag(),
    )
}

# Issue trackers a release's scope is imported from.
TRACKERS: dict[str, TrackerAdapter] = {
    kind: adapter for kind, adapter in ADAPTERS.items() if isinstance(adapter, TrackerAdapter)
}

# Git hosts whose commits between two releases are compared with the scope.
GIT_HOSTS: dict[str, GitHost] = {
    host.kind: host for host in (GitHubCompare(), GitLabCompare(), BitbucketCommits())
}

# (kind, label) pairs, in the order forms offer them; usable as model field choices.
KINDS: list[tuple[str, str]] = [(kind, adapter.label) for kind, adapter in ADAPTERS.items()]


def get_adapter(kind: str) -> Adapter:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise ConfigError(f"Unknown integration kind {kind!r}.") from None
