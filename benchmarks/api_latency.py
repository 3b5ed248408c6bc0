"""How fast does the API answer, and in how many queries, with 1,000 releases?

Seeds a fresh PostgreSQL database with 1,000 releases (scope, checklists, sign-offs, checks,
events — all through the services), serves the app with gunicorn (2 workers, persistent database
connections, the Redis cache for rate limits), and measures over HTTP, 200 requests each after a
warm-up, with a personal token:

- two floors, each 20 rows from one query (``benchmarks/api_floor.py``): bare DRF with no
  authentication or throttle, and the same behind the token authentication, permission check
  and rate limit every real request pays
- the release list (a page of 20), a release, its readiness, a page of its events
- the timeline data for all 1,000 releases

It prints the median and p95 of each, and each endpoint's SQL query count (counted in-process
on the same database). Targets: the list page in ≤ 8 queries and within 2× of the floor (the
verdict is given against both floors); the whole timeline in ≤ 10 queries and ≤ 200 ms.

    .venv/bin/python benchmarks/api_latency.py [--releases 1000] [--requests 200] [--keep]

``--keep`` reuses the benchmark database when it already holds the releases. Needs PostgreSQL
and Redis (``BENCH_DATABASE_URL``, ``BENCH_REDIS_URL``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/greenlight_bench_api"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
PROJECTS = 4


def reset_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with closing(psycopg.connect(admin, autocommit=True)) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def configure_django() -> None:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    # Notifications are delivered inline; the seeded people have no email address to send to.
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    import django

    django.setup()


def seed(releases: int) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from approvals.services.sign_offs import record_sign_off
    from monitoring.models import Check, CheckPhase, Integration, IntegrationKind
    from monitoring.services.results import record_check_result
    from releases.models import ChecklistTemplate, Phase, Role
    from releases.services.checklists import tick_checklist_item
    from releases.services.lifecycle import lock_scope
    from releases.services.projects import create_project, set_project_roles
    from releases.services.releases import create_release
    from releases.services.scope import add_scope_item

    User = get_user_model()
    people: dict[str, Any] = {
        role: User.objects.create_user(username=name, password="bench", first_name=name.title())
        for name, role in [
            ("rita", Role.RELEASE_MANAGER),
            ("paul", Role.PRODUCT),
            ("quinn", Role.QA),
            ("dana", Role.DEVOPS),
            ("devin", Role.DEV),
            ("vic", Role.VIEWER),
        ]
    }
    rita = people[Role.RELEASE_MANAGER]
    projects = []
    for n in range(PROJECTS):
        project = create_project(name=f"Service {n}", slug=f"service-{n}", by=rita)
        for role, person in people.items():
            if role != Role.RELEASE_MANAGER:
                set_project_roles(project, person, [role], by=rita)
        for position, (phase, title, role) in enumerate(
            [
                (Phase.READINESS, "Critical flows pass", Role.QA),
                (Phase.READINESS, "Migrations reviewed", Role.DEV),
                (Phase.READINESS, "Staging matches production", Role.DEVOPS),
                (Phase.DEPLOYMENT, "Smoke test in production", Role.DEVOPS),
            ]
        ):
            ChecklistTemplate.objects.create(
                project=project, phase=phase, title=title, owner_role=role, position=position
            )
        ci = Integration.objects.create(project=project, name="CI", kind=IntegrationKind.PUSH)
        Check.objects.create(
            project=project, integration=ci, name="CI green", phase=CheckPhase.PRE_RELEASE
        )
        projects.append(project)

    start = timezone.now() - dt.timedelta(days=180)
    for i in range(releases):
        project = projects[i % PROJECTS]
        release = create_release(
            project,
            by=rita,
            version=f"{i // PROJECTS}.{i % 7}.0",
            commit_sha=f"{i:040x}",
            deploy_window_start=start + dt.timedelta(hours=9 * i),
            deploy_window_end=start + dt.timedelta(hours=9 * i + 1),
        )
        for k in range(3):
            add_scope_item(release, by=rita, title=f"Change {k}", key=f"S{i}-{k}")
        if i % 4 == 0:
            continue  # still planning
        lock_scope(release, by=rita)
        for item in release.checklist_items.filter(phase=Phase.READINESS):
            tick_checklist_item(item, by=people[item.owner_role], note="done")
        for check in release.checks.all():
            record_check_result(check, status="passing", value="success", by="CI")
        for role in (Role.DEV, Role.QA, Role.DEVOPS, Role.PRODUCT):
            record_sign_off(release, by=people[role], role=role, decision="go")
        if (i + 1) % 100 == 0:
            print(f"  seeded {i + 1} releases", flush=True)


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "CONN_MAX_AGE": "600",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks.api_floor:application",
            "--workers=2",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def query_counts(paths: dict[str, str], secrets: dict[str, str]) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name, path in paths.items():
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secrets[name]}")
        client.get(path)  # the token's first use writes its last-used time once
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        counts[name] = len(queries)
    return counts


def measure(
    base: str, paths: dict[str, str], secrets: dict[str, str], requests: int
) -> dict[str, tuple[float, float]]:
    """Median and p95 in ms per endpoint. The endpoints take turns, request by request, so a
    busy moment on the machine weighs on all of them alike and their ratios stay fair."""
    clients = {
        name: httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {secrets[name]}", "Accept": "application/json"},
            timeout=30,
        )
        for name in paths
    }
    timings: dict[str, list[float]] = {name: [] for name in paths}
    try:
        for round_ in range(10 + requests):  # the first ten warm both workers up
            for name, path in paths.items():
                started = time.perf_counter()
                response = clients[name].get(path)
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if round_ >= 10:
                    timings[name].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return {
        name: (statistics.median(values), statistics.quantiles(values, n=20)[18])
        for name, values in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="reuse a seeded benchmark database")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)

    reused = False
    if args.keep:
        try:
            configure_django()
            from releases.models import Release

            reused = Release.objects.count() == args.releases
        except Exception:
            reused = False
    if not reused:
        print(f"Seeding {args.releases} releases into {DATABASE_URL} …", flush=True)
        reset_database(DATABASE_URL)
        configure_django()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        started = time.monotonic()
        seed(args.releases)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh planner statistics, as autovacuum would give them
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)

    from django.contrib.auth import get_user_model
    from django.db import connection

    from releases.models import Release
    from releases.services.tokens import create_api_token

    rita = get_user_model().objects.get(username="rita")
    frozen = Release.objects.filter(status="frozen").order_by("pk")
    sample = frozen[frozen.count() // 2]
    paths = {
        "floor (bare DRF, 20 rows)": "/bench/floor/",
        "floor + token auth, throttle": "/bench/floor/authenticated/",
        "release list (page of 20)": "/api/releases/",
        "release detail": f"/api/releases/{sample.pk}/",
        "readiness": f"/api/releases/{sample.pk}/readiness/",
        "events page": f"/api/releases/{sample.pk}/events/",
        f"timeline ({Release.objects.count()} releases)": "/api/timeline/",
    }
    from benchmarks import api_floor  # noqa: F401 - adds the floor's route in this process too

    # A token per endpoint: each stays under the default rate limit (600 a minute), which is
    # counted in Redis on every request like in production.
    secrets = {
        name: create_api_token(by=rita, name=f"bench {n} {time.time():.0f}")[1]
        for n, name in enumerate(paths)
    }
    counts = query_counts(paths, secrets)
    connection.close()

    port = free_port()
    server = serve(port)
    try:
        results = measure(f"http://127.0.0.1:{port}", paths, secrets, args.requests)
    finally:
        server.terminate()
        server.wait(10)

    print()
    print(
        f"API latency over HTTP: {args.requests} requests each, gunicorn 2 workers, "
        "PostgreSQL with persistent connections, personal token"
    )
    print(f"{'endpoint':<31} {'median':>9} {'p95':>9} {'queries':>8}")
    for name, (median, p95) in results.items():
        print(f"{name:<31} {median:>7.1f}ms {p95:>7.1f}ms {counts[name]:>8}")

    floor = results["floor (bare DRF, 20 rows)"][0]
    authenticated = results["floor + token auth, throttle"][0]
    listing = results["release list (page of 20)"][0]
    list_queries = counts["release list (page of 20)"]
    timeline_name = next(name for name in results if name.startswith("timeline"))
    timeline, timeline_p95 = results[timeline_name]
    verdicts = [
        (f"list page ≤ 8 queries ({list_queries})", list_queries <= 8),
        (f"list page within 2× of the bare floor ({listing / floor:.2f}×)", listing <= 2 * floor),
        (
            f"list page within 2× of the authenticated floor ({listing / authenticated:.2f}×)",
            listing <= 2 * authenticated,
        ),
        (f"timeline ≤ 10 queries ({counts[timeline_name]})", counts[timeline_name] <= 10),
        (
            f"timeline ≤ 200 ms (median {timeline:.0f} ms, p95 {timeline_p95:.0f} ms)",
            timeline_p95 <= 200,
        ),
    ]
    print()
    for label, ok in verdicts:
        print(f"{'met ' if ok else 'MISSED'} {label}")


if __name__ == "__main__":
    main()
