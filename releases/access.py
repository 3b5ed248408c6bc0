"""Who may do what: the one place the HTML views, the API and the services ask.

Each rule (``LOCK_SCOPE``, ``CONFIGURE_MONITORING``, …, at the end of this module) is a
predicate with the sentence a refusal gives. The services ask it for people, the pages ask it to
show a button and answer 403 with its sentence, and the API answers 403 with the same sentence;
what the release's state does not allow, the services refuse (409).

Roles on a release come from its role assignments (which default from the project's members and
can be changed per release). A project's release managers manage all its releases. A superuser
may do everything. Anyone outside the project does not see the release at all (404, not 403).

API clients may also act with a project token (``ProjectTokenUser``): a machine scoped to one
project that reads everything of that project, creates releases, adds scope while planning and
reports check results, deploys, finished rollbacks and incidents — nothing that needs a
person's judgement or signature. For any other project it is an outsider.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, overload

from django.db.models import QuerySet
from django.http import Http404

from lib.errors import NotAllowed
from releases.models import (
    ChecklistItem,
    Health,
    Project,
    ProjectMembership,
    Release,
    ReleaseQuerySet,
    Role,
    ScopeChangeRequest,
    Status,
)


@dataclass(frozen=True)
class ProjectTokenUser:
    """Who is acting when a request carries a project token: a machine, not a person.

    It answers the few questions Django and DRF ask of ``request.user``; it never matches a
    membership, an assignment or a sign-off, so every rule that needs a person says no.
    """

    token_id: int
    project_id: int
    name: str

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    is_staff = False
    pk = None
    id = None

    @property
    def label(self) -> str:
        """How the event log names this actor (``releases.events.Actor`` accepts a string)."""
        return f"CI token {self.name}"

    def get_username(self) -> str:
        return self.label

    def __str__(self) -> str:
        return self.label


def is_person(user: Any) -> bool:
    """A signed-in human (session or personal token), as opposed to a project token."""
    return bool(user.is_authenticated and not isinstance(user, ProjectTokenUser))


def project_roles(user: Any, project: Project) -> frozenset[str]:
    if not is_person(user):
        return frozenset()
    # A set: unordered, so without the model's ordering, which joins the project and the user.
    return frozenset(
        ProjectMembership.objects.filter(project=project, user=user)
        .order_by()
        .values_list("role", flat=True)
    )


def is_project_member(user: Any, project: Project) -> bool:
    if isinstance(user, ProjectTokenUser):
        return user.project_id == project.pk
    return bool(user.is_authenticated and (user.is_superuser or project_roles(user, project)))


def can_manage_project(user: Any, project: Project) -> bool:
    """Release managers and administrators edit settings, members and checklists (a machine,
    named by its label, never does)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and (user.is_superuser or Role.RELEASE_MANAGER in project_roles(user, project))
    )


def can_configure_monitoring(user: Any, project: Project) -> bool:
    """Connecting CI and monitoring is DevOps' job: DevOps, release managers, administrators.
    Everyone else in the project reads the integrations and checks (never their credentials)."""
    return bool(
        user.is_authenticated
        and (
            user.is_superuser or project_roles(user, project) & {Role.RELEASE_MANAGER, Role.DEVOPS}
        )
    )


def can_create_project(user: Any) -> bool:
    """Superusers, and people given Django's ``releases.add_project`` permission (for example
    through a group in the admin). The creator becomes the project's release manager.

    Not everyone who can sign in: the creator may then add any person to the project with any
    role and hand out project tokens, which is the administrators' call, as it is in the admin.
    A project token never creates projects.
    """
    return is_person(user) and user.has_perm("releases.add_project")


def can_create_release(user: Any, project: Project) -> bool:
    """Release managers, and the project's own CI through its project token."""
    if isinstance(user, ProjectTokenUser):
        return user.project_id == project.pk
    return can_manage_project(user, project)


def visible_projects(user: Any) -> QuerySet[Project]:
    """The projects the user (or project token) may see at all."""
    if isinstance(user, ProjectTokenUser):
        return Project.objects.filter(pk=user.project_id)
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(
        pk__in=ProjectMembership.objects.filter(user=user).values("project_id")
    )


