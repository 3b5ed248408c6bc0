"""Server time of the workspace pages at 10, 100 and 1,000 active releases.

    export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/greenlight
    .venv/bin/python benchmarks/pages.py [--runs 30] [--sizes 10 100 1000]

Creates a throwaway database (``test_<name>`` on the server of ``TEST_DATABASE_URL``, dropped at
the end), seeds releases with bulk inserts, and requests each page through Django's test client
— the whole middleware stack, sessions and templates, no network — as Rita, the release manager
who sees every release. Each page is compared with two baselines measured in the same run:

- ``bare``: a login-protected view that renders the site layout with an empty page, the floor
  every page of the app pays (session, user, the header's two queries, the base template);
- ``hello``: a view that returns a constant response, for scale.

Prints the median and 90th percentile of ``--runs`` requests after warm-up, the query count,
and each page's ratio to ``bare``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import include, path, reverse  # noqa: E402

SIZES = (10, 100, 1000)


@login_required
def bare(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html", {})


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello")


# This module is the URLconf of the run: the app's URLs plus the two baselines.
urlpatterns = [
    path("bench/bare/", bare, name="bench_bare"),
    path("bench/hello/", hello, name="bench_hello"),
    path("", include("config.urls")),
]


def measure(
    client: Client, url: str, runs: int, headers: dict[str, str] | None = None
) -> tuple[float, float, int]:
    """(median ms, p90 ms, queries) of ``runs`` GETs after two warm-up requests."""
    headers = headers or {}
    for _ in range(2):
        response = client.get(url, headers=headers)
        assert response.status_code in (200, 204), (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
    return statistics.median(samples), p90, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page")
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=list(SIZES), help="active releases to measure at"
    )
    args = parser.parse_args()

    setup_test_environment()
    settings.ROOT_URLCONF = sys.modules[__name__]
    settings.ALLOWED_HOSTS = ["testserver"]
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.sizes, args.runs)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(sizes: list[int], runs: int) -> None:
    from releases.dashboard import change_token
    from tests.builders import make_cast
    from tests.bulk import seed_releases

    cast = make_cast()
    client = Client()
    client.force_login(cast.rita)
    database = connection.vendor
    if database == "postgresql":
        database += f" {connection.pg_version // 10000}"
    print(f"Database: {database}; {runs} timed requests per page after warm-up")
    print()
    header = (
        f"{'releases':>8}  {'page':<16}{'median ms':>10}{'p90 ms':>9}{'queries':>9}{'× bare':>8}"
    )
    print(header)
    print("-" * len(header))
    seeded = 0
    release = None
    for size in sizes:
        created = seed_releases(cast.project, size - seeded, prefix=str(size))
        seeded = size
        if release is None:
            # The same release at every size: its page must not care how many others exist.
            release = next(r for r in created if r.status == "frozen")
        htmx = {"HX-Request": "true"}
        pages = [
            ("hello", reverse("bench_hello"), None),
            ("bare", reverse("bench_bare"), None),
            ("dashboard", reverse("dashboard"), None),
            ("dashboard live", reverse("dashboard"), htmx),
            # The steady state of the poll: nothing changed, 204.
            ("dashboard pulse", reverse("dashboard_pulse") + f"?v={change_token()}", htmx),
            ("release page", release.get_absolute_url(), None),
            ("timeline", reverse("timeline"), None),
        ]
        results = {name: measure(client, url, runs, headers) for name, url, headers in pages}
        base = results["bare"][0]
        for name, (median, p90, queries) in results.items():
            ratio = median / base
            print(f"{size:>8}  {name:<16}{median:>10.1f}{p90:>9.1f}{queries:>9}{ratio:>8.2f}")
        print()


if __name__ == "__main__":
    main()
