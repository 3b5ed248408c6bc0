"""Reads behind the dashboard: the rows of one page and what waits on the current user.

Everything here runs a fixed number of queries however many releases, items or sign-offs
exist: the rows of a page are loaded with ``with_readiness_data`` and the "needs my action"
lists are one query each, filtered in SQL.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Window,
)
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from approvals.models import DEFAULT_REQUIRED_ROLES, ApprovalPolicy, RoleRequirement, SignOff
from approvals.readiness import Readiness, compute_readiness, with_readiness_data
from lib.precompiled import STAND_IN, Precompiled
from monitoring.models import Check, CheckPhase, CheckStatus
from releases.access import visible_projects, visible_releases
from releases.filters import dated
from releases.models import (
    ACTIVE_STATUSES,
    ChecklistItem,
    Phase,
    Project,
    ProjectEvent,
    ProjectMembership,
    Release,
    ReleaseEvent,
    ReleaseQuerySet,
    Role,
    RoleAssignment,
    ScopeChangeRequest,
    Status,
)
from releases.people import person_summary

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from approvals.readiness import ReadinessData
    from releases.filters import ReleaseListFilter
    from releases.forms import DashboardFilter

    class RowData(ReadinessData):
        post_release_checks: list[Check]

    # A release loaded with ``with_row_data``.
    RowRelease = WithAnnotations[Release, RowData]


PAGE_SIZE = 25
# The "needs my action" panel shows this many of each kind and counts the rest.
PANEL_LIMIT = 8

# Which checklist phase is due in which status: readiness items until the go decision,
# deployment items from approval to deploy done, post-release items while monitoring.
DUE_PHASES = (
    Q(phase=Phase.READINESS, release__status__in=[Status.PLANNING, Status.FROZEN, Status.APPROVED])
    | Q(phase=Phase.DEPLOYMENT, release__status__in=[Status.APPROVED, Status.DEPLOYING])
    | Q(phase=Phase.POST_RELEASE, release__status=Status.MONITORING)
)
SIGNABLE = (Status.FROZEN, Status.APPROVED)


@dataclass
class Row:
    release: Release
    readiness: Readiness
    checks: dict[str, int]
    checks_phase: str
    next_milestone: tuple[str, dt.datetime] | None

    @property
    def top_blockers(self) -> list[str]:
        return [b.message for b in self.readiness.blockers[:3]]

    @property
    def more_blockers(self) -> int:
        return max(0, len(self.readiness.blockers) - 3)


LAST_PAGE_ASKED = 2**31


def paginate(
    releases: QuerySet | Precompiled,
    number: Any,
    size: int = PAGE_SIZE,
    *,
    count_apart: bool = False,
    pk: int | None = None,
) -> Page:
    """One page of releases and the total, in one query: a window count instead of COUNT(*).

    ``count_apart`` counts in a query of its own instead. A window count makes PostgreSQL
    build every matching row before it keeps a page of them; where an index serves the order
    (the releases page, 10,000 releases), a COUNT and a page read from the index cost less.

    ``releases`` may be ``Precompiled`` (the id it runs for in ``pk``): with ``count_apart`` it
    is the rows to list, otherwise it already counts them in ``listed_total``.
    """
    try:
        number = max(1, int(number))
    except (TypeError, ValueError):
        number = 1
    # The database takes an OFFSET up to a bigint; a number that far is past the end anyway.
    number = min(number, LAST_PAGE_ASKED)
    if count_apart:
        count = releases.count() if isinstance(releases, QuerySet) else releases.count(pk)
        # Past the end: the last page.
        number = max(1, min(number, -(-count // size)))
        rows = _rows(releases, pk, (number - 1) * size, size) if count else []
    else:
        if isinstance(releases, QuerySet):
            releases = releases.annotate(listed_total=Window(Count("pk")))
        rows = _rows(releases, pk, (number - 1) * size, size)
        if rows:
            first = rows[0]
            count = first["listed_total"] if isinstance(first, dict) else first.listed_total
        elif number > 1:
            # Past the end: show the last page.
            count = releases.count() if isinstance(releases, QuerySet) else releases.count(pk)
            if count:
                return paginate(releases, -(-count // size), size, pk=pk)
        else:
            count = 0
    paginator = Paginator((), size)
    paginator.count = count  # already known; spares the paginator its COUNT query
    return Page(rows, number, paginator)


def _rows(releases: QuerySet | Precompiled, pk: int | None, bottom: int, size: int) -> list[Any]:
    if isinstance(releases, QuerySet):
        return list(releases[bottom : bottom + size])
    return releases.dicts(pk, offset=bottom, limit=size)


def ordered(releases: ReleaseQuerySet) -> ReleaseQuerySet:
    """The dashboard's order: the soonest deploy window first, then by project and version."""
    return releases.order_by(
        F("deploy_window_start").asc(nulls_last=True), "project__name", "version", "pk"
    )