def visible_releases(user: Any, queryset: ReleaseQuerySet | None = None) -> ReleaseQuerySet:
    """Releases of the projects the user belongs to (everything for a superuser); a project
    token sees its project's.

    Membership is tested with a subquery instead of a join, so the list needs no DISTINCT and
    its plan does not grow with the number of members.
    """
    queryset = queryset if queryset is not None else Release.objects.all()
    if isinstance(user, ProjectTokenUser):
        return queryset.filter(project_id=user.project_id)
    if not user.is_authenticated:
        return queryset.none()
    if user.is_superuser:
        return queryset
    return queryset.filter(
        project_id__in=ProjectMembership.objects.filter(user=user).values("project_id")
    )


def get_project_for(user: Any, slug: str) -> Project:
    """The project if the user may see it, else 404 (outsiders learn nothing)."""
    # PostgreSQL text cannot hold NUL; such a name matches no project.
    project = None if "\x00" in slug else Project.objects.filter(slug=slug).first()
    if project is None or not is_project_member(user, project):
        raise Http404("No such project.")
    return project


@dataclass
class ReleaseAccess:
    """One user's rights on one release, computed from rows loaded once."""

    user: Any
    release: Release
    roles: frozenset[str] = field(default_factory=frozenset)
    project_roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_superuser(self) -> bool:
        return bool(self.user.is_superuser)

    @property
    def can_view(self) -> bool:
        return self.is_superuser or bool(self.project_roles or self.roles)

    @property
    def is_manager(self) -> bool:
        return (
            self.is_superuser
            or Role.RELEASE_MANAGER in self.roles
            or Role.RELEASE_MANAGER in self.project_roles
        )

    @property
    def acting_roles(self) -> frozenset[str]:
        """Roles that may change something (everything but viewer)."""
        return self.roles - {Role.VIEWER}

    @property
    def is_read_only(self) -> bool:
        return not (self.is_manager or self.acting_roles)

    # Who may do something at all, whatever the release's state. The API checks these and
    # lets the service refuse what the state does not allow (409 with the reason); the pages
    # use the ``can_*`` forms below, which add the state, to offer only what can be done now.

    @property
    def edits_scope(self) -> bool:
        return self.is_manager or bool(self.roles & {Role.PRODUCT, Role.DEV})

    @property
    def requests_scope_changes(self) -> bool:
        return self.is_manager or bool(self.acting_roles)

    def ticks(self, item: ChecklistItem) -> bool:
        return self.is_manager or item.owner_role in self.roles

    def signs_as(self, role: str) -> bool:
        return role in self.roles and role != Role.VIEWER

    @property
    def edits_rollback_plan(self) -> bool:
        return self.is_manager or Role.DEVOPS in self.roles

    @property
    def writes_review(self) -> bool:
        return self.is_manager or bool(self.acting_roles)

    @property
    def resolves_risks(self) -> bool:
        return self.is_manager or Role.PRODUCT in self.roles

    @property
    def reports_check_results(self) -> bool:
        """Post what CI or monitoring observed: release manager, DevOps (and project tokens)."""
        return self.is_manager or Role.DEVOPS in self.roles

    @property
    def edits_checks(self) -> bool:
        return self.is_manager or Role.DEVOPS in self.roles

    @property
    def reports_deploys(self) -> bool:
        """Say a deploy started, finished or failed: release manager, DevOps, the project's CI."""
        return self.can_deploy

    @property
    def finishes_rollbacks(self) -> bool:
        """Say a rollback is done: whoever may roll back, and the project's CI."""
        return self.can_roll_back

    @property
    def records_incidents(self) -> bool:
        """Record what went wrong after the deploy: release manager, DevOps, QA (and the
        project's token, for the incident tools that report through it)."""
        return self.is_manager or bool(self.roles & {Role.DEVOPS, Role.QA})

    @property
    def judges_checks(self) -> bool:
        """Resolve a check the machines could not decide: release manager, DevOps, QA."""
        return self.is_manager or bool(self.roles & {Role.DEVOPS, Role.QA})

    # What may be done now.

    @property
    def can_edit_release(self) -> bool:
        return EDIT_RELEASE.allows(self) and self.release.is_active

    @property
    def can_edit_scope(self) -> bool:
        """Direct scope edits while planning: release manager, product, developers."""
        return self.release.status == Status.PLANNING and EDIT_SCOPE.allows(self)

    @property
    def can_request_scope_change(self) -> bool:
        return self.release.status in (
            Status.FROZEN,
            Status.APPROVED,
        ) and REQUEST_SCOPE_CHANGE.allows(self)

    def can_decide_change_request(self, request: ScopeChangeRequest) -> bool:
        """Product and the release manager each accept; neither may accept their own request."""
        if request.state != ScopeChangeRequest.State.PENDING:
            return False
        if request.requested_by_id == self.user.pk:
            return False
        return self.is_manager or Role.PRODUCT in self.roles

    def can_accept_change_as(self, request: ScopeChangeRequest) -> list[str]:
        """The acceptances (product, release_manager) this person may give on a request."""
        if not self.can_decide_change_request(request):
            return []
        roles = []
        if Role.PRODUCT in self.roles:
            roles.append(Role.PRODUCT.value)
        if self.is_manager:
            roles.append(Role.RELEASE_MANAGER.value)
        return roles

    def can_tick(self, item: ChecklistItem) -> bool:
        return self.release.is_active and TICK.allows(self, item)

    def can_sign_as(self, role: str) -> bool:
        return self.release.is_active and self.signs_as(role)

    @property
    def signing_roles(self) -> list[str]:
        return sorted(self.acting_roles)

    @property
    def can_edit_rollback_plan(self) -> bool:
        return self.release.is_active and EDIT_ROLLBACK_PLAN.allows(self)

    @property
    def can_deploy(self) -> bool:
        return self.is_manager or Role.DEVOPS in self.roles

    @property
    def can_override_deploy_guards(self) -> bool:
        """Starting a deploy inside a freeze window or off the planned day: release manager."""
        return self.is_manager

    @property
    def can_roll_back(self) -> bool:
        decider = getattr(getattr(self.release, "rollback_plan", None), "decider_id", None)
        return (
            self.is_manager
            or Role.DEVOPS in self.roles
            or (decider is not None and decider == self.user.pk)
        )

    @property
    def can_write_review(self) -> bool:
        return self.release.status in (Status.RELEASED, Status.ROLLED_BACK) and WRITE_REVIEW.allows(
            self
        )

    @property
    def can_record_incident(self) -> bool:
        """Incidents belong to a release that reached production: from the deploy start on."""
        return self.release.has_been_deployed and RECORD_INCIDENT.allows(self)

    @property
    def can_add_note(self) -> bool:
        return self.is_manager or bool(self.acting_roles)

    @property
    def can_edit_checks(self) -> bool:
        """Add, change or remove the release's checks: DevOps connects CI and monitoring."""
        return self.release.is_active and EDIT_CHECKS.allows(self)

    @property
    def can_resolve_risk(self) -> bool:
        return self.release.is_active and RESOLVE_RISK.allows(self)

    @property
    def can_judge_checks(self) -> bool:
        """Resolve a check the machines could not decide, to pass or fail with a reason."""
        return self.release.is_active and JUDGE_CHECKS.allows(self)

    # The lifecycle actions offered right now: the rule (defined below, with its sentence) and
    # the current status together, so a page shows a button only when pressing it can work.
    # Pressing it anyway asks the same rule, then the service, which re-checks the state.

    @property
    def can_lock_scope(self) -> bool:
        return LOCK_SCOPE.allows(self) and self.release.status == Status.PLANNING

    @property
    def can_cancel(self) -> bool:
        return CANCEL.allows(self) and self.release.status in (
            Status.PLANNING,
            Status.FROZEN,
            Status.APPROVED,
        )

    @property
    def can_open_poll(self) -> bool:
        return (
            self.is_manager
            and self.release.status == Status.FROZEN
            and self.release.poll_opened_at is None
        )

    def can_record_decision(self, decider_role: str) -> bool:
        """The approval policy's decider records the go/no-go (assigned, or by project role)."""
        return self.release.status in (Status.FROZEN, Status.APPROVED) and (
            self.is_superuser or decider_role in self.roles or decider_role in self.project_roles
        )

    @property
    def can_start_deploy(self) -> bool:
        return START_DEPLOY.allows(self) and self.release.status == Status.APPROVED

    @property
    def can_finish_deploy(self) -> bool:
        return FINISH_DEPLOY.allows(self) and self.release.status == Status.DEPLOYING

    @property
    def can_complete(self) -> bool:
        return COMPLETE.allows(self) and self.release.status == Status.MONITORING

    @property
    def can_roll_back_now(self) -> bool:
        return ROLL_BACK.allows(self) and self.release.status in (
            Status.DEPLOYING,
            Status.MONITORING,
        )

    @property
    def can_restore_health(self) -> bool:
        """Judge an unhealthy release healthy again (the checks that decide must pass)."""
        return (
            RESTORE_HEALTH.allows(self)
            and self.release.status in (Status.DEPLOYING, Status.MONITORING)
            and self.release.health == Health.UNHEALTHY
        )

    @property
    def can_finish_rollback(self) -> bool:
        """Record by hand that the rollback is done (CI may report it too)."""
        return (
            FINISH_ROLLBACK.allows(self)
            and self.release.status == Status.ROLLED_BACK
            and self.release.rollback_finished_at is None
        )

    @property
    def can_carry_scope_forward(self) -> bool:
        """Start the next release with a rolled-back release's scope: a new release, so the
        release manager's call."""
        return (
            CARRY_FORWARD.allows(self)
            and self.release.status == Status.ROLLED_BACK
            and self.release.carried_into_id is None
        )

    @property
    def can_assign_roles(self) -> bool:
        return ASSIGN_ROLES.allows(self) and self.release.is_active

    @property
    def sign_now_roles(self) -> list[str]:
        """Roles this person can give a go/no-go for at this moment."""
        if self.release.status not in (Status.FROZEN, Status.APPROVED):
            return []
        return [role for role in self.signing_roles if self.can_sign_as(role)]

    def change_request_role(self, request: ScopeChangeRequest) -> str | None:
        """The one acceptance a page offers this person on a request, or None.

        Someone who is both Product and release manager accepts the side still missing, and
        never both sides of one request (the service refuses the second).
        """
        for role in self.can_accept_change_as(request):
            if role == Role.PRODUCT:
                missing = request.product_approved_at is None
                other = request.manager_approved_by_id
            else:
                missing = request.manager_approved_at is None
                other = request.product_approved_by_id
            if missing and other != self.user.pk:
                return role
        return None

    def accepting_role(self, request: ScopeChangeRequest) -> str:
        """The side this person accepts a request as: the one a page offers, else the role they
        would act in, so the service refuses with the reason that applies (their own request,
        a side already accepted, a role they do not hold)."""
        offered = self.change_request_role(request)
        if offered is not None:
            return offered
        return Role.RELEASE_MANAGER.value if self.is_manager else Role.PRODUCT.value

    def can_withdraw_change_request(self, request: ScopeChangeRequest) -> bool:
        return (
            request.state == ScopeChangeRequest.State.PENDING
            and request.requested_by_id == self.user.pk
        )


