"""API input and output shapes for projects, releases, scope, roles, checklists and plans.

Input serializers only validate: views pass ``validated_data`` to a service, which does the work.
Output serializers read rows loaded with ``select_related``/``prefetch_related`` by the view.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from releases.models import (
    REPORTED_SOURCES,
    ChecklistItem,
    ChecklistTemplate,
    FreezeWindow,
    Health,
    Incident,
    IncidentSource,
    Notification,
    Project,
    ProjectEvent,
    ProjectEventKind,
    Release,
    ReleaseEvent,
    ReleaseKind,
    ReleaseTrain,
    Review,
    ReviewAction,
    Role,
    RoleAssignment,
    RollbackPlan,
    ScopeChangeRequest,
    ScopeItem,
    Severity,
    Status,
    rollback_still_recommended,
)
from releases.services.checklists import TEMPLATE_FIELDS
from releases.services.freeze_windows import FREEZE_FIELDS
from releases.services.releases import RELEASE_EDITABLE_FIELDS
from releases.services.trains import TRAIN_FIELDS

User = get_user_model()

# Bounds the database and ``datetime`` arithmetic can live with: a monitoring window of more
# than a year would push "monitoring until" past what a date can hold long before the column
# overflows.
MAX_MONITORING_MINUTES = 60 * 24 * 366


def person(*, nullable: bool = True) -> serializers.SlugRelatedField:
    """A person shown by username, read-only; null when nobody is set (or a machine acted)."""
    return serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=nullable, help_text="Username."
    )


class MemberField(serializers.SlugRelatedField):
    """A person named by username who belongs to ``context["project"]``."""

    default_error_messages = {
        "does_not_exist": "{value} is not a member of this project.",
        "invalid": "Give a username.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", User.objects.all())
        super().__init__(slug_field="username", **kwargs)

    def get_queryset(self) -> Any:
        project = self.context.get("project")
        queryset = super().get_queryset()
        assert queryset is not None  # set in __init__
        if project is None:
            return queryset.none()
        return queryset.filter(memberships__project=project).distinct()

    def to_internal_value(self, data: Any) -> Any:
        # PostgreSQL text cannot hold NUL; such a name is nobody.
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


# --- projects -------------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    has_chat_webhook = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "repository_url",
            "monitoring_minutes_standard",
            "monitoring_minutes_hotfix",
            "monitoring_minutes_major",
            "time_zone",
            "has_chat_webhook",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_chat_webhook(self, project: Project) -> bool:
        return bool(project.slack_webhook_url)


class ProjectUpdateSerializer(serializers.ModelSerializer):
    """The chat webhook URL is a credential: it can be set, never read back."""

    class Meta:
        model = Project
        fields = [
            "name",
            "description",
            "repository_url",
            "monitoring_minutes_standard",
            "monitoring_minutes_hotfix",
            "monitoring_minutes_major",
            "time_zone",
            "slack_webhook_url",
        ]
        extra_kwargs = {
            "slack_webhook_url": {"write_only": True},
            **{
                f"monitoring_minutes_{kind}": {"max_value": MAX_MONITORING_MINUTES}
                for kind in ("standard", "hotfix", "major")
            },
        }


class DeployEnvironmentsSerializer(serializers.Serializer):
    deploy_environments = serializers.DictField(
        child=serializers.CharField(max_length=60, allow_blank=True),
        help_text="CI's environment name → the release environment it deploys to; an empty "
        "one means deploys there never move a release. A name not listed stands for itself.",
    )


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices))


class MemberRolesSerializer(serializers.Serializer):
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices),
        allow_empty=True,
        max_length=len(Role.choices),
        help_text="The person's complete set of roles on the project; empty removes them.",
    )


class ProjectCreateSerializer(serializers.ModelSerializer):
    # No unique validator here: the service says "A project with this short name exists."
    slug = serializers.SlugField(
        max_length=60, help_text="Short name used in addresses, e.g. payments; unique."
    )

    class Meta:
        model = Project
        fields = ["name", "slug", "description"]


class MemberAddSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices),
        allow_empty=False,
        max_length=len(Role.choices),
        help_text="The person's roles on the project.",
    )

    def validate_username(self, name: str) -> Any:
        # Matched as the settings page matches it: case-insensitively, active people only.
        user = User.objects.filter(username__iexact=name.strip(), is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"Nobody is called {name.strip()!r} here.")
        return user


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$",
        "example": "15:00",
        "description": "Wall-clock time in the window's time zone (HH:MM or HH:MM:SS).",
    }
)
class WallClockTimeField(serializers.TimeField):
    """A time of day without an offset: a weekly window opens at 15:00 wherever it is."""


class FreezeWindowSerializer(serializers.ModelSerializer):
    description = serializers.SerializerMethodField()
    start_time = WallClockTimeField(required=False, allow_null=True)
    end_time = WallClockTimeField(required=False, allow_null=True)

    class Meta:
        model = FreezeWindow
        fields = [
            "id",
            *FREEZE_FIELDS,
            "description",
            "created_at",
        ]
        read_only_fields = ["id", "description", "created_at"]

    def get_description(self, window: FreezeWindow) -> str:
        return window.describe()


class ChecklistTemplateSerializer(serializers.ModelSerializer):
    """One item of the project's checklist, copied onto releases of the kinds it applies to."""

    class Meta:
        model = ChecklistTemplate
        fields = [
            "id",
            *TEMPLATE_FIELDS,
        ]
        read_only_fields = ["id"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The settings page's rule; on a change, the kinds left out keep their stored values.
        template = self.context.get("template")
        kinds = [
            attrs.get(f"for_{kind}", getattr(template, f"for_{kind}", True))
            for kind in ReleaseKind.values
        ]
        if not any(kinds):
            raise serializers.ValidationError(
                "Choose at least one kind of release the item applies to."
            )
        return attrs


# --- release trains ---------------------------------------------------------------------------


class TrainSerializer(serializers.ModelSerializer):
    # The bounds of every number are the model's validators, as on the trains page.
    deploy_time = WallClockTimeField(required=False, help_text="In the train's time zone.")
    timezone = serializers.CharField(
        max_length=60, required=False, help_text="IANA time zone, e.g. Europe/Berlin."
    )

    class Meta:
        model = ReleaseTrain
        fields = [
            "id",
            *TRAIN_FIELDS,
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {
            "create_days_ahead": {
                "help_text": "Beat creates each release this many days before its deploy day."
            },
            "first_deploy_date": {"help_text": "Later departures fall on the same weekday."},
        }


class TrainReleaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)


class SlotSerializer(serializers.Serializer):
    """One coming departure of a train, whether or not beat has created its release yet."""

    deploy_date = serializers.DateField()
    deploy_at = serializers.DateTimeField(help_text="Start of the deploy window.")
    version = serializers.CharField(help_text="The release's version, or the one it will get.")
    created_on = serializers.DateField(help_text="When beat creates the release.")
    release = TrainReleaseSerializer(allow_null=True)
    skipped = serializers.BooleanField()
    skipped_at = serializers.DateTimeField(allow_null=True)
    skipped_by = serializers.CharField(allow_null=True, help_text="Username.")
    skip_reason = serializers.CharField(allow_blank=True)
    problem = serializers.CharField(
        allow_blank=True, help_text="Why the release could not be created."
    )
    can_skip = serializers.BooleanField()

    def to_representation(self, departure: Any) -> dict[str, Any]:
        slot, release = departure.slot, departure.release
        return {
            "deploy_date": departure.deploy_date,
            "deploy_at": departure.deploy_at,
            "version": release.version if release else departure.version,
            "created_on": departure.created_on,
            "release": (
                {"id": release.pk, "version": release.version, "status": release.status}
                if release
                else None
            ),
            "skipped": departure.skipped,
            "skipped_at": slot.skipped_at if slot else None,
            "skipped_by": slot.skipped_by.get_username() if slot and slot.skipped_by else None,
            "skip_reason": slot.skip_reason if slot else "",
            "problem": departure.problem,
            "can_skip": departure.can_skip,
        }


class SlotsQuerySerializer(serializers.Serializer):
    count = serializers.IntegerField(
        min_value=1, max_value=52, default=6, help_text="How many departures (today's included)."
    )


class SkipSlotSerializer(serializers.Serializer):
    deploy_date = serializers.DateField(help_text="The departure's deploy day.")
    reason = serializers.CharField(max_length=300)


# --- notifications ----------------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField()
    release: serializers.PrimaryKeyRelatedField[Release] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    project = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "verb",
            "message",
            "url",
            "release",
            "project",
            "created_at",
            "read",
            "read_at",
        ]
        read_only_fields = fields

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None

    def get_project(self, notification: Notification) -> str | None:
        """The release's project (slug), when the notification is about a release."""
        return notification.release.project.slug if notification.release else None


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        allow_empty=False,
        max_length=500,
        help_text="Your notifications' ids; anyone else's are ignored.",
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread and are now read.")
    unread = serializers.IntegerField(help_text="How many are still unread.")