@functools.cache
def unfiltered_page(superuser: bool) -> Precompiled:
    """What a dashboard without filters lists (``with_versions`` values, counted in
    ``listed_total``), compiled once for superusers and once for members, for the person's id.

    It is the page people open all day; building and compiling its sub-selects cost Django
    more than the rest of a cached dashboard."""
    person = get_user_model()(pk=STAND_IN, is_superuser=superuser)
    releases = ordered(visible_releases(person, versioned_releases()).active())
    return Precompiled.of(releases.annotate(listed_total=Window(Count("pk"))))


def listed_page(user: Any, filters: DashboardFilter, number: Any) -> Page:
    """The page of the dashboard ``number`` asks for: the active releases the person sees,
    narrowed by ``filters`` (none for filters that do not validate), as ``with_versions``
    values."""
    if filters.is_bound and not filters.is_valid():
        return paginate(Release.objects.none(), number)
    chosen = filters.cleaned_data if filters.is_bound else {}
    if not any(chosen.values()):
        return paginate(unfiltered_page(user.is_superuser), number, pk=user.pk)
    releases = visible_releases(user, versioned_releases()).active()
    if chosen["project"]:
        releases = releases.filter(project__slug=chosen["project"])
    if chosen["status"]:
        releases = releases.filter(status=chosen["status"])
    if chosen["mine"]:
        releases = releases.filter(my_actions(user).releases_q())
    return paginate(ordered(releases), number)


# Only the columns a row of the releases list shows, as plain values: building a page of full
# releases and their projects, then formatting them in the template, was most of what the page
# cost in Python.
LIST_COLUMNS = ("pk", "project__name", "version", "title", "kind", "status", "listed_on")


def newest_first(releases: QuerySet[Release]) -> QuerySet[Release, dict[str, Any]]:
    """The releases list's rows: ``LIST_COLUMNS``, the newest listed day first."""
    return dated(releases).order_by("-listed_on", "-pk").values(*LIST_COLUMNS)


@functools.cache
def unfiltered_list(superuser: bool) -> Precompiled:
    """Every release the person sees, newest first, compiled once for superusers and once for
    members, for the person's id: the releases list as it opens."""
    person = get_user_model()(pk=STAND_IN, is_superuser=superuser)
    return Precompiled.of(newest_first(visible_releases(person)))


def listed_releases(user: Any, filters: ReleaseListFilter | None, valid: bool, number: Any) -> Page:
    """The page of the releases list ``number`` asks for: what ``filters`` (made on the
    person's visible releases) keep, nothing where they do not validate, every release the
    person sees where nothing is searched (no filters, or none filled in)."""
    if filters is None or (valid and not any(filters.form.cleaned_data.values())):
        return paginate(unfiltered_list(user.is_superuser), number, count_apart=True, pk=user.pk)
    assert filters.queryset is not None  # the person's visible releases
    releases = filters.qs if valid else filters.queryset.none()
    return paginate(newest_first(releases), number, count_apart=True)


# Once the deploy starts a row counts the health checks; before it, the readiness checks.
HEALTH_STATUSES = (Status.DEPLOYING, Status.MONITORING)