@dataclass
class ProjectTokenAccess(ReleaseAccess):
    """A project token's rights on one release of its project: read everything, add scope
    while planning, report check results and deploys. Everything else is a person's call."""

    @property
    def can_view(self) -> bool:
        return self.release.project_id == self.user.project_id

    @property
    def edits_scope(self) -> bool:
        return self.can_view

    @property
    def reports_check_results(self) -> bool:
        return self.can_view

    @property
    def reports_deploys(self) -> bool:
        return self.can_view

    @property
    def finishes_rollbacks(self) -> bool:
        return self.can_view

    @property
    def records_incidents(self) -> bool:
        return self.can_view

    def can_decide_change_request(self, request: ScopeChangeRequest) -> bool:
        return False


def access_for(user: Any, release: Release) -> ReleaseAccess:
    if isinstance(user, ProjectTokenUser):
        return ProjectTokenAccess(user=user, release=release)
    if not user.is_authenticated:
        return ReleaseAccess(user=user, release=release)
    roles = frozenset(
        release.assignments.filter(user=user).order_by().values_list("role", flat=True)
        if not hasattr(release, "_prefetched_objects_cache")
        or "assignments" not in release._prefetched_objects_cache
        else [a.role for a in release.assignments.all() if a.user_id == user.pk]
    )
    return ReleaseAccess(
        user=user,
        release=release,
        roles=roles,
        project_roles=project_roles(user, release.project),
    )


