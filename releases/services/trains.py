"""Release trains: recurring releases created ahead of time, one per slot, skippable.

``schedule_train_releases`` runs on every beat tick. A slot row is unique per (train, deploy
day) and the release is created in the same transaction as its slot, so two ticks racing each
other, or a task that is delivered twice, still create exactly one release per slot.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import string
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from lib.errors import NotAllowed, Refused
from releases import notifications as notices
from releases.events import Actor, log_project_change, log_project_event
from releases.models import Project, ProjectEventKind, Release, ReleaseTrain, Status, TrainSlot
from releases.services.common import people_on, reject_unknown_fields
from releases.services.lifecycle import cancel_release
from releases.services.releases import create_release

logger = logging.getLogger(__name__)

TRAIN_FIELDS = (
    "name",
    "kind",
    "cadence_weeks",
    "first_deploy_date",
    "deploy_time",
    "deploy_duration_minutes",
    "timezone",
    "code_freeze_days_before",
    "go_no_go_hours_before",
    "create_days_ahead",
    "freeze_reminder_hours",
    "version_template",
    "active",
)


def save_train(
    project: Project, *, by: Any, train: ReleaseTrain | None = None, **fields: Any
) -> ReleaseTrain:
    reject_unknown_fields(fields, TRAIN_FIELDS, "train")
    with transaction.atomic():
        if train is None:
            train = ReleaseTrain(project=project)
        elif train.project_id != project.pk:
            raise NotAllowed("That train belongs to another project.")
        for name, value in fields.items():
            setattr(train, name, value)
        errors: dict[str, str] = {}
        try:
            train.zone()
        except Exception:
            errors["timezone"] = f"Unknown time zone {train.timezone!r}."
        problem = version_template_problem(train)
        if problem:
            errors["version_template"] = problem
        if errors:
            raise ValidationError(errors)
        train.full_clean(exclude=["project"])
        log_project_change(project, actor=by, kind=ProjectEventKind.TRAIN, row=train)
        try:
            with transaction.atomic():
                train.save()
        except IntegrityError as exc:
            raise ValidationError(
                {"name": "This project already has a train with that name."}
            ) from exc
    return train


def version_template_problem(train: ReleaseTrain) -> str:
    """Why the train's version template cannot name its releases, or "" when it can.

    Only ``{date}`` and ``{n}`` with a format spec: no attribute or index lookups, conversions or
    nested fields, and no number in ``{n}``'s spec beyond a version's length — ``{n:>999999999}``
    would build a gigabyte before any length check could refuse it.
    """
    usage = "Use {date:…} and {n} only, e.g. {date:%Y.%m.%d}."
    try:
        fields = [
            part for part in string.Formatter().parse(train.version_template) if part[1] is not None
        ]
    except ValueError:
        return usage
    longest = Release._meta.get_field("version").max_length
    assert longest is not None
    for _text, name, spec, conversion in fields:
        if name not in ("date", "n") or conversion or "{" in (spec or ""):
            return usage
        if name == "n" and any(int(number) > longest for number in re.findall(r"\d+", spec or "")):
            return usage
    if train.first_deploy_date is None:
        return ""  # full_clean says the day is missing
    try:
        version = train.version_for(train.first_deploy_date)
    except (ValueError, TypeError, OverflowError):
        return usage
    if not version.strip():
        return "The template gives an empty version."
    if len(version) > longest:
        return f"The template gives versions longer than {longest} characters."
    return ""


def _plan(train: ReleaseTrain, day: dt.date) -> dict[str, dt.datetime]:
    deploy = train.deploy_at(day)
    window_end = deploy + dt.timedelta(minutes=train.deploy_duration_minutes)
    return {
        "code_freeze_at": deploy - dt.timedelta(days=train.code_freeze_days_before),
        "go_no_go_at": deploy - dt.timedelta(hours=train.go_no_go_hours_before),
        "deploy_window_start": deploy,
        "deploy_window_end": window_end,
        "monitoring_ends_at": window_end + train.project.monitoring_window(train.kind),
    }


def ensure_slot(train: ReleaseTrain, day: dt.date, *, by: Actor = "release train") -> TrainSlot:
    """The slot for ``day`` with its release, created once however often this is called."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                slot = TrainSlot.objects.create(train=train, deploy_date=day)
        except IntegrityError:
            # Another tick created it first (and its release, in the same transaction).
            return TrainSlot.objects.get(train=train, deploy_date=day)
        try:
            with transaction.atomic():
                release = create_release(
                    train.project,
                    by=by,
                    version=train.version_for(day),
                    kind=train.kind,
                    title=f"{train.name} {day:%d %b %Y}",
                    **_plan(train, day),
                )
        except ValidationError as exc:
            slot.problem = "; ".join(
                message for messages in exc.message_dict.values() for message in messages
            )[:300]
            slot.save(update_fields=["problem"])
            logger.warning("Train %s could not create the release for %s: %s", train, day, exc)
            return slot
        slot.release = release
        slot.save(update_fields=["release"])
    return slot


def schedule_train_releases(*, now: dt.datetime | None = None) -> list[TrainSlot]:
    """Create the releases of every active train whose slot falls within its look-ahead."""
    now = now or timezone.now()
    created = []
    trains = ReleaseTrain.objects.filter(active=True).select_related("project")
    for train in trains:
        today = now.astimezone(train.zone()).date()
        horizon = today + dt.timedelta(days=train.create_days_ahead)
        existing = set(
            train.slots.filter(deploy_date__range=(today, horizon)).values_list(
                "deploy_date", flat=True
            )
        )
        for day in train.slot_dates(today, horizon):
            if day not in existing:
                created.append(ensure_slot(train, day))
    return created