# --- releases -------------------------------------------------------------------------------

RELEASE_FIELDS = [
    "id",
    "project",
    "version",
    "title",
    "kind",
    "status",
    "health",
    "git_ref",
    "commit_sha",
    "environment",
    "code_freeze_at",
    "go_no_go_at",
    "deploy_window_start",
    "deploy_window_end",
    "monitoring_ends_at",
    "frozen_at",
    "poll_opened_at",
    "approved_at",
    "deploy_started_at",
    "deploy_finished_at",
    "deploy_cancelled_at",
    "monitoring_until",
    "released_at",
    "rolled_back_at",
    "cancelled_at",
    "override_used",
    "unhealthy_since",
    "unhealthy_reason",
    "rollback_recommended",
    "rollback_recommended_at",
    "rollback_recommendation",
    "rollback_reason",
    "rollback_automatic",
    "rollback_finished_at",
    "carried_into",
    "created_at",
    "updated_at",
]

RELATED = ("project", "carried_into")
# The columns of the release itself; everything else in its representation derives from them.
RELEASE_COLUMNS = [
    name for name in RELEASE_FIELDS if name not in (*RELATED, "rollback_recommended")
]
# What a list reads per release, as plain values (``ReleaseSerializer`` takes those rows too).
RELEASE_VALUES = (*RELEASE_COLUMNS, "carried_into_id", "project__slug")