def with_row_data(
    releases: QuerySet[Release], *, health_checks: bool = True
) -> QuerySet[RowRelease]:
    """What a dashboard row reads, prefetched: readiness data and, unless none of the releases
    is past its deploy start (``health_checks``), the health checks."""
    loaded = with_readiness_data(releases)
    if not health_checks:
        return cast("QuerySet[RowRelease]", loaded)
    return loaded.prefetch_related(
        Prefetch(
            "checks",
            queryset=Check.objects.filter(phase=CheckPhase.POST_RELEASE),
            to_attr="post_release_checks",
        )
    )


def load_rows(releases: list[RowRelease], *, now: dt.datetime | None = None) -> list[Row]:
    """Rows for releases loaded through ``with_row_data``, in the order given."""
    now = now or timezone.now()
    rows = []
    for release in releases:
        post = release.status in HEALTH_STATUSES
        checks = release.post_release_checks if post else release.pre_release_checks
        counts = dict.fromkeys(CheckStatus.values, 0)
        for check in checks:
            counts[check.status] += 1
        rows.append(
            Row(
                release=release,
                readiness=compute_readiness(release, now=now),
                checks=counts,
                checks_phase=CheckPhase.POST_RELEASE if post else CheckPhase.PRE_RELEASE,
                next_milestone=release.next_milestone(now),
            )
        )
    return rows


def filter_projects(request: Any) -> list[Project]:
    """The projects a person may filter by: theirs (every project for a superuser)."""
    if request.user.is_superuser:
        return list(visible_projects(request.user))
    return [entry["project"] for entry in person_summary(request)["projects"]]


def projects_key(projects: list[Project]) -> tuple[tuple[str, str], ...]:
    """What a filter bar's project choices are made of, to key its rendered HTML by."""
    return tuple((p.slug, p.name) for p in projects)


# --- what waits on me -------------------------------------------------------------------------


@dataclass
class SignOffTask:
    release: Release
    role: str
    stale: bool

    @property
    def role_label(self) -> str:
        return Role(self.role).label


@dataclass
class Waiting:
    """The first few of something waiting on me, and how many there are in all."""

    shown: list[Any]
    total: int

    @property
    def hidden(self) -> int:
        return self.total - len(self.shown)

    def __bool__(self) -> bool:
        return self.total > 0


def _first(queryset: QuerySet) -> tuple[list[Any], int]:
    """The first PANEL_LIMIT rows and the total, in one query (a window count over the set)."""
    rows = list(queryset.annotate(waiting_total=Window(Count("pk")))[:PANEL_LIMIT])
    return rows, (rows[0].waiting_total if rows else 0)


