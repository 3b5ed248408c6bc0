"""Everything the release page shows, loaded in a fixed number of queries.

``ReleasePage`` computes each section's data lazily, so a request that renders one section (an
htmx swap or a live refresh) only pays for that section. Per-row permissions are worked out here
(``item.can_tick``…) because templates cannot call ``access.can_tick(item)``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from django import forms as django_forms
from django.contrib.messages import get_messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from approvals.forms import DecisionForm, SignOffForm
from approvals.models import SIGNER_DECIDES, SignOff
from approvals.readiness import (
    compute_readiness,
    policy_for,
    required_roles,
    with_readiness_data,
)
from approvals.services.decisions import poll_refusal
from approvals.services.deploy import deploy_blockers
from lib.shown import show_with
from monitoring.forms import RollbackTriggerChangeForm, RollbackTriggerForm
from monitoring.models import Check, CheckPhase, RollbackTrigger
from monitoring.services import health
from releases import forms
from releases.access import ReleaseAccess, get_release_for
from releases.models import (
    Health,
    Incident,
    Phase,
    Release,
    Review,
    Role,
    RoleAssignment,
    ScopeChangeRequest,
    ScopeItem,
    Status,
    is_late,
)
from releases.release_notes import render_release_notes
from releases.services import lifecycle
from releases.services.lifecycle import release_time_to_restore
from workspace.release_version import release_token, token_of
from workspace.review import review_facts

if TYPE_CHECKING:
    from approvals.readiness import LoadedRelease

SECTIONS = (
    "header",
    "deploy",
    "scope",
    "checklists",
    "signoffs",
    "checks",
    "rollback",
    "incidents",
    "notes",
    "events",
    "review",
)
# Who stands by while the release is deployed: the roster the deploy start notifies.
STANDBY_ROLES = (
    (Role.DEV, "Developers"),
    (Role.DEVOPS, "DevOps"),
    (Role.RELEASE_MANAGER, "Release manager"),
)
EVENTS_SHOWN = 30
CLOSED_REQUESTS_SHOWN = 10


def page_queryset() -> QuerySet[LoadedRelease]:
    return (
        with_readiness_data(Release.objects.all())
        .select_related(
            "rollback_plan__decider", "created_by", "rollback_decided_by", "carried_into"
        )
        .prefetch_related(
            "scope_items__owner",
            "checklist_items__ticked_by",
            Prefetch("assignments", queryset=RoleAssignment.objects.select_related("user")),
        )
    )


def load(user: Any, pk: int) -> tuple[LoadedRelease, ReleaseAccess]:
    """The release with everything the page reads, or 404 for anyone outside its project."""
    return get_release_for(user, pk, queryset=page_queryset())


@dataclass
class PersonSignOff:
    user: Any
    sign_off: SignOff | None
    stale: bool

    @property
    def state(self) -> str:
        if self.sign_off is None:
            return "waiting"
        if self.stale:
            return "stale"
        return self.sign_off.decision


@dataclass
class RoleRow:
    role: str
    label: str
    quorum: int
    state: str
    people: list[PersonSignOff]
    mine: bool
    my_sign_off: SignOff | None
    form: Any
    # While the deploy runs a No-go is still heard (the deciders are told); a Go is not asked.
    no_go_only: bool = False
    # Why the service would refuse this person's sign-off for the role: the buttons wait.
    refusal: str = ""


@dataclass
class Action:
    name: str
    label: str
    style: str = ""
    fields: Any = None  # a form whose fields the button needs (reason, override)
    note: str = ""
    disabled: bool = False  # shown with the reason it cannot be pressed yet


class ReleasePage:
    def __init__(
        self,
        request: HttpRequest,
        release: LoadedRelease,
        access: ReleaseAccess,
        *,
        section: str = "",
        failed: tuple[str, Any] | None = None,
        problem: str = "",
        notice: str = "",
        now: dt.datetime | None = None,
        version: tuple[Any, ...] | None = None,
    ) -> None:
        self.request = request
        self.release = release
        self.access = access
        self.section = section
        self.failed_key: str | None
        self.failed_form: Any
        self.failed_key, self.failed_form = failed or (None, None)
        self.problem = problem
        self.notice = notice
        self.now = now or timezone.now()
        # What the release's page version was before its data was read, if it was.
        self.version = version
        # Each piece of the page as HTML, by name, once ``release_cache`` has rendered them.
        self.pieces: dict[str, str] = {}

    @property
    def is_loaded(self) -> bool:
        """Whether the release came with everything the sections read (``page_queryset``)."""
        return "checklist_items" in getattr(self.release, "_prefetched_objects_cache", {})

    def load(self) -> None:
        """Load everything the sections read, for a page made from a release loaded for its
        access alone (the cache had some of its pieces, not all)."""
        if not self.is_loaded:
            self.release = page_queryset().get(pk=self.release.pk)
            self.access = replace(self.access, release=self.release)

    @property
    def version_known(self) -> bool:
        """Whether the page's version was read (``release_version.page_version``)."""
        return self.version is not None

    # --- flash messages: a plain POST redirects back with a message tagged with its section ---

    @cached_property
    def _messages(self) -> list[Any]:
        return list(get_messages(self.request))

    @cached_property
    def flashes(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for message in self._messages:
            for tag in message.extra_tags.split():
                if tag.startswith("section-"):
                    found.setdefault(tag.removeprefix("section-"), []).append(message)
        return found

    @cached_property
    def top_messages(self) -> list[Any]:
        return [m for m in self._messages if "section-" not in m.extra_tags]

    def bound(self, key: str) -> Any:
        return self.failed_form if key == self.failed_key else None

    @cached_property
    def token(self) -> str:
        if self.version is not None:
            return token_of(self.version)
        return release_token(self.release.pk)

    # --- header ---

    @cached_property
    def readiness(self) -> Any:
        return compute_readiness(self.release, now=self.now)

    @cached_property
    def policy(self) -> Any:
        return getattr(self.release.project, "approval_policy", None)

    @cached_property
    def decider_role(self) -> str:
        return self.policy.decider_role if self.policy else Role.RELEASE_MANAGER

    @cached_property
    def poll_refusal(self) -> str:
        """Why the policy keeps the poll closed, in ``open_poll``'s words; "" when it opens."""
        return poll_refusal(self.release, self.effective_policy)

    @cached_property
    def can_decide(self) -> bool:
        return self.access.can_record_decision(self.decider_role)

    @cached_property
    def go_override_refusal(self) -> str:
        """Why this decider may not record a Go over the current blockers (approval policy)."""
        if self.readiness.ready:
            return ""
        refusal = self.effective_policy.override_refusal(
            self.readiness.override_categories,
            is_admin=self.access.is_superuser,
            is_release_manager=self.access.is_manager,
        )
        return refusal[0] if refusal is not None else ""

    @cached_property
    def decide_refusal(self) -> str:
        """The approval policy's sentence when this decider signed off and so may not decide."""
        signers = {s.user_id for s in self.release.current_sign_offs if s.withdrawn_at is None}
        if self.effective_policy.signer_may_decide(self.request.user, signers):
            return ""
        return SIGNER_DECIDES

    @cached_property
    def milestones(self) -> list[dict[str, Any]]:
        rows = []
        for label, planned, actual in self.release.milestones():
            late = is_late(planned, actual)
            overdue = bool(planned and not actual and planned < self.now and self.release.is_active)
            rows.append(
                {
                    "label": label,
                    "planned": planned,
                    "actual": actual,
                    "late": late,
                    "overdue": overdue,
                }
            )
        return rows

    @cached_property
    def deploy_blockers(self) -> list[Any]:
        """Why a deploy now needs an override: the service's own list."""
        return deploy_blockers(self.release, now=self.now, readiness=self.readiness)

    @cached_property
    def freeze_problems(self) -> list[str]:
        return [b.message for b in self.deploy_blockers]

    @cached_property
    def effective_policy(self) -> Any:
        """The policy the services apply (the defaults when the project has none yet)."""
        return self.policy or policy_for(self.release.project)

    @cached_property
    def overrides(self) -> list[dict[str, Any]]:
        """Every time someone broke glass on this release: kept on the page for good."""
        if not self.release.override_used:
            return []
        events = self.release.events.filter(
            verb__in=["decision_override", "deploy_started"]
        ).select_related("actor")
        return [
            {
                "at": event.created_at,
                "by": event.actor_name,
                "what": "Go" if event.verb == "decision_override" else "Deploy",
                "reason": event.data["override_reason"],
                "over": event.data.get("blockers") or event.data.get("overridden") or [],
            }
            for event in events
            if event.data.get("override_reason")
        ]

    @cached_property
    def relaxed_rules(self) -> list[str]:
        """Approval rules the project switched off: shown on every release they affect."""
        return self.effective_policy.relaxed_rules()

    @cached_property
    def actions(self) -> list[Action]:
        """The lifecycle buttons this person may press now; the server re-checks on POST."""
        a, found = self.access, []
        if a.can_lock_scope:
            # The same refusal ``lock_scope`` gives: an empty scope, open change requests.
            refusal = lifecycle.lock_scope_refusal(
                included=self.scope_counts["included"],
                pending=len(self.change_requests["pending"]),
            )
            found.append(
                Action("lock_scope", "Lock scope", "primary", note=refusal, disabled=bool(refusal))
            )
        if a.can_start_deploy:
            problems = "; ".join(self.freeze_problems)
            refusal = self.effective_policy.override_refusal(
                list(dict.fromkeys(str(b.override_category) for b in self.deploy_blockers)),
                is_admin=a.is_superuser,
                is_release_manager=a.is_manager,
            )
            if not problems:
                found.append(Action("start_deploy", "Start deploy", "primary"))
            elif refusal is None:
                form = self.bound("start_deploy") or forms.StartDeployForm(auto_id="id_deploy_%s")
                found.append(
                    Action("start_deploy", "Start deploy", "primary", fields=form, note=problems)
                )
            else:
                found.append(
                    Action(
                        "start_deploy",
                        "Start deploy",
                        "primary",
                        note=f"Not now: {problems}. {refusal[0]}",
                        disabled=True,
                    )
                )
        if a.can_finish_deploy:
            # The same refusal ``finish_deploy`` gives: the button waits for the open items.
            refusal = lifecycle.deploy_done_refusal(self.release.checklist_items.all())
            found.append(
                Action(
                    "finish_deploy", "Deploy done", "primary", note=refusal, disabled=bool(refusal)
                )
            )
        if a.can_complete:
            # The same reasons ``release_if_healthy`` refuses with: the button waits for them.
            blockers = health.health_blockers(self.release, now=self.now)
            note = f"Not yet: {'; '.join(blockers)}." if blockers else ""
            found.append(
                Action("complete", "Mark released", "primary", note=note, disabled=bool(blockers))
            )
        if a.can_restore_health:
            # The same refusal ``restore_health`` gives while a check that decides still fails.
            refusal = health.restore_refusal(
                self.post_release_checks,
                triggered={t.check_ref_id for t in self.rollback_triggers},
            )
            form = self.bound("restore_health") or forms.ReasonForm(auto_id="id_restore_%s")
            found.append(
                Action("restore_health", "Healthy again", "secondary", note=refusal, disabled=True)
                if refusal
                else Action(
                    "restore_health",
                    "Healthy again",
                    "secondary",
                    fields=form,
                    note="Once the checks that failed pass again: say why it is well.",
                )
            )
        if a.can_roll_back_now:
            form = self.bound("roll_back") or forms.ReasonForm(auto_id="id_rollback_%s")
            found.append(Action("roll_back", "Roll back", "danger", fields=form))
        if a.can_cancel:
            form = self.bound("cancel") or forms.ReasonForm(auto_id="id_cancel_%s")
            found.append(Action("cancel", "Cancel release", "danger", fields=form))
        if a.can_finish_rollback:
            form = self.bound("finish_rollback") or forms.FinishRollbackForm(
                auto_id="id_finish_rollback_%s"
            )
            found.append(Action("finish_rollback", "Rollback finished", "primary", fields=form))
        if a.can_carry_scope_forward:
            form = self.bound("carry_forward") or forms.CarryForwardForm(auto_id="id_carry_%s")
            found.append(
                Action(
                    "carry_forward",
                    "Carry the scope into a new release",
                    "secondary",
                    fields=form,
                    note=f"The {self.scope_counts['included']} included items move to a new "
                    "release in planning, with the same kind and git ref.",
                )
            )
        return found

    @cached_property
    def time_to_restore(self) -> dt.timedelta | None:
        return release_time_to_restore(self.release)

    # --- the deploy window and who stands by for it ---

    @cached_property
    def roster(self) -> list[dict[str, Any]]:
        """Who is on standby for the deploy window, from the assignments already loaded."""
        assignments = list(self.release.assignments.all())
        rows = [
            {"label": label, "people": [a.user for a in assignments if a.role == role]}
            for role, label in STANDBY_ROLES
        ]
        decider = self.rollback_plan.decider if self.rollback_plan else None
        rows.append(
            {
                "label": "Rollback decider",
                "people": [decider] if decider else [],
                "note": "makes the rollback call",
            }
        )
        return rows

    @cached_property
    def monitoring_window(self) -> dt.timedelta:
        return self.release.project.monitoring_window(self.release.kind)

    # --- scope ---

    @cached_property
    def members(self) -> list[Any]:
        return list(forms.members_of(self.release.project))

    def _people(self, form: Any, *names: str) -> Any:
        """Fill the person pickers from the members already loaded, not a query per form."""
        if not form.is_bound:
            choices = [("", "---------")] + [(m.pk, forms.person_label(m)) for m in self.members]
            for name in names:
                form.fields[name].choices = choices
        return form

    @cached_property
    def scope_groups(self) -> list[tuple[str, list[ScopeItem]]]:
        items = list(self.release.scope_items.all())
        for item in items:
            show_with(
                item,
                can_resolve=item.is_open_blocker and self.access.can_resolve_risk,
                form_prefix=f"item{item.pk}",
                edit_bound=self.bound(f"scope-{item.pk}"),
                resolve_bound=self.bound(f"resolve-{item.pk}"),
            )
        return [
            (label, [i for i in items if i.kind == kind])
            for kind, label in ScopeItem.Kind.choices
            if any(i.kind == kind for i in items)
        ]

    scope_kinds = ScopeItem.Kind.choices
    scope_risks = ScopeItem.Risk.choices

    @cached_property
    def scope_form(self) -> Any:
        return self.bound("scope-new") or self._people(
            forms.ScopeItemForm(project=self.release.project, auto_id="id_scope_%s"), "owner"
        )

    @cached_property
    def change_form(self) -> Any:
        bound = self.bound("change-request")
        if bound is not None:
            return bound
        form = forms.ChangeRequestForm(release=self.release, auto_id="id_change_%s")
        # The included items come from those already loaded, not a query of their own.
        field = cast(django_forms.ModelChoiceField, form.fields["scope_item"])
        field.choices = [("", field.empty_label)] + [
            (item.pk, str(item))
            for item in self.release.scope_items.all()
            if item.state == ScopeItem.State.INCLUDED
        ]
        return form

    @cached_property
    def change_requests(self) -> dict[str, list[ScopeChangeRequest]]:
        requests = list(
            self.release.change_requests.select_related(
                "requested_by",
                "scope_item",
                "product_approved_by",
                "manager_approved_by",
                "decided_by",
            )
        )
        for request in requests:
            accept_as = self.access.change_request_role(request)
            show_with(
                request,
                accept_as=accept_as,
                accept_as_label=Role(accept_as).label if accept_as else "",
                can_reject=self.access.can_decide_change_request(request),
                can_withdraw=self.access.can_withdraw_change_request(request),
                reject_bound=self.bound(f"reject-{request.pk}"),
            )
        pending = [r for r in requests if r.state == ScopeChangeRequest.State.PENDING]
        closed = [r for r in requests if r.state != ScopeChangeRequest.State.PENDING]
        return {"pending": pending, "closed": closed[:CLOSED_REQUESTS_SHOWN]}

    @cached_property
    def scope_counts(self) -> dict[str, int]:
        items = list(self.release.scope_items.all())
        included = [i for i in items if i.state == ScopeItem.State.INCLUDED]
        return {
            "included": len(included),
            "deferred": len(items) - len(included),
            "late": sum(1 for i in included if i.added_after_freeze),
        }

    # --- checklists ---

    @cached_property
    def checklist_groups(self) -> list[dict[str, Any]]:
        items = list(self.release.checklist_items.all())
        role_order = list(Role.values)
        due: dict[str, bool] = {
            Phase.READINESS: self.release.status
            in (Status.PLANNING, Status.FROZEN, Status.APPROVED),
            Phase.DEPLOYMENT: self.release.status in (Status.APPROVED, Status.DEPLOYING),
            Phase.POST_RELEASE: self.release.status == Status.MONITORING,
        }
        needed_before: dict[str, str] = {
            Phase.READINESS: "needed before the go/no-go",
            Phase.DEPLOYMENT: "needed before the deploy is done",
            Phase.POST_RELEASE: "needed before the release is marked released",
        }
        groups = []
        for phase, label in Phase.choices:
            in_phase = [i for i in items if i.phase == phase]
            if not in_phase:
                continue
            for item in in_phase:
                show_with(
                    item,
                    can_tick=self.access.can_tick(item),
                    bound=self.bound(f"tick-{item.pk}") or self.bound(f"untick-{item.pk}"),
                )
            owners = sorted({i.owner_role for i in in_phase}, key=role_order.index)
            done = sum(1 for i in in_phase if i.is_ticked)
            required_open = any(i.required and not i.is_ticked for i in in_phase)
            groups.append(
                {
                    "phase": phase,
                    "label": label,
                    "due": due[phase],
                    "due_note": needed_before[phase] if due[phase] and required_open else "",
                    "done": done,
                    "total": len(in_phase),
                    "owners": [
                        (Role(role).label, [i for i in in_phase if i.owner_role == role])
                        for role in owners
                    ],
                }
            )
        return groups

    # --- go/no-go ---

    @cached_property
    def role_rows(self) -> list[RoleRow]:
        _quorum, expiry = required_roles(self.release)
        assignments = list(self.release.assignments.all())
        sign_offs = [s for s in self.release.current_sign_offs if s.withdrawn_at is None]
        mine_now = set(self.access.sign_now_roles)
        rows = []
        for state in self.readiness.roles:
            people = []
            for assignment in assignments:
                if assignment.role != state.role:
                    continue
                sign_off = next(
                    (
                        s
                        for s in sign_offs
                        if s.user_id == assignment.user_id and s.role == state.role
                    ),
                    None,
                )
                stale = bool(sign_off and sign_off.is_stale(expiry=expiry, now=self.now))
                people.append(PersonSignOff(user=assignment.user, sign_off=sign_off, stale=stale))
            my_sign_off = next(
                (p.sign_off for p in people if p.user.pk == self.request.user.pk), None
            )
            no_go_only = (
                self.release.status == Status.DEPLOYING
                and state.role in self.access.signing_roles
                and self.access.can_sign_as(state.role)
            )
            mine = state.role in mine_now or no_go_only
            form = None
            refusal = ""
            if mine:
                refusal = self.effective_policy.second_role_refusal(
                    self.request.user, state.role, self.release.current_sign_offs
                )
                form = self.bound(f"sign-{state.role}") or SignOffForm(
                    initial={"role": state.role}, auto_id=f"id_sign_{state.role}_%s"
                )
            rows.append(
                RoleRow(
                    role=state.role,
                    label=state.label,
                    quorum=state.quorum,
                    state=state.state,
                    people=people,
                    mine=mine,
                    my_sign_off=my_sign_off,
                    form=form,
                    no_go_only=no_go_only,
                    refusal=refusal,
                )
            )
        return rows

    @cached_property
    def decisions(self) -> list[Any]:
        return list(self.release.decisions.select_related("decided_by"))

    @cached_property
    def decision_form(self) -> Any:
        return self.bound("decision") or DecisionForm(auto_id="id_decision_%s")

    @cached_property
    def assign_form(self) -> Any:
        return self.bound("assign") or self._people(
            forms.AssignRoleForm(project=self.release.project, auto_id="id_assign_%s"), "user"
        )

    @cached_property
    def assignments_by_role(self) -> list[tuple[str, str, list[Any]]]:
        assignments = list(self.release.assignments.all())
        return [
            (role, label, [a.user for a in assignments if a.role == role])
            for role, label in Role.choices
            if any(a.role == role for a in assignments)
        ]

    # --- checks ---

    @cached_property
    def checks(self) -> list[Any]:
        checks = list(self.release.checks.select_related("integration"))
        for check in checks:
            show_with(
                check,
                counts=check.counts_as_passing(commit_sha=self.release.commit_sha, now=self.now),
                stale_sha=check.is_stale_for(self.release.commit_sha),
            )
        return checks

    # --- rollback, events, review ---

    @cached_property
    def rollback_plan(self) -> Any:
        return getattr(self.release, "rollback_plan", None)

    @cached_property
    def rollback_missing(self) -> list[str]:
        plan = self.rollback_plan
        return plan.missing(self.release.kind) if plan else ["everything"]

    @cached_property
    def rollback_form(self) -> Any:
        bound = self.bound("rollback")
        if bound is not None:
            return bound
        plan = self.rollback_plan
        initial = {}
        if plan is not None:
            initial = {
                "revert_steps": plan.revert_steps,
                "decider": plan.decider_id,
                "triggers": plan.triggers,
                "data_considerations": plan.data_considerations,
                "rehearsed_at": plan.rehearsed_at,
                "rollback_webhook_url": plan.rollback_webhook_url,
            }
        return self._people(
            forms.RollbackPlanForm(
                initial=initial, project=self.release.project, auto_id="id_rollback_plan_%s"
            ),
            "decider",
        )

    @cached_property
    def post_release_checks(self) -> list[Any]:
        return sorted(
            (c for c in self.checks if c.phase == CheckPhase.POST_RELEASE),
            key=lambda c: (c.name, c.pk),
        )

    @cached_property
    def after_deploy(self) -> bool:
        """Past the deploy start: the header weighs health, no longer readiness."""
        return self.release.status in (
            Status.DEPLOYING,
            Status.MONITORING,
            Status.RELEASED,
            Status.ROLLED_BACK,
        )

    @cached_property
    def health(self) -> tuple[str, str]:
        """The health the header shows (chip class, words): "Healthy" only on a result."""
        if self.release.health == Health.UNHEALTHY:
            return "no_go", "Unhealthy"
        if not self.post_release_checks:
            return "waiting", "No health checks configured"
        if self.release.health == Health.UNKNOWN and not self.after_deploy:
            return "waiting", Health.UNKNOWN.label
        # Healthy is a verdict on results; a release marked healthy before any check reported
        # (as a finished deploy once was) still waits for one.
        if self.release.health == Health.UNKNOWN or not any(
            c.last_evaluated_at and c.status != "pending" for c in self.post_release_checks
        ):
            if self.release.is_active:
                return "waiting", "Awaiting the first health result"
            return "waiting", "No health result"
        return "go", "Healthy"

    @cached_property
    def rollback_triggers(self) -> list[Any]:
        if not self.post_release_checks:
            return []  # a trigger is bound to a post-release check: none, no triggers
        triggers = list(
            RollbackTrigger.objects.filter(release=self.release).select_related("check_ref", "flag")
        )
        for trigger in triggers:
            show_with(
                trigger,
                form=self.bound(f"trigger-{trigger.pk}")
                or RollbackTriggerChangeForm(
                    initial={"mode": trigger.mode, "description": trigger.description},
                    prefix=f"trigger{trigger.pk}",
                ),
            )
        return triggers

    @cached_property
    def trigger_form(self) -> Any:
        bound = self.bound("trigger-new")
        if bound is not None:
            return bound
        taken = {t.check_ref_id for t in self.rollback_triggers}
        form = RollbackTriggerForm(checks=Check.objects.none(), auto_id="id_trigger_%s")
        # The choices come from the checks already loaded, not a query of their own.
        cast(django_forms.ChoiceField, form.fields["check"]).choices = [("", "---------")] + [
            (c.pk, c.name) for c in self.post_release_checks if c.pk not in taken
        ]
        return form

    # --- incidents ---

    @cached_property
    def incidents(self) -> list[Incident]:
        incidents = list(Incident.objects.filter(release=self.release).select_related("created_by"))
        for incident in incidents:
            key = f"incident-{incident.pk}"
            show_with(
                incident,
                resolve_form=self.bound(key)
                or forms.ResolveIncidentForm(prefix=f"incident{incident.pk}"),
                resolve_open=self.failed_key == key,
            )
        return incidents

    @cached_property
    def incident_form(self) -> Any:
        return self.bound("incident") or forms.IncidentForm(auto_id="id_incident_%s")

    @property
    def open_incidents(self) -> int:
        return sum(1 for incident in self.incidents if incident.is_open)

    @property
    def show_incidents(self) -> bool:
        return self.release.has_been_deployed

    @cached_property
    def _latest_events(self) -> list[Any]:
        # One more than shown tells whether there are older ones, without a COUNT.
        return list(self.release.events.select_related("actor")[: EVENTS_SHOWN + 1])

    @cached_property
    def events(self) -> list[Any]:
        return self._latest_events[:EVENTS_SHOWN]

    @property
    def more_events(self) -> bool:
        return len(self._latest_events) > EVENTS_SHOWN

    @cached_property
    def note_form(self) -> Any:
        return self.bound("note") or forms.NoteForm(auto_id="id_note_%s")

    @cached_property
    def review(self) -> Any:
        return (
            Review.objects.filter(release=self.release).prefetch_related("actions__owner").first()
        )

    @cached_property
    def review_form(self) -> Any:
        bound = self.bound("review")
        if bound is not None:
            return bound
        review = self.review
        initial = {}
        if review is not None:
            initial = {
                "went_well": review.went_well,
                "went_badly": review.went_badly,
                "caused_stress": review.caused_stress,
            }
        return forms.ReviewForm(initial=initial, auto_id="id_review_%s")

    @cached_property
    def review_action_form(self) -> Any:
        return self.bound("review-action") or self._people(
            forms.ReviewActionForm(project=self.release.project, auto_id="id_action_%s"), "owner"
        )

    @cached_property
    def review_facts(self) -> dict[str, Any]:
        return review_facts(self.release)

    # --- release notes ---

    @cached_property
    def release_notes(self) -> str:
        return render_release_notes(self.release)

    @property
    def show_review(self) -> bool:
        return self.release.status in (Status.RELEASED, Status.ROLLED_BACK)