EDITABLE_RELEASE_FIELDS = list(RELEASE_EDITABLE_FIELDS)


class ReleaseSerializer(serializers.ModelSerializer):
    project: serializers.SlugRelatedField[Project] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    rollback_recommended = serializers.BooleanField(
        read_only=True,
        help_text="A rollback trigger recommends rolling back and the release still can be: "
        "the rollback decider makes the call (roll-back).",
    )
    carried_into: serializers.PrimaryKeyRelatedField[Release] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The release its scope was carried into."
    )

    class Meta:
        model = Release
        fields = RELEASE_FIELDS
        read_only_fields = RELEASE_FIELDS

    def to_representation(self, release: Release | Mapping[str, Any]) -> dict[str, Any]:
        """A release, or a row of ``RELEASE_VALUES`` (what the list reads: building 20 model
        instances and their projects cost a page more than its queries)."""
        # Every field is a plain column the renderer encodes exactly as DRF's fields would
        # (datetimes as ISO 8601 with "Z"); going through 27 field objects per row cost a page
        # of 20 releases more than all its queries (docs/performance.md).
        if isinstance(release, Mapping):
            data = {name: release[name] for name in RELEASE_COLUMNS}
            data["project"] = release["project__slug"]
            data["carried_into"] = release["carried_into_id"]
        else:
            data = {name: getattr(release, name) for name in RELEASE_COLUMNS}
            data["project"] = release.project.slug
            data["carried_into"] = release.carried_into_id
        data["rollback_recommended"] = rollback_still_recommended(
            data["status"], data["rollback_recommended_at"]
        )
        return data


class ReleaseUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = EDITABLE_RELEASE_FIELDS