class MyActions:
    """The sign-offs, checklist items and change requests waiting on one person.

    Each list is filtered in SQL and fetched once, capped at PANEL_LIMIT with the total
    alongside, so the panel costs the same for a person with two tasks or two thousand.
    """

    def __init__(self, user: Any, *, now: dt.datetime | None = None) -> None:
        self.user = user
        self.now = now or timezone.now()
        self.releases = visible_releases(user)

    @cached_property
    def _policies(self) -> dict[int, tuple[int | None, bool]]:
        return {
            project_id: (days, separation)
            for project_id, days, separation in ApprovalPolicy.objects.filter(
                project__in=visible_projects(self.user)
            ).values_list("project_id", "sign_off_expiry_days", "separation_of_duties")
        }

    def _sign_off_rows(self) -> QuerySet[RoleAssignment]:
        user, now = self.user, self.now
        mine = SignOff.objects.current().filter(
            release=OuterRef("release"), user=user, withdrawn_at__isnull=True
        )
        by_default = Q()
        for kind, roles in DEFAULT_REQUIRED_ROLES.items():
            by_default |= Q(release__kind=kind, role__in=list(roles))
        required = Q(
            Exists(
                RoleRequirement.objects.filter(
                    policy__project=OuterRef("release__project"),
                    release_kind=OuterRef("release__kind"),
                    role=OuterRef("role"),
                )
            )
        ) | (
            ~Q(Exists(ApprovalPolicy.objects.filter(project=OuterRef("release__project"))))
            & by_default
        )
        # Not signed, stale, or older than the project's expiry: asked (again).
        expired = Q(pk__in=[])
        for project_id, (days, _separation) in self._policies.items():
            if days is not None:
                expired |= Q(
                    release__project_id=project_id,
                    signed_at__lt=now - dt.timedelta(days=days),
                )
        # One person gives at most one role's sign-off: once they signed for another role,
        # a role they have not signed is not theirs to give.
        lenient = [pid for pid, (_days, separation) in self._policies.items() if not separation]
        return (
            RoleAssignment.objects.filter(
                user=user, release__in=self.releases.filter(status__in=SIGNABLE)
            )
            .exclude(role=Role.VIEWER)
            .annotate(
                signed_at=Subquery(mine.filter(role=OuterRef("role")).values("created_at")[:1]),
                signed_stale=Exists(mine.filter(role=OuterRef("role"), stale_at__isnull=False)),
                signed_other=Exists(mine.exclude(role=OuterRef("role"))),
            )
            .filter(required)
            .filter(Q(signed_at__isnull=True) | Q(signed_stale=True) | expired)
            .exclude(
                Q(signed_other=True, signed_at__isnull=True) & ~Q(release__project_id__in=lenient)
            )
        )

    def _checklist_rows(self) -> QuerySet[ChecklistItem]:
        return (
            ChecklistItem.objects.filter(
                release__in=self.releases.filter(status__in=ACTIVE_STATUSES),
                ticked_at__isnull=True,
                required=True,
            )
            .filter(DUE_PHASES)
            .filter(
                Exists(
                    RoleAssignment.objects.filter(
                        release=OuterRef("release"), user=self.user, role=OuterRef("owner_role")
                    )
                )
            )
        )

    def _change_rows(self) -> QuerySet[ScopeChangeRequest]:
        user = self.user
        assigned = RoleAssignment.objects.filter(release=OuterRef("release"), user=user)
        if user.is_superuser:
            manager = Q()
        else:
            manager = Q(Exists(assigned.filter(role=Role.RELEASE_MANAGER))) | Q(
                Exists(
                    ProjectMembership.objects.filter(
                        project=OuterRef("release__project"),
                        user=user,
                        role=Role.RELEASE_MANAGER,
                    )
                )
            )
        as_product = (
            Q(Exists(assigned.filter(role=Role.PRODUCT)))
            & Q(product_approved_at__isnull=True)
            & ~Q(manager_approved_by=user)
        )
        as_manager = manager & Q(manager_approved_at__isnull=True) & ~Q(product_approved_by=user)
        return (
            ScopeChangeRequest.objects.filter(
                state=ScopeChangeRequest.State.PENDING,
                release__in=self.releases.filter(status__in=SIGNABLE),
            )
            .exclude(requested_by=user)
            .filter(as_product | as_manager)
        )

    @cached_property
    def sign_offs(self) -> Waiting:
        rows, total = _first(
            self._sign_off_rows()
            .select_related("release__project")
            .order_by("release__go_no_go_at", "release__pk", "role")
        )
        tasks = [
            SignOffTask(release=a.release, role=a.role, stale=a.signed_at is not None) for a in rows
        ]
        return Waiting(tasks, total)

    @cached_property
    def checklist(self) -> Waiting:
        return Waiting(
            *_first(
                self._checklist_rows()
                .select_related("release__project")
                .order_by("release__go_no_go_at", "release__pk", "phase", "position", "pk")
            )
        )

    @cached_property
    def change_requests(self) -> Waiting:
        return Waiting(
            *_first(
                self._change_rows()
                .select_related("release__project", "requested_by", "scope_item")
                .order_by("requested_at", "pk")
            )
        )

    @property
    def total(self) -> int:
        return self.sign_offs.total + self.checklist.total + self.change_requests.total

    def releases_q(self) -> Q:
        """Releases with anything waiting on me, as a filter: one query with three sub-selects."""
        return (
            Q(pk__in=self._sign_off_rows().values("release_id"))
            | Q(pk__in=self._checklist_rows().values("release_id"))
            | Q(pk__in=self._change_rows().values("release_id"))
        )


