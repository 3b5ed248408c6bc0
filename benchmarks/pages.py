"""Server time of the workspace pages at 10, 1,000 and 10,000 active releases, against targets.

    export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/greenlight
    .venv/bin/python benchmarks/pages.py [--runs 30] [--sizes 10 1000 10000]

Creates a throwaway database (``test_<name>`` on the server of ``TEST_DATABASE_URL``, dropped at
the end), seeds releases with bulk inserts (then ``VACUUM ANALYZE``, as autovacuum would), and
requests each page through Django's test client — the whole middleware stack, sessions and
templates, no network — as Rita, the release manager who sees every release. Each page is
compared with two baselines measured in the same run:

- ``bare``: a login-protected view that renders the site layout with an empty page, the floor
  every page of the app pays (session, user, the header's two queries, the base template);
- ``hello``: a view that returns a constant response, for scale.

Prints the median and 90th percentile of ``--runs`` requests after warm-up, the query count,
and each page's ratio to ``bare``: every request is paired with a request of ``bare`` just
before it, and the ratio is the median of the pairs' ratios, so a load that comes and goes on a
shared machine weighs on both sides of each ratio. "cpu ×" is the same ratio in this process's
CPU time (Django's side alone, without the database server's). A page with a target also prints
the target and whether the ratio MEETS or MISSES it. The dashboard keeps unchanged rows in the
cache: "dashboard" is the view with nothing changed, "dashboard changed" turns a readiness check
of the first release on the page failing or passing before each request (its row computed
again), "dashboard noted" adds a note to it (no row shows notes), "dashboard cold" empties the
cache before each request (every row computed afresh, the worst case). The release page keeps
its rendered sections the same way: "release page" is the view with nothing changed, "release
changed" adds a note to the release before each request (every section rendered again). A page
with nothing changed is requested once, untimed, just before each timed request: the other
pages of the run change releases and empty the cache in between. Ends with a summary: each
target judged at the size it is set for, and each page's query count at every size, which must
not grow with the releases.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import include, path, reverse  # noqa: E402

if TYPE_CHECKING:
    from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper

SIZES = (10, 1000, 10000)


@dataclass(frozen=True)
class Target:
    """A page's time may be at most ``ratio`` times the bare view's, judged at ``releases``."""

    ratio: float
    releases: int


# Issue 15's targets: the release page and the dashboard at 1,000 active releases, the
# releases list at 10,000.
TARGETS = {
    "release page": Target(3.0, 1000),
    "dashboard": Target(2.0, 1000),
    "dashboard changed": Target(4.0, 1000),
    "releases list": Target(2.0, 10000),
}


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


@dataclass
class Page:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    # Runs ahead of every request, untimed (e.g. emptying the cache).
    before: Callable[[], None] = lambda: None
    samples: list[float] = field(default_factory=list)
    # Each request's time over the bare view's, requested just before it.
    ratios: list[float] = field(default_factory=list)
    # The same with the CPU time of this process (Django's side, no database server time).
    cpu_ratios: list[float] = field(default_factory=list)
    queries: int = 0

    def get(self, client: Client) -> None:
        self.before()
        response = client.get(self.url, headers=self.headers)
        assert response.status_code in (200, 204), (self.url, response.status_code)

    def timed(self, client: Client) -> tuple[float, float]:
        """One request after ``before``: (wall ms, CPU ms)."""
        self.before()
        start, cpu = time.perf_counter(), time.process_time()
        client.get(self.url, headers=self.headers)
        return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.cpu_ratios)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def measure(client: Client, bare: Page, pages: list[Page], runs: int) -> None:
    """Warm up, count each page's queries, then time the pages in turns, each request paired
    with a request of the bare view just before it: on a shared machine whose load comes and
    goes, a page's ratio is then taken from two requests under the same load, and the median
    of those ratios is what is reported."""
    for page in pages:
        for _ in range(2):
            page.get(client)
        page.before()
        with CaptureQueriesContext(connection) as queries:
            client.get(page.url, headers=page.headers)
        # Read now: the next request clears the connection's query log.
        page.queries = len(queries)
    for _ in range(runs):
        for page in pages:
            floor, floor_cpu = bare.timed(client)
            took, took_cpu = page.timed(client)
            bare.samples.append(floor)
            page.samples.append(took)
            page.ratios.append(took / floor)
            page.cpu_ratios.append(took_cpu / floor_cpu)


def seen_just_before(
    client: Client, url: str, headers: dict[str, str] | None = None
) -> Callable[[], None]:
    """Request the page once, untimed, just before the timed request: "nothing changed" means
    nothing changed since the person's last view, whatever the other pages of the run did in
    between (a note on a release on the dashboard, emptying the cache)."""

    def view() -> None:
        client.get(url, headers=headers or {})

    return view


def first_row(client: Client) -> int:
    """The release in the first row of the dashboard."""
    page = client.get(reverse("dashboard")).content.decode()
    return int(page.split('<tr id="release-', 1)[1].split('"', 1)[0])


def check_flips_on(release_pk: int) -> Callable[[], None]:
    """A readiness check of the release turns failing, then passing again, and so on: what CI
    reports all day. Its row shows it; no one's panel does."""
    from monitoring.models import Check, CheckPhase, CheckStatus
    from monitoring.services.results import record_check_result

    check = Check.objects.filter(release_id=release_pk, phase=CheckPhase.PRE_RELEASE).first()
    assert check is not None, "every seeded release has a readiness check"
    statuses = [CheckStatus.FAILING, CheckStatus.PASSING]

    def flip() -> None:
        statuses.reverse()
        record_check_result(check, status=statuses[0], value=statuses[0], source="api")

    return flip