class ReleaseCreateSerializer(serializers.ModelSerializer):
    project = serializers.SlugField(
        max_length=60,
        help_text="The project's short name (slug); one you cannot see answers 404.",
    )

    class Meta:
        model = Release
        fields = ["project", "version", *EDITABLE_RELEASE_FIELDS]
        # The service says "Payments already has a release 2.4.0" in words; no generic
        # unique-together message before it.
        validators: list = []


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class StartDeploySerializer(serializers.Serializer):
    override_reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Start inside a freeze window or off the planned day anyway (release "
        "manager; recorded).",
    )


class DeployReportSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=["started", "finished", "failed", "cancelled"],
        help_text="started/finished move the release through the same guards as a person; "
        "failed marks it unhealthy and asks for the rollback call; cancelled (a deploy stopped "
        "before it finished) takes it back to approved.",
    )
    detail = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    environment = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        default="",
        help_text="CI's name of the environment deployed to. When given, the report counts only "
        "if the project's environment mapping sends it to the release's environment.",
    )
    override_reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Start inside a freeze window anyway (release manager only).",
    )


class FinishRollbackSerializer(serializers.Serializer):
    at = serializers.DateTimeField(
        required=False, help_text="When service was restored; now if left out."
    )


class CarryForwardSerializer(serializers.ModelSerializer):
    """The new release that takes over the rolled-back one's scope."""

    class Meta:
        model = Release
        fields = ["version", *EDITABLE_RELEASE_FIELDS]
        validators: list = []


class ReleaseNotesSerializer(serializers.Serializer):
    release = serializers.IntegerField()
    markdown = serializers.CharField()


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    actor_is_person = serializers.SerializerMethodField()

    class Meta:
        model = ReleaseEvent
        fields = [
            "id",
            "created_at",
            "verb",
            "summary",
            "actor",
            "actor_is_person",
            "before",
            "after",
            "data",
        ]
        read_only_fields = fields

    def get_actor(self, event: ReleaseEvent) -> str:
        if event.actor is not None:
            return event.actor.get_username()
        return event.actor_label or "system"

    def get_actor_is_person(self, event: ReleaseEvent) -> bool:
        return event.actor_id is not None


class ProjectEventSerializer(EventSerializer):
    """One change to a project: who, what kind, before and after (credentials only as
    "credentials changed"), when."""

    kind = serializers.CharField(
        read_only=True,
        help_text="What changed: " + ", ".join(f"`{k}`" for k in ProjectEventKind.values) + ".",
    )

    class Meta:
        model = ProjectEvent
        fields = [
            "id",
            "created_at",
            "kind",
            "action",
            "summary",
            "actor",
            "actor_is_person",
            "before",
            "after",
            "data",
        ]
        read_only_fields = fields


class BlockerSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="checklist, check, rollback_plan, risk, sign_off or change_request"
    )
    message = serializers.CharField()
    section = serializers.CharField(help_text="The release page section that resolves it.")
    override = serializers.CharField(
        required=False,
        help_text="The approval policy setting that says who may override it: no_go, "
        "sign_offs, checks, freeze, deploy_window or readiness.",
    )


class RoleSignOffsSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    quorum = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["go", "no_go", "stale", "waiting"])
    go = serializers.ListField(child=serializers.CharField())
    no_go = serializers.ListField(child=serializers.CharField())
    stale = serializers.ListField(child=serializers.CharField())


class ReadinessSerializer(serializers.Serializer):
    release = serializers.IntegerField()
    ready = serializers.BooleanField()
    percent = serializers.IntegerField(min_value=0, max_value=100)
    criteria = serializers.IntegerField()
    met = serializers.IntegerField()
    blockers = BlockerSerializer(many=True)
    roles = RoleSignOffsSerializer(many=True)


class MilestoneSerializer(serializers.Serializer):
    # A declared field leaves the class when it is built; the stub still sees Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    planned = serializers.DateTimeField(allow_null=True)
    actual = serializers.DateTimeField(allow_null=True)


class TimelineIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    started_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True, help_text="None while it is open.")


class TimelineReleaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField()
    version = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=ReleaseKind.choices)
    status = serializers.ChoiceField(choices=Status.choices)
    health = serializers.ChoiceField(choices=Health.choices)
    override_used = serializers.BooleanField()
    milestones = MilestoneSerializer(many=True)
    incidents = TimelineIncidentSerializer(many=True)