def my_actions(user: Any, *, now: dt.datetime | None = None) -> MyActions:
    return MyActions(user, now=now)


# --- cached fragments ----------------------------------------------------------------------------
#
# A dashboard is read far more often than anything on it changes, and most of its cost is
# Python (ORM rows, readiness, templates), not SQL. So each row is rendered once per version
# of its release and kept in the shared cache, and so is each person's "needs my action" panel.
# A version changes with everything the row shows that is logged as an event (transitions,
# ticks, sign-offs, check status changes, scope changes), with the approval policy of the
# project, and with the minute, so relative times and time-based staleness (sign-off expiry,
# a check's hold time) are never more than a minute old.

FRAGMENT_TTL = 600


# What a row's cache key is made of.
ROW_VERSION_FIELDS = (
    "pk",
    "updated_at",
    "project__name",
    "newest_event",
    "policy_expiry",
    "policy_roles",
    "policy_weight",
)
# ...and, for the page's change token and the panels' key, the newest events anywhere; and
# the status, which tells whether a row to render again needs the health checks.
VERSION_FIELDS = (
    *ROW_VERSION_FIELDS,
    "newest_anywhere",
    "newest_project_event",
    "newest_for_panels",
    "status",
)
# Events that change nothing a row shows (its readiness, status, milestone, sign-offs, checks):
# a note. Any other verb, including one added later, renders the row again.
ROW_BLIND_VERBS = ("note",)
# Events that change no one's "needs my action" panel, which lists sign-offs, checklist items
# and change requests: a note, a check's new status. Any other verb, including one added later,
# renders the panels again.
PANEL_BLIND_VERBS = ("note", "check_status")


def with_versions(releases: QuerySet[Release]) -> QuerySet[Release, dict[str, Any]]:
    """Annotate what a row's version is made of, so the page query brings it along:

    the release's newest event that a row shows (not a note), a fingerprint of its project's
    approval policy (expiry, and the required roles' count and weighted quorum sum: a policy
    edit logs no release event), and the newest release and project events anywhere (the
    page's change token) — no query of their own. Plain values, not model instances: a page
    whose rows are all cached needs nothing else.
    """
    requirements = (
        RoleRequirement.objects.filter(policy__project=OuterRef("project"))
        .order_by()
        .values("policy")
    )
    return releases.annotate(
        newest_event=Subquery(
            ReleaseEvent.objects.filter(release=OuterRef("pk"))
            .exclude(verb__in=ROW_BLIND_VERBS)
            .order_by("-pk")
            .values("pk")[:1]
        ),
        policy_expiry=Subquery(
            ApprovalPolicy.objects.filter(project=OuterRef("project")).values(
                "sign_off_expiry_days"
            )[:1]
        ),
        policy_roles=Subquery(requirements.annotate(n=Count("pk")).values("n")[:1]),
        policy_weight=Subquery(requirements.annotate(w=Sum(F("quorum") * F("pk"))).values("w")[:1]),
        newest_anywhere=Subquery(ReleaseEvent.objects.order_by("-pk").values("pk")[:1]),
        newest_project_event=Subquery(ProjectEvent.objects.order_by("-pk").values("pk")[:1]),
        newest_for_panels=Subquery(_panel_events().values("pk")[:1]),
    ).values(*VERSION_FIELDS)


@functools.cache
def _versioned() -> ReleaseQuerySet:
    return cast(ReleaseQuerySet, with_versions(Release.objects.all()))