@dataclass
class Upcoming:
    """One coming departure of a train, whether or not its slot row exists yet."""

    train: ReleaseTrain
    deploy_date: dt.date
    slot: TrainSlot | None = None
    today: dt.date | None = None  # in the train's time zone

    @property
    def deploy_at(self) -> dt.datetime:
        return self.train.deploy_at(self.deploy_date)

    @property
    def local_deploy_at(self) -> dt.datetime:
        return self.deploy_at.astimezone(self.train.zone())

    @property
    def version(self) -> str:
        return self.train.version_for(self.deploy_date)

    @property
    def created_on(self) -> dt.date:
        """When beat creates the release (the train's look-ahead before the deploy day)."""
        return self.deploy_date - dt.timedelta(days=self.train.create_days_ahead)

    @property
    def release_due(self) -> bool:
        """Beat should have created the release by now (it has not, when ``release`` is None)."""
        return self.today is not None and self.created_on <= self.today

    @property
    def release(self) -> Any:
        return self.slot.release if self.slot else None

    @property
    def skipped(self) -> bool:
        return bool(self.slot and self.slot.skipped_at)

    @property
    def problem(self) -> str:
        return self.slot.problem if self.slot else ""

    @property
    def can_skip(self) -> bool:
        if self.skipped:
            return False
        release = self.release
        return release is None or release.status in (Status.PLANNING, Status.FROZEN)


def upcoming_slots(
    trains: list[ReleaseTrain], *, now: dt.datetime | None = None, count: int = 6
) -> dict[int, list[Upcoming]]:
    """The next ``count`` departures of each train (today's included), with their slot and
    release where beat already created them: one query whatever the number of trains."""
    now = now or timezone.now()
    days: dict[int, list[dt.date]] = {}
    for train in trains:
        today = now.astimezone(train.zone()).date()
        until = today + dt.timedelta(weeks=train.cadence_weeks * count)
        days[train.pk] = train.slot_dates(today, until)[:count]
    wanted = [day for found in days.values() for day in found]
    slots: dict[tuple[int, dt.date], TrainSlot] = {}
    if wanted:
        rows = TrainSlot.objects.filter(
            train__in=trains, deploy_date__range=(min(wanted), max(wanted))
        ).select_related("release__project", "skipped_by")
        slots = {(slot.train_id, slot.deploy_date): slot for slot in rows}
    return {
        train.pk: [
            Upcoming(
                train=train,
                deploy_date=day,
                slot=slots.get((train.pk, day)),
                today=now.astimezone(train.zone()).date(),
            )
            for day in days[train.pk]
        ]
        for train in trains
    }


def skip_slot(train: ReleaseTrain, day: dt.date, *, by: Any, reason: str) -> TrainSlot:
    """Skip one departure: no release is created for it, or its planned release is cancelled."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why this slot is skipped."})
    if day not in train.slot_dates(day, day):
        raise ValidationError({"deploy_date": f"{train.name} has no slot on {day:%Y-%m-%d}."})
    with transaction.atomic():
        slot, _ = TrainSlot.objects.select_for_update().get_or_create(train=train, deploy_date=day)
        if slot.skipped_at:
            raise Refused("This slot is already skipped.")
        release = slot.release
        if release is not None:
            if release.status not in (Status.PLANNING, Status.FROZEN, Status.CANCELLED):
                raise Refused(
                    f"The release of this slot is already {release.get_status_display().lower()}; "
                    "cancel or roll it back instead."
                )
            if release.status != Status.CANCELLED:
                cancel_release(release, by=by, reason=f"Train slot skipped: {reason}")
        slot.skipped_at = timezone.now()
        slot.skipped_by = by
        slot.skip_reason = reason
        slot.save(update_fields=["skipped_at", "skipped_by", "skip_reason"])
        log_project_event(
            train.project,
            actor=by,
            kind=ProjectEventKind.TRAIN,
            action="slot_skipped",
            summary=f"{train.name}: the departure of {day:%Y-%m-%d} skipped: {reason}",
            before={"departure": day.isoformat(), "state": "scheduled"},
            after={"departure": day.isoformat(), "state": "skipped"},
            data={"train": train.pk, "reason": reason, "release": slot.release_id},
        )
    return slot


def send_freeze_reminders(*, now: dt.datetime | None = None) -> int:
    """Tell the people on each train release that its code freeze is coming; once per slot."""
    now = now or timezone.now()
    sent = 0
    slots = TrainSlot.objects.filter(
        release__isnull=False,
        skipped_at__isnull=True,
        freeze_reminder_sent_at__isnull=True,
        release__status=Status.PLANNING,
        release__code_freeze_at__gt=now,
    ).select_related("train", "release__project")
    for slot in slots:
        release = slot.release
        # The query asks for slots with a release that has a code freeze ahead.
        assert release is not None
        assert release.code_freeze_at is not None
        if release.code_freeze_at - now > dt.timedelta(hours=slot.train.freeze_reminder_hours):
            continue
        with transaction.atomic():
            # The conditional update claims the reminder: a second tick finds nothing to claim.
            claimed = TrainSlot.objects.filter(
                pk=slot.pk, freeze_reminder_sent_at__isnull=True
            ).update(freeze_reminder_sent_at=now)
            if not claimed:
                continue
            hours = max(1, round((release.code_freeze_at - now).total_seconds() / 3600))
            notices.notify(
                people_on(release),
                release=release,
                verb="code_freeze_soon",
                message=f"Code freeze for {release} in about {hours} h "
                f"({release.code_freeze_at:%a %d %b %H:%M} UTC): get your scope in now.",
            )
            sent += 1
    return sent