class FreezePeriodSerializer(serializers.Serializer):
    window = serializers.IntegerField()
    project = serializers.CharField()
    reason = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class TimelineSerializer(serializers.Serializer):
    releases = TimelineReleaseSerializer(many=True)
    freeze_windows = FreezePeriodSerializer(many=True)


# --- scope ----------------------------------------------------------------------------------


class ScopeItemSerializer(serializers.ModelSerializer):
    owner = person()
    is_open_blocker = serializers.BooleanField(read_only=True)

    class Meta:
        model = ScopeItem
        fields = [
            "id",
            "kind",
            "title",
            "key",
            "url",
            "owner",
            "risk",
            "state",
            "is_open_blocker",
            "resolved_at",
            "resolution",
            "added_after_freeze",
            "merged_at",
            "created_at",
        ]
        read_only_fields = fields


class ScopeItemInputSerializer(serializers.ModelSerializer):
    owner = MemberField(required=False, allow_null=True)

    class Meta:
        model = ScopeItem
        fields = ["kind", "title", "key", "url", "owner", "risk"]


class ResolutionSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=2000)


class ScopeProposalSerializer(serializers.Serializer):
    """For "add": the new item's fields; for "change_risk": the new ``risk``."""

    kind = serializers.ChoiceField(choices=ScopeItem.Kind.choices, required=False)
    title = serializers.CharField(max_length=200, required=False)
    key = serializers.CharField(max_length=40, required=False, allow_blank=True)
    url = serializers.URLField(max_length=200, required=False, allow_blank=True)
    risk = serializers.ChoiceField(choices=ScopeItem.Risk.choices, required=False)
    owner = MemberField(required=False, allow_null=True)


class ChangeRequestSerializer(serializers.ModelSerializer):
    description = serializers.CharField(source="describe", read_only=True)
    requested_by = person()
    product_approved_by = person()
    manager_approved_by = person()
    decided_by = person()

    class Meta:
        model = ScopeChangeRequest
        fields = [
            "id",
            "action",
            "scope_item",
            "proposal",
            "description",
            "reason",
            "state",
            "requested_by",
            "requested_at",
            "product_approved_by",
            "product_approved_at",
            "manager_approved_by",
            "manager_approved_at",
            "decided_by",
            "decided_at",
            "rejection_reason",
        ]
        read_only_fields = fields


class ChangeRequestInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=ScopeChangeRequest.Action.choices)
    reason = serializers.CharField(max_length=2000)
    scope_item = serializers.PrimaryKeyRelatedField(
        queryset=ScopeItem.objects.all(),
        required=False,
        allow_null=True,
        help_text="The item to remove or re-rate (this release's).",
    )
    proposal = ScopeProposalSerializer(required=False)

    def validate_scope_item(self, item: ScopeItem | None) -> ScopeItem | None:
        if item is not None and item.release_id != self.context["release"].pk:
            raise serializers.ValidationError("Choose an item of this release.")
        return item


class AcceptChangeSerializer(serializers.Serializer):
    as_role = serializers.ChoiceField(
        choices=[Role.PRODUCT.value, Role.RELEASE_MANAGER.value],
        required=False,
        help_text="Which acceptance this is; defaults to the one you can still give.",
    )


# --- roles, checklists, rollback plan, review ------------------------------------------------


class AssignmentSerializer(serializers.ModelSerializer):
    user = person(nullable=False)

    class Meta:
        model = RoleAssignment
        fields = ["id", "user", "role"]
        read_only_fields = fields


class AssignmentInputSerializer(serializers.Serializer):
    user = MemberField()
    role = serializers.ChoiceField(choices=Role.choices)


class ChecklistItemSerializer(serializers.ModelSerializer):
    ticked = serializers.BooleanField(source="is_ticked", read_only=True)
    ticked_by = person()

    class Meta:
        model = ChecklistItem
        fields = [
            "id",
            "phase",
            "title",
            "help_text",
            "owner_role",
            "required",
            "evidence_required",
            "position",
            "ticked",
            "ticked_by",
            "ticked_at",
            "evidence_note",
            "evidence_url",
        ]
        read_only_fields = fields


class TickSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    url = serializers.URLField(max_length=200, required=False, allow_blank=True, default="")


class UntickSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RollbackPlanSerializer(serializers.ModelSerializer):
    decider = MemberField(required=False, allow_null=True)
    missing = serializers.SerializerMethodField()

    class Meta:
        model = RollbackPlan
        fields = [
            "revert_steps",
            "decider",
            "triggers",
            "data_considerations",
            "rehearsed_at",
            "rollback_webhook_url",
            "missing",
            "updated_at",
        ]
        read_only_fields = ["missing", "updated_at"]

    def get_missing(self, plan: RollbackPlan) -> list[str]:
        """What the plan still lacks; empty when it is complete."""
        return plan.missing(plan.release.kind)


class ReviewActionSerializer(serializers.ModelSerializer):
    owner = person()

    class Meta:
        model = ReviewAction
        fields = ["id", "description", "owner", "due_date", "done_at"]
        read_only_fields = fields


class ReviewActionInputSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=300)
    owner = MemberField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)


class ReviewSerializer(serializers.ModelSerializer):
    created_by = person()
    actions = ReviewActionSerializer(many=True, read_only=True)

    class Meta:
        model = Review
        fields = [
            "went_well",
            "went_badly",
            "caused_stress",
            "actions",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["actions", "created_by", "created_at", "updated_at"]


# --- incidents ------------------------------------------------------------------------------


class IncidentSerializer(serializers.ModelSerializer):
    release: serializers.PrimaryKeyRelatedField[Release] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    version = serializers.CharField(source="release.version", read_only=True)
    time_to_restore_seconds = serializers.SerializerMethodField()
    reported_by = serializers.CharField(read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "release",
            "version",
            "title",
            "severity",
            "started_at",
            "resolved_at",
            "time_to_restore_seconds",
            "link",
            "source",
            "external_id",
            "reported_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_time_to_restore_seconds(self, incident: Incident) -> float | None:
        restore = incident.time_to_restore
        return restore.total_seconds() if restore is not None else None


class IncidentInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    severity = serializers.ChoiceField(choices=Severity.choices)
    started_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When it started; now if left out."
    )
    resolved_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When service was restored; null while open."
    )
    link = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="http(s) link to the incident."
    )


class ReleaseNamedSerializer(serializers.Serializer):
    """Which release of the project a machine means: its version or the commit it deployed."""

    version = serializers.CharField(max_length=60, required=False)
    commit_sha = serializers.CharField(
        max_length=40, required=False, help_text="The deployed commit (7 to 40 characters)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("version")) == bool(attrs.get("commit_sha")):
            raise serializers.ValidationError(
                {"version": ["Name the release by its version or by its commit_sha (one of them)."]}
            )
        return attrs


class IncidentReportSerializer(ReleaseNamedSerializer, IncidentInputSerializer):
    """An incident reported by a tool: the same id from the same source changes it again."""

    # DRF's metaclass takes declared fields off the class, so this does not shadow the
    # ``source`` every field has; the type checker cannot know that.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=REPORTED_SOURCES, default=IncidentSource.API
    )
    external_id = serializers.CharField(max_length=200, help_text="The incident's id in the tool.")


class PagerDutyIncidentSerializer(ReleaseNamedSerializer):
    """PagerDuty's incident object (REST API v2), with the release it concerns.

    The fields below are the ones read and checked; the rest of PagerDuty's incident object is
    accepted as PagerDuty sends it and left unread (``lib.rest.input``: a provider's own object).
    """

    id = serializers.CharField(max_length=200)
    title = serializers.CharField(max_length=300)
    urgency = serializers.ChoiceField(
        choices=["high", "low"], help_text="high is recorded as SEV2, low as SEV3."
    )
    severity = serializers.ChoiceField(
        choices=Severity.choices, required=False, help_text="Overrides what urgency says."
    )
    status = serializers.ChoiceField(
        choices=["triggered", "acknowledged", "resolved"], required=False
    )
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(required=False, allow_null=True)
    last_status_change_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Taken as the resolve time of a resolved incident without resolved_at.",
    )
    html_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    incident_number = serializers.IntegerField(required=False)
    incident_key = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    service = serializers.DictField(required=False)
    assignments = serializers.ListField(required=False)


