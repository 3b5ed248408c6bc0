"""The post-release health window: breaches, rollback triggers, and the end of the window.

While a release is deploying or monitoring, its post-release checks are its health. A check
*breaches* when it is failing and has been failing for at least its hold time: the comparator
and threshold of the check are the condition ("error rate > 2 %") and its ``hold_seconds`` the
"for 5 min". A breach of a required post-release check, or of a check bound to a rollback
trigger, marks the release unhealthy (``releases.services.mark_health`` tells everyone on it and
the rollback decider, with the revert steps). Then the check's trigger acts, once per breach:

- ``recommend``: the release carries a rollback recommendation, offered on its page as a
  one-click rollback, and the decider is told (``releases.services.recommend_rollback``);
- ``automatic``: Greenlight rolls the release back at once and, after commit, a task calls the
  rollback plan's webhook, signed (``monitoring.services.rollback``).

After the deploy the health is unknown until every check that decides passes on a reading taken
after the deploy was done (``_judge_first_result``, on the status change or, for a check that was
passing already, by beat in ``judge_first_results``): finishing a deploy proves nothing.

A breach without a hold time is acted on in the transaction that recorded the failing result
(``on_check_status_changed``, a receiver of ``monitoring.signals.check_status_changed``); one
with a hold time by the beat task once the time has passed (``watch_health``).

The window ends fail closed: a release becomes released only when it is not unhealthy and every
required post-release check counts as passing — pending, error and needs-judgement do not.
:func:`release_if_healthy` is the one way there, for a person pressing "mark released" and for
beat; :func:`health_blockers` says what stands in the way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from lib.errors import NotAllowed, Refused
from lib.wording import duration
from monitoring import tasks
from monitoring.models import (
    Check,
    CheckPhase,
    CheckStatus,
    Comparator,
    RollbackTrigger,
    TriggerMode,
)
from monitoring.services import flags
from monitoring.services.rollback import prepare_call, tell_to_roll_back_by_hand
from releases import access as rules
from releases.access import access_for, is_person
from releases.events import Actor, log_event
from releases.models import Health, Release, RollbackPlan, Status
from releases.notifications import notify
from releases.services.common import lock_release, release_managers
from releases.services.lifecycle import complete_release, mark_health
from releases.services.rollback import recommend_rollback, roll_back

# The statuses in which a release's health is watched.
WATCHED_STATUSES = (Status.DEPLOYING, Status.MONITORING)
ACTOR = "Greenlight"

# The condition under which a check fails, for a trigger's description: the opposite of what
# the check requires to pass.
BREACHED_WHEN: dict[str, str] = {
    Comparator.LT: "≥",
    Comparator.LTE: ">",
    Comparator.GT: "≤",
    Comparator.GTE: "<",
    Comparator.EQ: "≠",
    Comparator.NE: "=",
}


# How a required check that does not count as passing stands in the way of the release.
NOT_PASSING: dict[str, str] = {
    CheckStatus.PENDING: "has no result yet",
    CheckStatus.ERROR: "could not be read",
    CheckStatus.NEEDS_JUDGEMENT: "needs a person's judgement",
    CheckStatus.FAILING: "is failing",
    CheckStatus.PASSING: "is passing",
}


def _is_person(actor: Actor) -> bool:
    return not isinstance(actor, str) and actor is not None and is_person(actor)


class NotHealthy(Refused):
    """The release cannot be released now; ``blockers`` says why, one reason each."""

    def __init__(self, blockers: list[str]) -> None:
        super().__init__("Cannot mark the release released: " + "; ".join(blockers) + ".")
        self.blockers = blockers


def describe_condition(check: Check) -> str:
    """The breach in words, from the check's own settings: "Error rate ≥ 0.02 for 5 min"."""
    if check.comparator and check.threshold is not None:
        text = f"{check.name} {BREACHED_WHEN[check.comparator]} {check.threshold:g}"
    else:
        text = f"{check.name} failing"
    if check.hold_seconds:
        text += f" for {duration(check.hold_seconds)}"
    return text


def is_breached(check: Check, now: dt.datetime) -> bool:
    """Failing, and failing for at least the check's hold time."""
    return bool(
        check.phase == CheckPhase.POST_RELEASE
        and check.status == CheckStatus.FAILING
        and check.last_changed_at is not None
        and now - check.last_changed_at >= dt.timedelta(seconds=check.hold_seconds)
    )


def _failure(check: Check) -> str:
    text = f"“{check.name}” failing"
    if check.last_value:
        text += f" ({check.last_value})"
    if check.hold_seconds:
        text += f" for {duration(check.hold_seconds)}"
    return text