@overload
def get_release_for(user: Any, pk: int) -> tuple[Release, ReleaseAccess]: ...
@overload
def get_release_for[R: Release](
    user: Any, pk: int, queryset: QuerySet[R]
) -> tuple[R, ReleaseAccess]: ...
def get_release_for(user: Any, pk: int, queryset: Any = None) -> tuple[Release, ReleaseAccess]:
    """The release if the user may see it, else 404 (outsiders learn nothing, not even 403)."""
    queryset = queryset if queryset is not None else Release.objects.select_related("project")
    try:
        release = queryset.get(pk=pk)
    except (Release.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such release.") from exc
    access = access_for(user, release)
    if not access.can_view:
        raise Http404("No such release.")
    return release, access


# --- rules ----------------------------------------------------------------------------------
#
# Each rule says who may do something, whatever the release's state, and the sentence a refusal
# gives. The pages, the API and the services ask the same rule, so a person gets the same answer
# (and the same words) through every door; what the state allows is the services' to refuse.


@dataclass(frozen=True)
class Rule:
    """Who may do one thing, and the sentence that explains a refusal."""

    test: Callable[..., bool]
    refusal: str

    def allows(self, *subject: Any) -> bool:
        return bool(self.test(*subject))

    def check(self, *subject: Any) -> None:
        """Raise ``NotAllowed`` with the rule's sentence (403 in both doors)."""
        if not self.allows(*subject):
            raise NotAllowed(self.refusal)


# On whoever asks: ``rule.check(user)``.
OWN_INBOX = Rule(
    is_person,
    "This belongs to a person: sign in or use a personal token, not a project token.",
)

# On a project: ``rule.check(user, project)``.
CREATE_PROJECT = Rule(
    can_create_project, "Only administrators, and people they allow to, create projects."
)
MANAGE_PROJECT = Rule(
    can_manage_project, "Only the project's release managers change its settings."
)
CREATE_RELEASE = Rule(
    can_create_release,
    "Only the project's release managers (or its project token) create releases.",
)
SEE_ROLLBACK_SECRET = Rule(
    can_manage_project, "Only the project's release managers see the rollback webhook secret."
)
CHANGE_ROLLBACK_SECRET = Rule(
    can_manage_project, "Only the project's release managers change the rollback webhook secret."
)
MANAGE_CALENDAR_FEED = Rule(
    can_manage_project,
    "Only the project's release managers open, rotate or revoke its calendar address.",
)
CONFIGURE_MONITORING = Rule(
    can_configure_monitoring,
    "Only DevOps and the project's release managers configure integrations and checks.",
)

# On a release: ``rule.check(access)``.
EDIT_RELEASE = Rule(lambda a: a.is_manager, "Only a release manager edits a release.")
LOCK_SCOPE = Rule(lambda a: a.is_manager, "Only a release manager locks the scope.")
CANCEL = Rule(lambda a: a.is_manager, "Only a release manager cancels a release.")
START_DEPLOY = Rule(lambda a: a.can_deploy, "Only DevOps or a release manager starts a deploy.")
OVERRIDE_DEPLOY_GUARDS = Rule(
    lambda a: a.can_override_deploy_guards,
    "Only a release manager overrides a freeze window or the planned deploy time.",
)
FINISH_DEPLOY = Rule(
    lambda a: a.can_deploy, "Only DevOps or a release manager marks the deploy done."
)
REPORT_DEPLOY = Rule(
    lambda a: a.reports_deploys, "Only DevOps, a release manager or CI report deploys."
)
COMPLETE = Rule(lambda a: a.is_manager, "Only a release manager marks a release released.")
RESTORE_HEALTH = Rule(
    lambda a: a.can_roll_back,
    "Only DevOps, a release manager or the rollback plan's decider judge a release's health.",
)
ROLL_BACK = Rule(
    lambda a: a.can_roll_back,
    "Only DevOps, a release manager or the rollback plan's decider roll back.",
)
FINISH_ROLLBACK = Rule(
    lambda a: a.finishes_rollbacks,
    "Only whoever may roll back, or CI, records that the rollback finished.",
)
CARRY_FORWARD = Rule(
    lambda a: a.is_manager,
    "Only a release manager carries the scope of a rolled-back release into a new one.",
)
EDIT_SCOPE = Rule(
    lambda a: a.edits_scope, "Only Product, developers and the release manager edit the scope."
)
REQUEST_SCOPE_CHANGE = Rule(
    lambda a: is_person(a.user) and a.requests_scope_changes,
    "Only the people working on the release request scope changes.",
)
RESOLVE_RISK = Rule(
    lambda a: a.resolves_risks, "Only Product or the release manager resolve a risk."
)
ASSIGN_ROLES = Rule(lambda a: a.is_manager, "Only a release manager changes who holds which role.")
EDIT_ROLLBACK_PLAN = Rule(
    lambda a: a.edits_rollback_plan, "Only DevOps and the release manager keep the rollback plan."
)
ADD_NOTE = Rule(lambda a: a.can_add_note, "Viewers read the timeline; they do not write in it.")
WRITE_REVIEW = Rule(
    lambda a: a.writes_review, "Only the people working on the release write its review."
)
EDIT_CHECKS = Rule(
    lambda a: is_person(a.user) and a.edits_checks,
    "Only DevOps and the release manager change a release's checks.",
)
REPORT_CHECK_RESULTS = Rule(
    lambda a: a.reports_check_results,
    "Only the release manager, DevOps or the project's token report check results.",
)
RECORD_INCIDENT = Rule(
    lambda a: a.records_incidents,
    "Only the release manager, DevOps, QA or the project's token record incidents.",
)
JUDGE_CHECKS = Rule(
    lambda a: is_person(a.user) and a.judges_checks,
    "Only the release manager, DevOps and QA judge checks.",
)
TICK = Rule(
    lambda a, item: a.ticks(item),
    "Only the item's owner role or the release manager ticks or unticks it.",
)
COMPLETE_REVIEW_ACTION = Rule(
    lambda a, action: a.writes_review or (is_person(a.user) and action.owner_id == a.user.pk),
    "Only the people working on the release, or the action's owner, mark it done.",
)
NAME_FLAGS = Rule(
    lambda a: is_person(a.user) and (a.edits_scope or a.edits_checks),
    "Only Product, developers, DevOps and the release manager name a scope item's feature flag.",
)
SWITCH_FLAGS = Rule(
    lambda a: is_person(a.user) and a.can_roll_back,
    "Only DevOps, a release manager or the rollback plan's decider switch a feature flag off.",
)
# Changes to locked scope: the services hold these rules (who asked, who accepted already),
# so both doors call the service and show its sentence.
# Sign-offs, the go/no-go poll and decisions: the approval services hold those rules (who is
# assigned, who decides under the project's policy); the doors only keep machines out.
WITHDRAW_SIGN_OFF = Rule(
    lambda a, role: is_person(a.user) and a.signs_as(role),
    "Only someone assigned a role withdraws a sign-off for it.",
)
PEOPLE_ONLY = Rule(
    lambda a: is_person(a.user), "A person does this, with their own judgement, not a token."
)


def check_person(rule: Rule, by: Any, release: Release) -> None:
    """The services' guard: a person is asked the rule. A machine (a project token's label,
    the scheduler) is not a person to ask; its own door let it in."""
    if getattr(by, "is_authenticated", False) and not isinstance(by, ProjectTokenUser):
        rule.check(access_for(by, release))