class EpochField(serializers.Field):
    """A moment as Opsgenie writes it: a whole number of units since 1970 (an alert's
    ``createdAt`` in milliseconds, its ``updatedAt`` in nanoseconds)."""

    def __init__(self, *, per_second: int, unit: str, **kwargs: Any) -> None:
        self.per_second, self.unit = per_second, unit
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dt.datetime:
        if isinstance(data, int) and not isinstance(data, bool) and data > 0:
            seconds, rest = divmod(data, self.per_second)
            try:
                return dt.datetime.fromtimestamp(seconds, tz=dt.UTC) + dt.timedelta(
                    microseconds=rest * 1_000_000 // self.per_second
                )
            except (OverflowError, OSError, ValueError):
                pass
        raise serializers.ValidationError(f"Give the time as a whole number of {self.unit}.")

    def to_representation(self, value: dt.datetime) -> int:
        return round(value.timestamp() * 1_000_000) * self.per_second // 1_000_000


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "example": 1502709956288})
class EpochMillisecondsField(EpochField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(per_second=1000, unit="milliseconds since 1970", **kwargs)


@extend_schema_field(
    {"type": "integer", "format": "int64", "minimum": 1, "example": 1502709956288000110}
)
class EpochNanosecondsField(EpochField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(per_second=1_000_000_000, unit="nanoseconds since 1970", **kwargs)


OPSGENIE_PRIORITIES = ["P1", "P2", "P3", "P4", "P5"]


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": OPSGENIE_PRIORITIES},
            {"type": "integer", "minimum": 1, "maximum": 5},
        ],
        "example": "P2",
    }
)
class OpsgeniePriorityField(serializers.Field):
    """An alert's priority as Opsgenie sends it: "P1" to "P5", or in some deliveries the number
    alone (``"priority": 3``); read as "P1" to "P5"."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, int) and not isinstance(data, bool):
            data = f"P{data}"
        if isinstance(data, str) and data.strip().upper() in OPSGENIE_PRIORITIES:
            return data.strip().upper()
        raise serializers.ValidationError("Give one of Opsgenie's priorities, P1 to P5.")

    def to_representation(self, value: str) -> str:
        return value


# The tags (and keys of the alert's details) that name the release an alert is about.
RELEASE_TAGS = ("version", "commit_sha")
OPSGENIE_NAME_THE_RELEASE = (
    "Name the release the alert is about, once: tag it version:<version> or commit_sha:<sha> "
    "(or give one of them in its details)."
)
RELEASE_TAG = re.compile(r"\s*(?P<key>\w+)\s*[:=]\s*(?P<value>\S.*)", re.DOTALL)


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, **kwargs)


class OpsgenieAlertSerializer(serializers.Serializer):
    """The alert in an Opsgenie webhook delivery. The fields Greenlight reads come first; the
    rest are accepted as Opsgenie sends them (some only with some actions), and so is any
    field not listed (``lib.rest.input``: a provider's own object)."""

    alertId = serializers.CharField(max_length=200, help_text="Recorded as the external id.")
    message = serializers.CharField(
        max_length=300,
        required=False,
        help_text="Recorded as the title. Needed to record an alert Greenlight has not seen; "
        "Opsgenie leaves it out of some actions (Escalate).",
    )
    priority = OpsgeniePriorityField(
        required=False,
        help_text="P1 is recorded as SEV1, P2 as SEV2, P3 as SEV3, P4 and P5 as SEV4; an alert "
        "first reported without one is SEV3 (Opsgenie's default, P3).",
    )
    createdAt = EpochMillisecondsField(
        required=False, help_text="When the alert started, in milliseconds since 1970."
    )
    updatedAt = EpochNanosecondsField(
        required=False,
        help_text="In nanoseconds since 1970; with the Close action, when the incident ended.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=100,
        help_text="A tag version:<version> (or version=<version>) or commit_sha:<sha> names the "
        "release the alert is about. Needed to record an alert Greenlight has not seen; a later "
        "action on it (a Close with no tags) finds the release it was recorded against.",
    )
    details = serializers.DictField(
        child=serializers.CharField(max_length=8000, allow_blank=True),
        required=False,
        help_text="Sent with Create when the integration adds alert details: a version or "
        "commit_sha key names the release, as a tag does.",
    )
    tinyId = _text(max_length=50)
    alias = _text(max_length=512)
    entity = _text(max_length=512)
    source = _text(max_length=512)  # type: ignore[assignment]  # a declared field (see IncidentReportSerializer)
    description = _text(max_length=15000)
    username = _text(max_length=200)
    userId = _text(max_length=200)
    owner = _text(max_length=200)
    note = _text(max_length=25000)
    team = _text(max_length=200)
    recipient = _text(max_length=200)
    addedTags = _text(max_length=2000)
    removedTags = _text(max_length=2000)
    oldPriority = _text(max_length=10)
    insertedAt = serializers.IntegerField(required=False)
    teams = serializers.ListField(required=False)
    recipients = serializers.ListField(required=False)
    responders = serializers.ListField(required=False)
    actions = serializers.ListField(required=False)


class OpsgenieAlertActionSerializer(serializers.Serializer):
    """What Opsgenie's Webhook integration posts when something happens to an alert."""

    action = serializers.CharField(
        max_length=100,
        help_text="Create, Acknowledge, Close, AddNote, … — Close resolves the incident.",
    )
    alert = OpsgenieAlertSerializer()
    source = serializers.DictField(  # type: ignore[assignment]  # a declared field (see IncidentReportSerializer)
        required=False, help_text="Who or what acted."
    )
    integrationId = _text(max_length=200)
    integrationName = _text(max_length=200)
    integrationType = _text(max_length=100)
    alertFlowContext = serializers.DictField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The release the alert names, if it names one: once, by one tag or detail."""
        alert = attrs["alert"]
        named: dict[str, set[str]] = {name: set() for name in RELEASE_TAGS}
        for tag in alert.get("tags", []):
            found = RELEASE_TAG.fullmatch(tag)
            if found and found["key"].lower() in named:
                named[found["key"].lower()].add(found["value"].strip())
        for key, value in alert.get("details", {}).items():
            if key.strip().lower() in named and value.strip():
                named[key.strip().lower()].add(value.strip())
        given = {name: values for name, values in named.items() if values}
        if not given:
            return attrs
        if len(given) != 1 or any(len(values) > 1 for values in given.values()):
            raise serializers.ValidationError({"alert": {"tags": [OPSGENIE_NAME_THE_RELEASE]}})
        ((name, (value,)),) = given.items()
        return attrs | {name: value}


class IncidentReportedSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="false when the report changed a known incident")
    incident = IncidentSerializer()


class FailureSerializer(serializers.Serializer):
    version = serializers.CharField()
    cause = serializers.CharField(
        help_text="`rolled back`, the incidents recorded against the deploy (`2 incidents`), "
        "or `fixed by hotfix <version>`."
    )
    restore_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Until the rollback finished, the last incident was resolved or the hotfix "
        "was deployed; null while an incident is open.",
    )


class MetricsSerializer(serializers.Serializer):
    """The four DORA metrics for a project over a period, with their performance bands."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    deployments = serializers.IntegerField()
    deploys_per_week = serializers.FloatField()
    deployment_frequency_band = serializers.CharField()
    lead_time_seconds = serializers.FloatField(allow_null=True)
    lead_time_band = serializers.CharField(allow_null=True)
    change_failure_rate = serializers.FloatField(
        allow_null=True,
        help_text="Deploys rolled back, with an incident recorded against them, or fixed by the "
        "next deploy as a hotfix, over all deploys; null without deploys.",
    )
    change_failure_rate_band = serializers.CharField(allow_null=True)
    time_to_restore_seconds = serializers.FloatField(
        allow_null=True,
        help_text="The median over the failed deploys; one failed by incidents counts from the "
        "first incident's start to the last one's resolve.",
    )
    time_to_restore_band = serializers.CharField(allow_null=True)
    failures = FailureSerializer(many=True)