# --- rollback triggers --------------------------------------------------------------------------


def _require_plan_editor(by: Any, release: Release) -> None:
    if not access_for(by, release).edits_rollback_plan:
        raise NotAllowed("Only the release manager and DevOps change the rollback triggers.")


def _validate_trigger(
    release: Release, *, check: Any, mode: str, description: str, switches_flag: bool = False
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if mode not in TriggerMode.values:
        errors["mode"] = "Choose recommend or automatic."
    if (
        not isinstance(check, Check)
        or check.release_id != release.pk
        or check.phase != CheckPhase.POST_RELEASE
    ):
        errors["check"] = "Choose a post-release check of this release."
    if len(description) > (RollbackTrigger._meta.get_field("description").max_length or 0):
        errors["description"] = "Use at most 200 characters."
    if mode == TriggerMode.AUTOMATIC and not switches_flag:
        plan = RollbackPlan.objects.filter(release=release).first()
        if plan is None or not plan.rollback_webhook_url:
            errors["mode"] = (
                "An automatic rollback calls the rollback plan's webhook: set its URL first."
            )
    return errors


def add_rollback_trigger(
    release: Release, *, by: Any, check: Any, mode: str, description: str = ""
) -> RollbackTrigger:
    """Bind a rollback trigger to one of the release's post-release checks.

    Release manager or DevOps. ``description`` defaults to the check's condition in words.
    """
    _require_plan_editor(by, release)
    description = (description or "").strip()
    errors = _validate_trigger(release, check=check, mode=mode, description=description)
    if errors:
        raise ValidationError(errors)
    description = description or describe_condition(check)[:200]
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused(
                f"The release is {release.get_status_display().lower()}; its rollback plan is "
                "part of the record now."
            )
        try:
            with transaction.atomic():
                trigger = RollbackTrigger.objects.create(
                    release=release,
                    check_ref=check,
                    mode=mode,
                    description=description,
                    created_by=by if _is_person(by) else None,
                )
        except IntegrityError as exc:
            raise ValidationError(
                {"check": "This check already has a trigger; change that one instead."}
            ) from exc
        log_event(
            release,
            actor=by,
            verb="rollback_trigger_added",
            summary=f"Rollback trigger added: {description} → {trigger.get_mode_display()}",
            after={"mode": mode, "description": description, "check": check.name},
            data={"trigger": trigger.pk, "check": check.pk},
        )
    return trigger


def update_rollback_trigger(
    trigger: RollbackTrigger,
    *,
    by: Any,
    mode: str | None = None,
    description: str | None = None,
) -> RollbackTrigger:
    """Change a trigger's mode or description (None keeps it)."""
    release = trigger.release
    _require_plan_editor(by, release)
    mode = trigger.mode if mode is None else mode
    description = trigger.description if description is None else description.strip()
    errors = _validate_trigger(
        release,
        check=trigger.check_ref,
        mode=mode,
        description=description,
        switches_flag=trigger.flag_id is not None,
    )
    if not description:
        errors["description"] = "Say what the trigger watches for."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused(
                f"The release is {release.get_status_display().lower()}; its rollback plan is "
                "part of the record now."
            )
        trigger = RollbackTrigger.objects.select_for_update().get(pk=trigger.pk)
        before = {"mode": trigger.mode, "description": trigger.description}
        after = {"mode": mode, "description": description}
        if before == after:
            return trigger
        trigger.mode, trigger.description = mode, description
        trigger.save(update_fields=["mode", "description"])
        log_event(
            release,
            actor=by,
            verb="rollback_trigger_changed",
            summary=f"Rollback trigger changed: {description} → {trigger.get_mode_display()}",
            before=before,
            after=after,
            data={"trigger": trigger.pk, "check": trigger.check_ref_id},
        )
    return trigger


def remove_rollback_trigger(trigger: RollbackTrigger, *, by: Any) -> None:
    release = trigger.release
    _require_plan_editor(by, release)
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused(
                f"The release is {release.get_status_display().lower()}; its rollback plan is "
                "part of the record now."
            )
        log_event(
            release,
            actor=by,
            verb="rollback_trigger_removed",
            summary=f"Rollback trigger removed: {trigger.description}",
            before={"mode": trigger.mode, "description": trigger.description},
            data={"trigger": trigger.pk, "check": trigger.check_ref_id},
        )
        trigger.delete()


# --- breaches -----------------------------------------------------------------------------------


def on_check_status_changed(*, check: Check, release: Release, new: str) -> None:
    """A check's status changed (inside the transaction that recorded it, the release locked).

    A post-release check that starts failing without a hold time is a breach now; one with a
    hold time is left to :func:`watch_health` once it has been failing that long.
    """
    if check.phase == CheckPhase.POST_RELEASE and new == CheckStatus.PASSING:
        if _judge_first_result(release, changed=check):
            release.refresh_from_db(fields=["health"])
        return
    if (
        check.phase != CheckPhase.POST_RELEASE
        or new != CheckStatus.FAILING
        or release.status not in WATCHED_STATUSES
    ):
        return
    now = check.last_changed_at or timezone.now()
    if not is_breached(check, now):
        return
    _act_on_breach(release, check, now=now)
    # The caller goes on with its own copy of the release (to schedule the next poll, for one):
    # it must see the rollback this may have started.
    release.refresh_from_db(
        fields=["status", "health", "unhealthy_since", "unhealthy_reason", "rolled_back_at"]
    )


def _act_on_breach(release: Release, check: Check, *, now: dt.datetime) -> None:
    """Mark the release unhealthy and let the check's trigger act, once per breach.

    Runs inside a transaction that holds the release's row lock (and the check's, when the
    check's row is to be written).
    """
    trigger = RollbackTrigger.objects.select_for_update().filter(check_ref=check).first()
    if not check.required and trigger is None:
        return  # an advisory check without a trigger informs, it does not decide
    failure = _failure(check)
    if release.health != Health.UNHEALTHY:
        release = mark_health(release, Health.UNHEALTHY, by=ACTOR, reason=failure)
    if trigger is None:
        return
    failing_since = check.last_changed_at or now
    if trigger.fired_at is not None and trigger.fired_at >= failing_since:
        return  # this breach was acted on already
    trigger.fired_at = now
    trigger.save(update_fields=["fired_at"])
    actor = f"Greenlight (trigger “{trigger.description}”)"[:120]
    reason = f"{trigger.description}: {failure}"
    if trigger.flag_id is not None:
        # Roll back one feature: the trigger's action is to switch its flag off.
        flags.act_on_flag_trigger(release, trigger=trigger, check=check, actor=actor, reason=reason)
        return
    if trigger.mode == TriggerMode.RECOMMEND:
        recommend_rollback(release, by=actor, reason=reason)
        return
    _roll_back_automatically(release, trigger=trigger, check=check, actor=actor, reason=reason)


def _roll_back_automatically(
    release: Release, *, trigger: RollbackTrigger, check: Check, actor: str, reason: str
) -> None:
    release = roll_back(release, by=actor, reason=reason, automatic=True)
    plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
    url = plan.rollback_webhook_url if plan else ""
    if not url:
        # The trigger was set up with a webhook; the plan lost it since. The rollback is recorded
        # all the same, and the people who can carry it out are told at once.
        log_event(
            release,
            actor=actor,
            verb="rollback_webhook_missing",
            summary="No rollback webhook is configured: the rollback has to be run by hand",
        )
        tell_to_roll_back_by_hand(
            release,
            plan,
            problem=f"{release} is being rolled back automatically ({reason}), but its rollback "
            "plan has no webhook to start it.",
        )
        return
    call = prepare_call(release, trigger=trigger, check=check, url=url, actor=actor, reason=reason)
    transaction.on_commit(partial(tasks.deliver_rollback_webhook.delay, call.pk), robust=True)


def _needs_action() -> Q:
    """Failing post-release checks of watched releases whose breach has not been acted on: the
    release is not unhealthy yet (and the check decides), or its trigger has not fired for it."""
    unfired = RollbackTrigger.objects.filter(check_ref=OuterRef("pk")).filter(
        Q(fired_at__isnull=True) | Q(fired_at__lt=OuterRef("last_changed_at"))
    )
    any_trigger = RollbackTrigger.objects.filter(check_ref=OuterRef("pk"))
    return Q(
        phase=CheckPhase.POST_RELEASE,
        status=CheckStatus.FAILING,
        release__status__in=WATCHED_STATUSES,
    ) & (
        Exists(unfired)
        | (~Q(release__health=Health.UNHEALTHY) & (Q(required=True) | Exists(any_trigger)))
    )


# --- the first health result ----------------------------------------------------------------------


def _deciding(checks: QuerySet[Check]) -> QuerySet[Check]:
    """The post-release checks that decide the release's health: the required ones and those
    bound to a rollback trigger (an advisory check without a trigger only informs)."""
    return checks.filter(phase=CheckPhase.POST_RELEASE).filter(
        Q(required=True) | Exists(RollbackTrigger.objects.filter(check_ref=OuterRef("pk")))
    )


def _read_since(check: Check, moment: dt.datetime) -> bool:
    """Whether the check's status rests on a reading taken at or after ``moment``."""
    readings = [t for t in (check.last_evaluated_at, check.last_changed_at) if t is not None]
    return bool(readings) and max(readings) >= moment


def _judge_first_result(release: Release, *, changed: Check | None = None) -> bool:
    """Healthy, once every check that decides passes on a reading taken after the deploy was
    done; until then the health stays unknown. Runs with the release's row lock held;
    ``changed`` is a check whose new status is not saved yet. Returns whether it turned
    healthy."""
    finished = release.deploy_finished_at
    if release.status != Status.MONITORING or release.health != Health.UNKNOWN or not finished:
        return False
    checks = [
        changed if changed is not None and check.pk == changed.pk else check
        for check in _deciding(release.checks.all())
    ]
    if not checks:
        return False  # nothing decides: the window's end releases it, never calling it healthy
    for check in checks:
        if (
            check.status != CheckStatus.PASSING
            or check.is_stale_for(release.commit_sha)
            or not _read_since(check, finished)
        ):
            return False
    mark_health(release, Health.HEALTHY, by=ACTOR, reason="every health check that decides passes")
    return True


def judge_first_results() -> int:
    """Beat: releases in monitoring whose deciding checks all read passing since the deploy
    though no status changed (a check already passing while deploying, read again after).
    Returns how many turned healthy."""
    finished = OuterRef("deploy_finished_at")
    not_passed_yet = _deciding(Check.objects.filter(release=OuterRef("pk"))).filter(
        ~Q(status=CheckStatus.PASSING)
        | ~(Q(last_evaluated_at__gte=finished) | Q(last_changed_at__gte=finished))
    )
    due = Release.objects.filter(
        status=Status.MONITORING, health=Health.UNKNOWN, deploy_finished_at__isnull=False
    ).filter(
        Exists(_deciding(Check.objects.filter(release=OuterRef("pk")))), ~Exists(not_passed_yet)
    )
    judged = 0
    for candidate in due.order_by("pk"):
        with transaction.atomic():
            judged += _judge_first_result(lock_release(candidate))
    return judged


def act_on_held_breaches(*, now: dt.datetime | None = None) -> int:
    """Beat: act on the breaches whose hold time has passed. Returns how many were acted on."""
    now = now or timezone.now()
    # Few rows: failing checks whose breach is still open. Their hold times differ, so which
    # have held long enough is decided here rather than with interval arithmetic in SQL.
    candidates = [
        check
        for check in Check.objects.filter(_needs_action())
        .select_related("release")
        .order_by("release_id", "pk")
        if is_breached(check, now)
    ]
    acted = 0
    for candidate in candidates:
        with transaction.atomic():
            # Release first, then the check, as every writer of checks does.
            # A breach is a failing read, and only a release's checks are read.
            assert candidate.release is not None
            release = lock_release(candidate.release)
            check = Check.objects.select_for_update().get(pk=candidate.pk)
            if release.status in WATCHED_STATUSES and is_breached(check, now):
                _act_on_breach(release, check, now=now)
                acted += 1
    return acted


def restore_refusal(checks: Iterable[Check], *, triggered: Collection[int]) -> str:
    """Why an unhealthy release cannot be judged healthy again, given its checks and the ids of
    those bound to a rollback trigger, or "": a check that decides is still failing. The
    release page disables its button with the same words."""
    failing = sorted(
        check.name
        for check in checks
        if check.phase == CheckPhase.POST_RELEASE
        and check.status == CheckStatus.FAILING
        and (check.required or check.pk in triggered)
    )
    if not failing:
        return ""
    names = ", ".join(f"“{name}”" for name in failing)
    return (
        f"{names} {'is' if len(failing) == 1 else 'are'} still failing: the release stays "
        "unhealthy until it passes again (or roll it back)."
    )


def restore_health(release: Release, *, by: Any, reason: str) -> Release:
    """The release is healthy again, in a person's judgement (release manager, DevOps or the
    rollback decider, with a reason) — refused while a check that decides is still failing."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the release is healthy again."})
    rules.RESTORE_HEALTH.check(access_for(by, release))
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in WATCHED_STATUSES:
            raise Refused(
                f"Health is judged while deploying or monitoring; the release is "
                f"{release.get_status_display().lower()}."
            )
        if release.health != Health.UNHEALTHY:
            raise Refused("The release is not unhealthy.")
        refusal = restore_refusal(
            release.checks.filter(phase=CheckPhase.POST_RELEASE, status=CheckStatus.FAILING),
            triggered=set(
                RollbackTrigger.objects.filter(release=release).values_list(
                    "check_ref_id", flat=True
                )
            ),
        )
        if refusal:
            raise Refused(refusal)
        return mark_health(release, Health.HEALTHY, by=by, reason=reason)


# --- the end of the window ----------------------------------------------------------------------


def health_blockers(release: Release, *, now: dt.datetime | None = None) -> list[str]:
    """Why the release cannot be released now, one reason each; empty when it can.

    Fail closed: every required post-release check must count as passing (held for its hold
    time); pending, error, needs-judgement and failing each keep the release in monitoring.
    """
    now = now or timezone.now()
    if release.status != Status.MONITORING:
        return [f"it is {release.get_status_display().lower()}, not in its monitoring window"]
    blockers = []
    if release.health == Health.UNHEALTHY:
        blockers.append(
            f"it is unhealthy ({release.unhealthy_reason or 'no reason given'}): roll it back, "
            "or mark it healthy again once the checks pass"
        )
    if release.monitoring_until and now < release.monitoring_until:
        left = release.monitoring_until - now
        blockers.append(
            f"the monitoring window has {duration(left.total_seconds())} left "
            f"(until {release.monitoring_until:%H:%M} UTC)"
        )
    checks = release.checks.filter(phase=CheckPhase.POST_RELEASE, required=True).order_by(
        "name", "pk"
    )
    for check in checks:
        if check.counts_as_passing(commit_sha=release.commit_sha, now=now):
            continue
        if check.status == CheckStatus.PASSING:
            blockers.append(
                f"“{check.name}” has not been passing for {duration(check.hold_seconds)} yet"
            )
        else:
            blockers.append(f"“{check.name}” {NOT_PASSING[check.status]}")
    return blockers


def release_if_healthy(release: Release, *, by: Actor, now: dt.datetime | None = None) -> Release:
    """monitoring → released, only when :func:`health_blockers` finds nothing.

    What the "mark released" button and the API call (a person must be a release manager of
    the release), and what beat does at the end of each window. Raises :class:`NotHealthy`
    (a ``Refused``) with the blockers.
    """
    rules.check_person(rules.COMPLETE, by, release)
    with transaction.atomic():
        # The release lock also holds back check results: every writer of checks takes it first.
        release = lock_release(release)
        blockers = health_blockers(release, now=now)
        if blockers:
            raise NotHealthy(blockers)
        return complete_release(release, by=by)


@dataclass
class WindowReport:
    released: list[Release] = field(default_factory=list)
    held: list[Release] = field(default_factory=list)


def close_health_windows(*, now: dt.datetime | None = None) -> WindowReport:
    """Beat: every release whose monitoring window has passed is released if it is healthy;
    otherwise it stays in monitoring and its release managers are told why (again only when
    the reasons change)."""
    now = now or timezone.now()
    report = WindowReport()
    due = Release.objects.filter(status=Status.MONITORING, monitoring_until__lte=now)
    for release in due.order_by("monitoring_until", "pk"):
        try:
            report.released.append(release_if_healthy(release, by=ACTOR, now=now))
        except NotHealthy as exc:
            _tell_why_held(release, exc.blockers)
            report.held.append(release)
        except Refused:
            continue  # rolled back or released meanwhile
    return report


def _tell_why_held(release: Release, blockers: list[str]) -> None:
    with transaction.atomic():
        release = lock_release(release)
        if release.status != Status.MONITORING:
            return
        last = release.events.filter(verb="health_window_held").order_by("-created_at", "-pk")
        told = last.values_list("data", flat=True).first()
        if told is not None and told.get("blockers") == blockers:
            return
        reasons = "; ".join(blockers)
        log_event(
            release,
            actor=ACTOR,
            verb="health_window_held",
            summary=f"The monitoring window is over but the release stays in monitoring: {reasons}",
            data={"blockers": blockers},
        )
        notify(
            release_managers(release),
            release=release,
            verb="health_window_held",
            message=f"The monitoring window of {release} is over, but it is not released: "
            f"{reasons}. It is released as soon as this is resolved, or roll it back.",
        )


@dataclass
class WatchReport:
    breaches: int
    released: int
    held: int
    healthy: int = 0


def watch_health(*, now: dt.datetime | None = None) -> WatchReport:
    """What beat runs every few seconds: held breaches, first health results, then the windows
    that are over."""
    now = now or timezone.now()
    breaches = act_on_held_breaches(now=now)
    healthy = judge_first_results()
    windows = close_health_windows(now=now)
    return WatchReport(breaches, len(windows.released), len(windows.held), healthy)