def versioned_releases() -> ReleaseQuerySet:
    """Every release as ``with_versions`` values, to filter and order for one page.

    Building the seven sub-selects costs Django about 1.5 ms a request, as much as the rest of
    a cached dashboard's Python; the annotated queryset is built once per process and cloned
    for each request (as a class-based view's ``queryset`` is). Filters added to the clone go
    to the same WHERE: none of the annotations aggregates over the releases.
    """
    return _versioned().all()


def _panel_events() -> QuerySet[ReleaseEvent]:
    return ReleaseEvent.objects.exclude(verb__in=PANEL_BLIND_VERBS).order_by("-pk")


def _key(*parts: Any) -> str:
    return "gl:dash:" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:40]


def render_rows(releases: list[dict[str, Any]], *, now: dt.datetime | None = None) -> list[str]:
    """The table rows of one page (``with_versions`` values), from the cache where the release
    has not changed.

    Only the releases missing from the cache are loaded with ``with_row_data`` and have their
    readiness computed, so a page whose rows are all cached costs no query here and one that
    changed the usual fixed number.
    """
    now = now or timezone.now()
    minute = int(now.timestamp()) // 60
    keys = {
        r["pk"]: _key("row", *(r[name] for name in ROW_VERSION_FIELDS), minute) for r in releases
    }
    cached = cache.get_many(list(keys.values()))
    missing = [pk for pk, key in keys.items() if key not in cached]
    if missing:
        fresh = {}
        statuses = {r["pk"]: r["status"] for r in releases}
        loaded = with_row_data(
            Release.objects.filter(pk__in=missing),
            health_checks=any(statuses[pk] in HEALTH_STATUSES for pk in missing),
        )
        for row in load_rows(list(loaded), now=now):
            html = render_to_string("releases/dashboard.html#row", {"row": row})
            fresh[keys[row.release.pk]] = html
        cache.set_many(fresh, FRAGMENT_TTL)
        cached.update(fresh)
    # The HTML was rendered, and escaped, by our own template.
    return [mark_safe(cached[keys[r["pk"]]]) for r in releases]


def render_panel(user: Any, token: str) -> str:
    """The "needs my action" panel, rendered once per person and ``panel_token``."""
    key = _key("mine", user.pk, token)
    html = cache.get(key)
    if html is None:
        html = render_to_string("releases/dashboard.html#mine", {"mine": my_actions(user)})
        cache.set(key, html, FRAGMENT_TTL)
    return mark_safe(html)


def change_token(
    *, now: dt.datetime | None = None, releases: list[dict[str, Any]] | None = None
) -> str:
    """Changes whenever anything is logged anywhere, and once a minute for relative times.

    Every change a dashboard shows writes a ReleaseEvent (transitions, ticks, sign-offs, check
    status changes) or a ProjectEvent (approval policy, project roles: who is asked to sign or
    to accept a change request), so the newest ids of both are a cheap version number: one
    query of two index lookups, or none when ``releases`` come from ``with_versions``.
    """
    events = ReleaseEvent.objects.order_by("-pk")
    return _token("newest_anywhere", events, now=now, releases=releases)


def panel_token(
    *, now: dt.datetime | None = None, releases: list[dict[str, Any]] | None = None
) -> str:
    """Like ``change_token``, but blind to the events no panel shows (``PANEL_BLIND_VERBS``):
    a note on a release renders its row again, not every panel of everyone who sees it."""
    return _token("newest_for_panels", _panel_events(), now=now, releases=releases)


def _token(
    field: str,
    events: QuerySet[ReleaseEvent],
    *,
    now: dt.datetime | None,
    releases: list[dict[str, Any]] | None,
) -> str:
    now = now or timezone.now()
    if releases:
        newest, newest_project = releases[0][field], releases[0]["newest_project_event"]
    else:
        # Over the project events: every project logs its creation, so where there is a
        # release there is a project event.
        found = ProjectEvent.objects.order_by().aggregate(
            newest_project=Max("pk"), newest=Max(Subquery(events.values("pk")[:1]))
        )
        newest, newest_project = found["newest"], found["newest_project"]
    return f"{newest or 0}.{newest_project or 0}.{int(now.timestamp()) // 60}"
