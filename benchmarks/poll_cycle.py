"""One poll cycle of many checks on one poller worker: requests, wall time, queries per check.

    .venv/bin/python benchmarks/poll_cycle.py [--checks 2000] [--pairs 200] [--latency-ms 120]
                                              [--concurrency 32]

Builds a throwaway PostgreSQL database (``BENCH_DATABASE_URL``, default
postgres://postgres@127.0.0.1:5432/greenlight_bench_poll; dropped and created again), with
``--pairs`` (integration, commit) pairs: 20 projects, each with one GitHub integration and
``pairs / 20`` releases on distinct commits, and ``checks / pairs`` checks per release (each
reading a different check name, so they share one request). A local HTTP server answers like
GitHub's check-runs endpoint after ``--latency-ms``, with an ETag and 304 on a match.

A cycle is what beat and the poller do in production: the dispatcher task claims every due check,
groups them and enqueues one fetch task per group on the polling queue (on Redis,
``BENCH_REDIS_URL``, default redis://127.0.0.1:6379/13, emptied first); one real Celery worker
started as docker-compose.yml starts the poller (``--queues=polling --pool=threads``) runs them.
The cycle ends when every claimed check is written. It is run with the thread pool of
``--concurrency`` and, for comparison, with one thread (one fetch at a time). Between cycles
every check is made due again. The first cycle writes a status change (CheckResult and event)
for every check; the next ones find nothing changed, and once ETags are stored GitHub answers
304. Database queries per check are counted in this process, on one more cycle that runs the
same fetch code in a thread pool of the same size.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROJECTS = 20


class FakeGitHub:
    """check-runs for any commit, ``latency`` seconds late; counts requests and 304s."""

    def __init__(self, latency: float) -> None:
        self.requests = 0
        self.not_modified = 0
        self.lock = threading.Lock()
        github = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real API over TLS would be used
            # Headers and body go out as two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add 40 ms to every answer, a cost no real API has.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                time.sleep(latency)
                path = urlsplit(self.path).path
                etag = f'"{abs(hash(path))}"'
                with github.lock:
                    github.requests += 1
                    fresh = self.headers.get("If-None-Match") == etag
                    github.not_modified += fresh
                if fresh:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                runs = [
                    {"id": n, "name": f"job-{n}", "status": "completed", "conclusion": "success"}
                    for n in range(10)
                ]
                body = json.dumps({"total_count": len(runs), "check_runs": runs}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> tuple[int, int]:
        with self.lock:
            counts = (self.requests, self.not_modified)
            self.requests = self.not_modified = 0
        return counts


def fresh_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def build(checks: int, pairs: int, server_url: str) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from monitoring.models import Check
    from monitoring.services.integrations import save_integration
    from releases.services.projects import create_project
    from releases.services.releases import create_release

    releases_per_project = pairs // PROJECTS
    per_release = checks // pairs
    rita = get_user_model().objects.create_user("rita", password="bench")
    now = timezone.now()
    rows = []
    for p in range(PROJECTS):
        project = create_project(name=f"Service {p}", slug=f"service-{p}", by=rita)
        integration = save_integration(
            project,
            by=rita,
            name="GitHub",
            kind="github",
            base_url=server_url,
            config={"repo": f"example/service-{p}"},
            secrets={"token": "ghp_bench"},
        )
        for r in range(releases_per_project):
            release = create_release(
                project, by=rita, version=f"1.{r}.0", commit_sha=f"{p:04x}{r:036x}"
            )
            rows += [
                Check(
                    release=release,
                    integration=integration,
                    name=f"job-{n}",
                    params={"check_name": f"job-{n}"},
                    started_at=now,
                    next_poll_at=now,
                )
                for n in range(per_release)
            ]
    Check.objects.bulk_create(rows, batch_size=1000)


def make_due() -> int:
    from django.utils import timezone

    from monitoring.models import Check

    return Check.objects.filter(release__isnull=False).update(next_poll_at=timezone.now())


def in_process_cycle(github: FakeGitHub, concurrency: int) -> dict[str, float]:
    """The dispatcher and the fetches in this process, to count database queries per check."""
    from django.db import connection

    from monitoring.models import CheckResult
    from monitoring.services import polling

    make_due()
    results_before = CheckResult.objects.count()
    github.take()
    queries = itertools.count()

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        next(queries)  # itertools.count is safe to share between threads in CPython
        return execute(sql, params, many, context)

    def fetch(claim: Any) -> int:
        # A connection per task, closed after it, as Celery's Django fixup does in a worker.
        try:
            with connection.execute_wrapper(counting):
                return polling.poll_group(claim.check_ids, claim.token)
        finally:
            connection.close()

    started = time.perf_counter()
    with connection.execute_wrapper(counting):
        dispatch = polling.claim_due_checks()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        written = sum(pool.map(fetch, dispatch.claims))
    finished = time.perf_counter()
    requests, not_modified = github.take()
    return {
        "checks": dispatch.checks,
        "groups": len(dispatch.claims),
        "written": written,
        "changes": CheckResult.objects.count() - results_before,
        "requests": requests,
        "not_modified": not_modified,
        "cycle_s": finished - started,
        "queries_per_check": next(queries) / max(dispatch.checks, 1),
    }


class Poller:
    """``celery -A config worker --queues=polling --pool=threads`` on the benchmark database."""

    def __init__(self, concurrency: int, database_url: str, redis_url: str) -> None:
        from django.conf import settings

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING",
        }
        env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        self.name = f"poller-bench-{concurrency}"
        self.log_path = ROOT / "var" / f"{self.name}.log"
        self.log_path.parent.mkdir(exist_ok=True)
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                f"--queues={settings.POLL_QUEUE}",
                "--pool=threads",
                f"--concurrency={concurrency}",
                f"--hostname={self.name}@%h",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        from config.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if app.control.ping(timeout=0.5):
                return
        raise SystemExit(f"the poller worker did not start; see {self.log_path}")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def worker_cycle(github: FakeGitHub) -> dict[str, float]:
    """One dispatcher tick through the broker; done when the worker has written every check."""
    from monitoring import tasks
    from monitoring.models import Check, CheckResult

    make_due()
    results_before = CheckResult.objects.count()
    github.take()
    started = time.perf_counter()
    checks = tasks.dispatch_due_checks()
    dispatched = time.perf_counter()
    claimed = Check.objects.filter(release__isnull=False, poll_claim__isnull=False)
    while claimed.exists():
        time.sleep(0.02)
    finished = time.perf_counter()
    requests, not_modified = github.take()
    return {
        "checks": checks,
        "changes": CheckResult.objects.count() - results_before,
        "requests": requests,
        "not_modified": not_modified,
        "dispatch_s": dispatched - started,
        "cycle_s": finished - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=120.0)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="the poller's thread pool (docker-compose.yml runs --concurrency=32)",
    )
    args = parser.parse_args()
    if args.pairs % PROJECTS or args.checks % args.pairs:
        parser.error(f"--pairs must divide by {PROJECTS} and --checks by --pairs")

    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/greenlight_bench_poll"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    fresh_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["REDIS_URL"] = redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    redis.Redis.from_url(redis_url).flushdb()
    call_command("migrate", verbosity=0)
    github = FakeGitHub(args.latency_ms / 1000)
    build(args.checks, args.pairs, github.url)

    print(
        f"{args.checks} checks over {args.pairs} (integration, commit) pairs; "
        f"provider latency {args.latency_ms:.0f} ms; PostgreSQL and Redis\n"
    )
    print(
        f"{'cycle':<7}{'threads':>8}{'checks':>7}{'requests':>10}{'304s':>6}"
        f"{'changes':>9}{'dispatch':>10}{'cycle':>9}"
    )
    plan = [args.concurrency] * args.cycles + [1]
    results: list[tuple[int, dict[str, float]]] = []
    n = 0
    try:
        for pool, runs in itertools.groupby(plan):
            worker = Poller(pool, url, redis_url)
            try:
                worker.wait_ready()
                for _ in runs:
                    n += 1
                    r = worker_cycle(github)
                    results.append((pool, r))
                    print(
                        f"{n:<7}{pool:>8}{r['checks']:>7.0f}{r['requests']:>10.0f}"
                        f"{r['not_modified']:>6.0f}{r['changes']:>9.0f}"
                        f"{r['dispatch_s']:>9.2f}s{r['cycle_s']:>8.2f}s"
                    )
            finally:
                worker.stop()
    finally:
        redis.Redis.from_url(redis_url).flushdb()

    counted = in_process_cycle(github, args.concurrency)
    steady = [r["cycle_s"] for pool, r in results[1:] if pool == args.concurrency]
    one_at_a_time = [r["cycle_s"] for pool, r in results if pool == 1]
    print(
        f"\nrequests per cycle == distinct pairs: "
        f"{all(r['requests'] == args.pairs for _, r in results)}; "
        f"steady cycle with {args.concurrency} threads: "
        f"{statistics.median(steady or [results[0][1]['cycle_s']]):.2f} s; "
        f"one fetch at a time: {statistics.median(one_at_a_time or [0.0]):.2f} s; "
        f"provider latency alone, one fetch at a time: "
        f"{args.pairs * args.latency_ms / 1000:.1f} s"
    )
    print(
        f"database queries per check in a steady cycle: {counted['queries_per_check']:.2f} "
        f"({counted['groups']:.0f} fetches, {counted['checks']:.0f} checks)"
    )


if __name__ == "__main__":
    main()
