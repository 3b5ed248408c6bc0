"""Jenkins: the result of a job's last build."""

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

TREE = "number,result,building,timestamp,duration,url"
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
        return Observation(status=status, value=str(result), detail=detail, url=fetched.url)
