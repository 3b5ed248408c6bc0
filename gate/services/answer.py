"""The one gate answer: may commit S of project P deploy to environment E now?

It is built from the rules the release page uses — the Go decision, readiness computed afresh,
freeze windows and the deploy window (``deploy_blockers``), less what the Go already overrode —
never from a copy of them. Three answers:

- ``go``: a Go covers the commit and nothing stands in the way now (or the deploy was already
  started through Greenlight, overrides and all);
- ``wait``: not now, but it may open without anyone deploying anything else (the Go has not
  been recorded yet, a freeze or the deploy window is in the way, readiness lapsed);
- ``no_go``: closed — a No-go stands, the release was cancelled, rolled back or already shipped,
  or no release deploys this commit to that environment. Fail closed: what is not known is no.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.models import Decision
from approvals.readiness import readiness_for
from approvals.services.deploy import deploy_blockers
from releases.events import Actor, log_event
from releases.models import COMMIT_SHA_MESSAGE, Project, Release, Status, clean_commit_sha

GO, WAIT, NO_GO = "go", "wait", "no_go"
WORDS = {GO: "go", WAIT: "wait", NO_GO: "no-go"}
VERB = "gate_answered"

# Which release answers for a commit when several do: the one under way first, a cancelled one
# last.
PRIORITY = {
    Status.DEPLOYING: 0,
    Status.APPROVED: 1,
    Status.FROZEN: 2,
    Status.PLANNING: 3,
    Status.MONITORING: 4,
    Status.RELEASED: 5,
    Status.ROLLED_BACK: 6,
    Status.CANCELLED: 7,
}


@dataclass(frozen=True)
class GateAnswer:
    state: str  # go | wait | no_go
    sha: str
    environment: str
    blockers: tuple[str, ...] = ()
    release: Release | None = field(default=None, compare=False)

    @property
    def allowed(self) -> bool:
        return self.state == GO

    def sentence(self) -> str:
        """The answer in words, naming every blocker."""
        what = f"commit {self.sha[:12]} to {self.environment or '(no environment)'}"
        if self.release is not None:
            what = f"{self.release} ({what})"
        if self.state == GO:
            return f"Go: {what} may deploy now."
        head = "Waiting" if self.state == WAIT else "No-go"
        return f"{head}: {what} may not deploy now: " + "; ".join(self.blockers) + "."

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "state": self.state,
            "sha": self.sha,
            "environment": self.environment,
            "release": self.release.pk if self.release is not None else None,
            "release_name": str(self.release) if self.release is not None else "",
            "blockers": list(self.blockers),
            "detail": self.sentence(),
        }


def clean_sha(value: str) -> str:
    try:
        sha = clean_commit_sha(value)
    except ValidationError as exc:
        raise ValidationError({"sha": COMMIT_SHA_MESSAGE}) from exc
    if not sha:
        raise ValidationError({"sha": "Name the commit to deploy."})
    return sha


def releases_for(project: Project, *, sha: str, environment: str) -> list[Release]:
    """The project's releases in the environment CI's ``environment`` lands in (by the
    project's deploy environments) whose commit is ``sha`` (either may be the shorter)."""
    target = project.environment_for(environment)
    if not target:
        return []
    found = Release.objects.filter(
        project=project, environment__iexact=target, commit_sha__startswith=sha[:7]
    ).select_related("project")
    matching = [
        r
        for r in found
        if r.commit_sha and (sha.startswith(r.commit_sha) or r.commit_sha.startswith(sha))
    ]
    return sorted(matching, key=lambda r: (PRIORITY.get(r.status, 9), -r.pk))


def _standing_no_go(release: Release) -> Decision | None:
    latest = release.decisions.order_by("-decided_at", "-pk").first()
    return latest if latest is not None and latest.outcome == Decision.Outcome.NO_GO else None


def compute_answer(
    project: Project, *, sha: str, environment: str, now: dt.datetime | None = None
) -> GateAnswer:
    """The gate's answer now; reads only."""
    sha = clean_sha(sha)
    environment = environment.strip()
    now = now or timezone.now()
    answer = {"sha": sha, "environment": environment}
    if not environment:
        raise ValidationError({"environment": "Name the environment to deploy to."})
    if not project.environment_for(environment):
        return GateAnswer(
            NO_GO,
            blockers=(
                f"deploys to {environment} are not releases of {project.name} (its deploy "
                "environments map it to nothing)",
            ),
            **answer,
        )
    found = releases_for(project, sha=sha, environment=environment)
    if not found:
        return GateAnswer(
            NO_GO,
            blockers=(
                f"no release of {project.name} deploys commit {sha[:12]} to "
                f"{project.environment_for(environment)}",
            ),
            **answer,
        )
    release = found[0]
    status = release.status
    if status == Status.DEPLOYING:
        return GateAnswer(GO, release=release, **answer)
    if status == Status.APPROVED:
        blockers = tuple(b.message for b in deploy_blockers(release, now=now))
        return GateAnswer(WAIT if blockers else GO, blockers=blockers, release=release, **answer)
    if status in (Status.PLANNING, Status.FROZEN):
        readiness = readiness_for(release, now=now)
        no_go = _standing_no_go(release)
        if no_go is not None:
            notes = f": {no_go.notes.strip()}" if no_go.notes.strip() else ""
            by = f" by {no_go.decided_by}" if no_go.decided_by else ""
            first = f"a No-go was decided{by} on {no_go.decided_at:%Y-%m-%d %H:%M} UTC{notes}"
            return GateAnswer(
                NO_GO,
                blockers=(first, *(b.message for b in readiness.blockers)),
                release=release,
                **answer,
            )
        if any(b.no_go for b in readiness.blockers):
            return GateAnswer(
                NO_GO,
                blockers=tuple(b.message for b in readiness.blockers),
                release=release,
                **answer,
            )
        first = (
            "the scope is not locked and there is no Go decision yet"
            if status == Status.PLANNING
            else "there is no Go decision yet"
        )
        return GateAnswer(
            WAIT,
            blockers=(first, *(b.message for b in readiness.blockers)),
            release=release,
            **answer,
        )
    closed = {
        Status.MONITORING: "it was deployed already and is being watched; a new deploy needs a "
        "new release",
        Status.RELEASED: "it was released already; a new deploy needs a new release",
        Status.ROLLED_BACK: "it was rolled back",
        Status.CANCELLED: "it was cancelled",
    }
    return GateAnswer(
        NO_GO,
        blockers=(closed.get(status, f"it is {release.get_status_display().lower()}"),),
        release=release,
        **answer,
    )


def _asker(by: Actor) -> str:
    if by is None or isinstance(by, str):
        return by or "system"
    return by.get_username()


def log_answer(answer: GateAnswer, *, by: Actor) -> bool:
    """Put the answer on its release's timeline, naming who asked, the commit, the environment
    and the answer. A poll that gets the same answer as the same asker's previous one for that
    commit and environment is not logged again. Returns whether an event was written."""
    release = answer.release
    if release is None:
        return False
    asker = _asker(by)
    data = {
        "asked_by": asker,
        "sha": answer.sha,
        "environment": answer.environment,
        "state": answer.state,
        "blockers": list(answer.blockers),
    }
    with transaction.atomic():
        previous = (
            release.events.filter(
                verb=VERB,
                data__asked_by=asker,
                data__sha=answer.sha,
                data__environment=answer.environment,
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if previous is not None and previous.data == data:
            return False
        log_event(
            release,
            actor=by,
            verb=VERB,
            summary=f"Deploy gate asked by {asker} for commit {answer.sha[:12]} to "
            f"{answer.environment}: {WORDS[answer.state]}"
            + (f" ({'; '.join(answer.blockers)})" if answer.blockers else ""),
            data=data,
        )
    return True


def ask(project: Project, *, sha: str, environment: str, by: Actor) -> GateAnswer:
    """The answer, logged on the release it is about."""
    answer = compute_answer(project, sha=sha, environment=environment)
    log_answer(answer, by=by)
    return answer
