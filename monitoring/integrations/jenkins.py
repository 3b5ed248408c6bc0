"""Jenkins: the newest build of the release's commit among a job's recent builds.

The Git plugin records what a build checked out as a ``BuildData`` action
(``actions[].lastBuiltRevision.SHA1``). A later commit's build says nothing about this release
and must not hide the build of its commit, so the adapter reads the job's recent builds
(``tree=builds[...]{0,N}``, newest first) and judges the newest one of the release's commit; with
none among them it waits. When no recent build names a commit at all (no Git build data), a
successful newest build needs a person's judgement. A check on a job that does not build the
release (a smoke test against staging, say) sets "Any commit" and takes the newest build as it is.
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

BUILD_FIELDS = "number,result,building,timestamp,duration,url,actions[lastBuiltRevision[SHA1]]"
# How far back the build of the release's commit is looked for; older than this, it is stale.
RECENT_BUILDS = 25
TREE = f"builds[{BUILD_FIELDS}]{{0,{RECENT_BUILDS}}}"
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
            help="lastBuild (default): the newest build of the release's commit, even while it "
            "runs; lastCompletedBuild: the newest finished one.",
        ),
        FieldSpec(
            "any_commit",
            "Any commit",
            required=False,
            help="yes when the job does not build the release's commit (a smoke test against "
            "staging, say): the job's newest build counts; otherwise only the newest build of "
            f"the release's commit among the last {RECENT_BUILDS} counts.",
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
        # Which build counts is chosen after the fetch: one request serves every check on a job.
        self._build(spec)
        return (self.kind, conn.url(), job_path(self._job(conn, spec)))

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        job = self._job(conn, spec)
        job_url = conn.url() + job_path(job)
        body = client.get_json(
            f"{job_url}/api/json",
            what=f"the recent builds of Jenkins job {job}",
            params={"tree": TREE},
            auth=(conn.secret("user"), conn.secret("token")),
        )
        if not isinstance(body, dict) or not isinstance(body.get("builds"), list):
            raise BadResponse(f"The answer for Jenkins job {job} has no list of builds.")
        builds = [b for b in body["builds"] if isinstance(b, dict)]
        # Newest first, whatever order the answer has.
        builds.sort(key=lambda b: n if isinstance(n := b.get("number"), int) else -1)
        builds.reverse()
        return Fetched(payload=builds, url=f"{job_url}/")

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        builds: list[dict] = fetched.payload
        if self._build(spec) == "lastCompletedBuild":
            builds = [b for b in builds if b.get("building") is not True]
        if not builds:
            return Observation(
                status=PENDING,
                value="no builds",
                detail="The job has no build to judge yet.",
                url=fetched.url,
            )
        if spec.flag("any_commit", False):
            return judge(builds[0], fetched.url)
        if not spec.sha:
            return judge(
                builds[0], fetched.url, unsure="cannot be matched: the release has no commit SHA"
            )
        ours = [b for b in builds if any(same_commit(sha, spec.sha) for sha in built_commits(b))]
        if ours:
            return judge(ours[0], fetched.url)
        if not any(built_commits(b) for b in builds):
            return judge(
                builds[0],
                fetched.url,
                unsure="does not say which commit it built (no Git build data)",
            )
        newest = builds[0]
        return Observation(
            status=PENDING,
            value="other commit",
            detail=f"None of the last {len(builds)} builds built this release's commit "
            f"{spec.sha[:12]} (the newest, #{newest.get('number')}, built "
            f"{', '.join(sha[:12] for sha in built_commits(newest)) or 'no named commit'}); "
            "waiting for a build of it.",
            url=fetched.url,
        )


def judge(build: dict, job_url: str, *, unsure: str = "") -> Observation:
    """One build's result. ``unsure`` says why it may not be the release's build: a success
    then needs a person's judgement, a failure still fails."""
    number = build.get("number")
    url = str(build.get("url") or job_url)
    if build.get("building") is True:
        return Observation(
            status=PENDING, value="building", detail=f"Build #{number} is still running.", url=url
        )
    result = build.get("result")
    if result is None:
        return Observation(
            status=NEEDS_JUDGEMENT,
            value="no result",
            detail=f"Build #{number} is not running and has no result.",
            url=url,
        )
    status = RESULTS.get(str(result), NEEDS_JUDGEMENT)
    if str(result) not in RESULTS:
        detail = f"Build #{number} has an unrecognised result {result!r}."
        return Observation(status=status, value=str(result), detail=detail, url=url)
    if unsure and status == PASSING:
        return Observation(
            status=NEEDS_JUDGEMENT,
            value=str(result),
            detail=f"Build #{number} finished {result} but {unsure}. "
            "Judge it, or set the check to any commit.",
            url=url,
        )
    return Observation(
        status=status, value=str(result), detail=f"Build #{number} finished {result}.", url=url
    )


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
