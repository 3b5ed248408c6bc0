"""Incidents after a release: recorded by hand or reported by an incident tool, resolved when
service is back. They count in the change failure rate and the time to restore."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib.errors import Refused
from lib.links import validate_link
from lib.wording import duration
from releases import access as rules
from releases import notifications as notices
from releases.events import Actor, log_event
from releases.models import (
    DEPLOYED_STATUSES,
    Incident,
    IncidentSource,
    Project,
    Release,
    Role,
    Severity,
    clean_commit_sha,
)
from releases.services.common import lock_release, people_on, reject_unknown_fields

User = get_user_model()

INCIDENT_FIELDS = ("title", "severity", "started_at", "resolved_at", "link")
# Clocks of incident tools and of Greenlight differ a little; more than this is a wrong time.
CLOCK_SKEW = dt.timedelta(minutes=5)
# Who hears of an incident at once: the people who would act on it.
TOLD_ROLES = (Role.RELEASE_MANAGER, Role.DEVOPS)


def _when(moment: dt.datetime) -> str:
    return f"{moment:%a %d %b, %H:%M} UTC"


def _check(release: Release, values: dict[str, Any]) -> None:
    """Raise a ValidationError naming every field that cannot be recorded as given."""
    errors: dict[str, str] = {}
    now = timezone.now()
    if not values["title"]:
        errors["title"] = "Say what went wrong."
    if values["severity"] not in Severity.values:
        errors["severity"] = f"Choose one of {', '.join(Severity.values)}."
    started, resolved = values["started_at"], values["resolved_at"]
    assert release.deploy_started_at is not None  # the guard asks has_been_deployed first
    if started is None:
        errors["started_at"] = "Say when it started."
    elif started > now + CLOCK_SKEW:
        errors["started_at"] = "An incident cannot start in the future."
    elif started < release.deploy_started_at.replace(second=0, microsecond=0):
        # Before the deploy this release was not in production: it did not cause it. People type
        # times to the minute: the minute the deploy started is after it.
        errors["started_at"] = (
            f"This release's deploy started {_when(release.deploy_started_at)}; an incident "
            "that began before it belongs to the release that was out then."
        )
    if resolved is not None and started is not None:
        if resolved < started:
            errors["resolved_at"] = "An incident is resolved after it started."
        elif resolved > now + CLOCK_SKEW:
            errors["resolved_at"] = "An incident cannot be resolved in the future."
    try:
        validate_link(values["link"])
    except ValidationError as exc:
        errors["link"] = " ".join(exc.messages)
    if errors:
        raise ValidationError(errors)


def _refuse_before_deploy(release: Release) -> None:
    if not release.has_been_deployed:
        raise Refused("Incidents are recorded once the release's deploy has started.")


def record_incident(
    release: Release,
    *,
    by: Actor,
    title: str,
    severity: str,
    started_at: dt.datetime | None = None,
    resolved_at: dt.datetime | None = None,
    link: str = "",
    source: str = IncidentSource.MANUAL,
    external_id: str = "",
) -> Incident:
    """Record an incident against a deployed release; it started now unless told otherwise."""
    rules.check_person(rules.RECORD_INCIDENT, by, release)
    with transaction.atomic():
        release = lock_release(release)
        _refuse_before_deploy(release)
        values = {
            "title": title.strip(),
            "severity": severity,
            "started_at": started_at or timezone.now(),
            "resolved_at": resolved_at,
            "link": link.strip(),
        }
        _check(release, values)
        incident = Incident.objects.create(
            project_id=release.project_id,
            release=release,
            source=source,
            external_id=external_id.strip(),
            created_by=by if isinstance(by, User) else None,
            created_by_label="" if isinstance(by, User) else str(by or "system"),
            **values,
        )
        summary = f"Incident recorded: {incident}"
        if incident.resolved_at is not None:
            summary += f" (resolved {_when(incident.resolved_at)})"
        log_event(
            release,
            actor=by,
            verb="incident_recorded",
            summary=summary,
            data={"incident": incident.pk, "severity": incident.severity, "source": source},
        )
        if incident.is_open:
            notices.notify(
                people_on(release, roles=TOLD_ROLES),
                release=release,
                verb="incident",
                message=f"Incident on {release}: {incident}",
                exclude=by,
            )
    return incident


def update_incident(incident: Incident, *, by: Actor, **fields: Any) -> Incident:
    """Change what is known of an incident (its times, severity, title or link)."""
    reject_unknown_fields(fields, INCIDENT_FIELDS, "incident")
    rules.check_person(rules.RECORD_INCIDENT, by, incident.release)
    with transaction.atomic():
        release = lock_release(incident.release)
        _refuse_before_deploy(release)
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        values = {name: getattr(incident, name) for name in INCIDENT_FIELDS}
        for name, value in fields.items():
            values[name] = value.strip() if isinstance(value, str) else value
        _check(release, values)
        changed = [name for name in INCIDENT_FIELDS if getattr(incident, name) != values[name]]
        if not changed:
            return incident
        before = {name: _shown(getattr(incident, name)) for name in changed}
        for name in changed:
            setattr(incident, name, values[name])
        incident.save(update_fields=[*changed, "updated_at"])
        resolved_now = "resolved_at" in changed and before["resolved_at"] is None
        log_event(
            release,
            actor=by,
            verb="incident_resolved" if resolved_now else "incident_updated",
            summary=(
                f"Incident resolved: {incident}, {_restored_after(incident)}"
                if resolved_now
                else f"Incident updated: {incident}"
            ),
            before=before,
            after={name: _shown(getattr(incident, name)) for name in changed},
            data={"incident": incident.pk},
        )
    return incident


def resolve_incident(
    incident: Incident, *, by: Actor, resolved_at: dt.datetime | None = None
) -> Incident:
    """Service is back: the incident ends now, or when the caller says it did."""
    if incident.resolved_at is not None:
        raise Refused("This incident is already resolved.")
    return update_incident(incident, by=by, resolved_at=resolved_at or timezone.now())


def report_incident(
    release: Release,
    *,
    by: Actor,
    source: str,
    external_id: str,
    create_defaults: dict[str, Any] | None = None,
    resolved: bool = False,
    **fields: Any,
) -> tuple[Incident, bool]:
    """An incident tool's report: the first report of its id records the incident, a later one
    (re-sent, or the same incident resolved) changes it. A report never reopens an incident.
    ``create_defaults`` are recorded only with a new incident (what a tool assumes when a
    report leaves a field out). ``resolved`` without ``resolved_at``: it is over, and the
    tool does not say since when — now, unless it had already ended.

    Returns the incident and whether it was new.
    """
    external_id = external_id.strip()
    if not external_id:
        raise ValidationError(
            {"external_id": "Give the incident's id in the tool that reports it."}
        )
    with transaction.atomic():
        # Two deliveries of one report race here, and may name different releases of the
        # project: under the project's lock the second finds the incident the first recorded
        # and changes it where it was first recorded. NO KEY UPDATE: rows that only refer to
        # the project (an incident, an event) are still written meanwhile, so a service that
        # holds a release's lock never waits for this one.
        Project.objects.select_for_update(no_key=True).get(pk=release.project_id)
        existing = (
            Incident.objects.filter(
                project_id=release.project_id, source=source, external_id=external_id
            )
            .select_related("release__project")
            .first()
        )
        already_ended = existing is not None and existing.resolved_at is not None
        if resolved and fields.get("resolved_at") is None and not already_ended:
            now = timezone.now()
            fields["resolved_at"] = now
            if existing is None and fields.get("started_at") is None:
                fields["started_at"] = now
        if existing is None:
            incident = record_incident(
                release,
                by=by,
                source=source,
                external_id=external_id,
                **((create_defaults or {}) | fields),
            )
            return incident, True
        for name in ("started_at", "resolved_at"):
            if fields.get(name) is None:
                fields.pop(name, None)
        return update_incident(existing, by=by, **fields), False


def _restored_after(incident: Incident) -> str:
    restore = incident.time_to_restore
    return f"service restored after {duration(restore)}" if restore else "resolved"


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def reported_before(project: Project, *, source: str, external_id: str) -> Incident | None:
    """The incident a tool reported earlier under this id, in this project, if it did: a later
    report of it may leave out what the first one said (the release, the title)."""
    return (
        Incident.objects.filter(project=project, source=source, external_id=external_id.strip())
        .select_related("release__project")
        .first()
    )


def reported_release(project: Project, *, version: str = "", commit_sha: str = "") -> Release:
    """The release a machine names by version, or by the commit it deployed (the latest deploy
    of that commit when several releases carry it); a field error when there is none."""
    releases = Release.objects.filter(project=project).select_related("project")
    if version:
        found = releases.filter(version=version.strip()).first()
        if found is None:
            raise ValidationError({"version": f"This project has no release {version.strip()}."})
        return found
    try:
        sha = clean_commit_sha(commit_sha)
    except ValidationError as exc:
        raise ValidationError({"commit_sha": exc.messages}) from exc
    on_commit = releases.filter(status__in=DEPLOYED_STATUSES, deploy_started_at__isnull=False)
    on_commit = (
        on_commit.filter(commit_sha=sha)
        if len(sha) == 40
        else on_commit.filter(commit_sha__startswith=sha)
    )
    found = on_commit.order_by("-deploy_started_at", "-pk").first()
    if found is None:
        raise ValidationError(
            {"commit_sha": f"No release of this project was deployed from commit {sha[:12]}."}
        )
    return found
