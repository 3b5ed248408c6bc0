"""Jenkins: the result of a job's last build, counted only when it built the release's commit.

The Git plugin records what a build checked out as a ``BuildData`` action
(``actions[].lastBuiltRevision.SHA1``). A build of another commit says nothing about this
release, so the check waits for one of its commit; a successful build that names no commit
needs a person's judgement. A check on a job that does not build the release (a smoke test
against staging, say) sets "Any commit" and takes the last build as it is.
"""

from __future__ import annotations

from collections.abc import Hashable
from urllib.parse import quote

from monitoring.integrations.base import (
    FAILING,
    NEEDS_JUDGEMENT,
    PASSING,
    PENDING,
    Adapter,
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    Observation,
    Status,
)
from monitoring.integrations.http import HttpClient

TREE = "number,result,building,timestamp,duration,url,actions[lastBuiltRevision[SHA1]]"
RESULTS: dict[str, Status] = {
    "SUCCESS": PASSING,
    "UNSTABLE": FAILING,
    "FAILURE": FAILING,
    "ABORTED": FAILING,
    "NOT_BUILT": FAILING,
}
BUILDS = ("lastBuild", "lastCompletedBuild")


def job_path(job: str) -> str:
    """``folder/app`` → ``/job/folder/job/app``."""
    parts = [part for part in job.strip("/").split("/") if part and part != "job"]
    if not parts:
        raise ConfigError("The Jenkins job path is empty.")
    return "".join(f"/job/{quote(part, safe='')}" for part in parts)


class JenkinsBuild(Adapter):
    kind = "jenkins"
    label = "Jenkins"
    base_url_field = FieldSpec("base_url", "Jenkins URL")
    config_fields = (FieldSpec("job", "Default job path (folder/name)", required=False),)
    secret_fields = (
        FieldSpec("user", "User name"),
        FieldSpec("token", "API token", secret=True),
    )
    param_fields = (
        FieldSpec("job", "Job path (folder/name)", required=False, help="Overrides the default."),
        FieldSpec(
            "build",
            "Which build",
            required=False,
            help="lastBuild (default) or lastCompletedBuild.",
        ),
        FieldSpec(
            "any_commit",
            "Any commit",
            required=False,
            help="yes when the job does not build the release's commit (a smoke test against "
            "staging, say); otherwise only a build of the release's commit counts.",
        ),
    )

    def _job(self, conn: Connection, spec: CheckSpec) -> str:
        job = spec.param("job") or conn.config.get("job")
        if not job:
            raise ConfigError("Neither the check nor the integration names a Jenkins job.")
        return str(job)

    def _build(self, spec: CheckSpec) -> str:
        build = spec.param("build", "lastBuild")
        if build not in BUILDS:
            raise ConfigError(f"Unknown build selector {build!r}; use one of {', '.join(BUILDS)}.")
        return str(build)

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (self.kind, conn.url(), job_path(self._job(conn, spec)), self._build(spec))

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        job = self._job(conn, spec)
        job_url = conn.url() + job_path(job)
        build = self._build(spec)
        body = client.get_json(
            f"{job_url}/{build}/api/json",
            what=f"the {build} of Jenkins job {job}",
            params={"tree": TREE},
            auth=(conn.secret("user"), conn.secret("token")),
        )
        if not isinstance(body, dict):
            raise BadResponse(f"The answer for Jenkins job {job} is not a build.")
        return Fetched(payload=body, url=str(body.get("url") or f"{job_url}/"))

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        build = fetched.payload
        number = build.get("number")
        if build.get("building") is True:
            return Observation(
                status=PENDING,
                value="building",
                detail=f"Build #{number} is still running.",
                url=fetched.url,
            )
        result = build.get("result")
        if result is None:
            return Observation(
                status=NEEDS_JUDGEMENT,
                value="no result",
                detail=f"Build #{number} is not running and has no result.",
                url=fetched.url,
            )
        status = RESULTS.get(str(result), NEEDS_JUDGEMENT)
        detail = f"Build #{number} finished {result}."
        if str(result) not in RESULTS:
            detail = f"Build #{number} has an unrecognised result {result!r}."
        elif not spec.flag("any_commit", False):
            built = built_commits(build)
            unsure = ""
            if not built:
                unsure = "does not say which commit it built (no Git build data)"
            elif not spec.sha:
                unsure = "cannot be matched: the release has no commit SHA"
            elif not any(same_commit(sha, spec.sha) for sha in built):
                return Observation(
                    status=PENDING,
                    value="other commit",
                    detail=f"Build #{number} built {', '.join(sha[:12] for sha in built)}, "
                    f"not this release's commit {spec.sha[:12]}; waiting for a build of it.",
                    url=fetched.url,
                )
            if unsure and status == PASSING:
                return Observation(
                    status=NEEDS_JUDGEMENT,
                    value=str(result),
                    detail=f"Build #{number} finished {result} but {unsure}. "
                    "Judge it, or set the check to any commit.",
                    url=fetched.url,
                )
        return Observation(status=status, value=str(result), detail=detail, url=fetched.url)


def built_commits(build: dict) -> list[str]:
    """The SHA-1s the build's Git build data says it checked out (one per repository)."""
    commits = []
    for action in build.get("actions") or ():
        revision = action.get("lastBuiltRevision") if isinstance(action, dict) else None
        sha = revision.get("SHA1") if isinstance(revision, dict) else None
        if isinstance(sha, str) and sha.strip():
            commits.append(sha.strip().lower())
    return commits


def same_commit(built: str, wanted: str) -> bool:
    """Whether a full SHA-1 is the release's commit, which may be written abbreviated."""
    wanted = wanted.strip().lower()
    return len(wanted) >= 7 and built.startswith(wanted)