def note_on(release_pk: int) -> Callable[[], None]:
    from releases.models import Release
    from releases.services.notes import add_note

    release = Release.objects.get(pk=release_pk)

    def write() -> None:
        add_note(release, by="benchmark", text="A note changes the release's version")

    return write


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
    from tests.builders import make_cast
    from tests.bulk import seed_releases
    from workspace.dashboard import change_token

    cast = make_cast()
    client = Client()
    client.force_login(cast.rita)
    database = connection.vendor
    if database == "postgresql":
        database += f" {typing.cast('PostgresWrapper', connection).pg_version // 10000}"
    load = " / ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"Database: {database}; {runs} timed requests per page after warm-up")
    print(f"Load average at the start (1 / 5 / 15 min): {load}; {os.cpu_count()} cores")
    print()
    header = (
        f"{'releases':>8}  {'page':<18}{'median ms':>10}{'p90 ms':>9}{'queries':>9}"
        f"{'bare ms':>9}{'× bare':>8}{'cpu ×':>7}{'target':>8}  verdict"
    )
    print(header)
    print("-" * len(header))
    seeded = 0
    release = None
    # (page, size) → (ratio, queries), for the summary.
    results: dict[tuple[str, int], tuple[float, int]] = {}
    for size in sizes:
        created = seed_releases(cast.project, size - seeded, prefix=str(size))
        seeded = size
        if connection.vendor == "postgresql":
            # What autovacuum does soon after a bulk load on a live database: statistics for
            # the planner and a visibility map for index-only counts.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        if release is None:
            # The same release at every size: its page must not care how many others exist.
            release = next(r for r in created if r.status == "frozen")
        htmx = {"HX-Request": "true"}
        dashboard, page_url = reverse("dashboard"), release.get_absolute_url()
        pages = [
            Page("hello", reverse("bench_hello")),
            Page("bare", reverse("bench_bare")),
            Page("dashboard", reverse("dashboard"), before=seen_just_before(client, dashboard)),
            # One release on the page changed (a check's new status): its row is computed again.
            Page("dashboard changed", dashboard, before=check_flips_on(first_row(client))),
            # A note on it: no row shows the event log, nothing is computed again.
            Page("dashboard noted", dashboard, before=note_on(first_row(client))),
            # Every row and the panel computed afresh: the worst case.
            Page("dashboard cold", reverse("dashboard"), before=cache.clear),
            Page("dashboard live", reverse("dashboard"), htmx),
            # The steady state of the poll: nothing changed, 204.
            Page("dashboard pulse", reverse("dashboard_pulse") + f"?v={change_token()}", htmx),
            # Nothing changed: every section comes from the cache.
            Page("release page", page_url, before=seen_just_before(client, page_url)),
            # A note before each request: the release's version moves, every section is
            # rendered again from the release's data.
            Page("release changed", page_url, before=note_on(release.pk)),
            Page("releases list", reverse("release_list")),
            Page("timeline", reverse("timeline")),
        ]
        bare = pages[1]
        measure(client, bare, pages, runs)
        base = bare.median
        for page in pages:
            ratio = page.ratio
            results[page.name, size] = (ratio, page.queries)
            target = TARGETS.get(page.name)
            judged = ""
            if target is not None:
                judged = f"{target.ratio:>7.0f}×  {verdict(ratio, target)}"
            print(
                f"{size:>8}  {page.name:<18}{page.median:>10.1f}{page.p90:>9.1f}"
                f"{page.queries:>9}{base:>9.1f}{ratio:>8.2f}{page.cpu_ratio:>7.2f}{judged:>8}"
            )
        print()
    summarize(results, sizes)


def verdict(ratio: float, target: Target) -> str:
    return "MEETS" if ratio <= target.ratio else "MISSES"


def summarize(results: dict[tuple[str, int], tuple[float, int]], sizes: list[int]) -> None:
    print("Targets (each judged at the size it is set for):")
    for name, target in TARGETS.items():
        if (name, target.releases) not in results:
            print(f"  {name:<18} ≤ {target.ratio:.0f}× bare at {target.releases:,}: not measured")
            continue
        ratio, _queries = results[name, target.releases]
        print(
            f"  {name:<18} ≤ {target.ratio:.0f}× bare at {target.releases:,} releases: "
            f"{ratio:.2f}×  {verdict(ratio, target)}"
        )
    print()
    print("Queries per request (flat: the same at every size):")
    names = dict.fromkeys(name for name, _size in results)
    for name in names:
        counts = [results[name, size][1] for size in sizes]
        flat = "flat" if len(set(counts)) == 1 else "GROWS"
        shown = "  ".join(f"{size:,}: {count}" for size, count in zip(sizes, counts, strict=True))
        print(f"  {name:<18} {shown}  {flat}")


if __name__ == "__main__":
    main()
