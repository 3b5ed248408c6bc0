"""Forms of the release workspace. They validate input; the services do the rest.

Plain forms rather than ModelForms where a service owns the write: a form never saves, and the
in-memory release a page renders is never half-updated by a form that failed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from releases.models import (
    REVIEW_TEXT_MAX,
    ChecklistTemplate,
    Evidence,
    FreezeWindow,
    Phase,
    Project,
    ProjectEventKind,
    ReleaseKind,
    ReleaseTrain,
    Role,
    ScopeChangeRequest,
    ScopeItem,
    Severity,
    Status,
    clean_commit_sha,
)
from releases.services.checklists import TEMPLATE_FIELDS
from releases.services.freeze_windows import FREEZE_FIELDS
from releases.services.projects import PROJECT_FIELDS
from releases.services.trains import TRAIN_FIELDS

User = get_user_model()

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocal(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_FORMAT)


def when_field(label: str, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, required=False, widget=DateTimeLocal(), help_text=help_text
    )


def person_label(user: Any) -> str:
    return user.get_full_name() or user.get_username()


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return person_label(obj)


def members_of(project: Project) -> QuerySet:
    return (
        User.objects.filter(memberships__project=project)
        .distinct()
        .order_by("first_name", "username")
    )


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: per field where the form has the field."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


# --- releases -------------------------------------------------------------------------------


class ReleaseForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(
        choices=ReleaseKind.choices,
        help_text="Decides the ceremony: which roles sign off and which checklist items apply.",
    )
    git_ref = forms.CharField(
        label="Git ref", max_length=200, required=False, help_text="Branch or tag, e.g. release/2.4"
    )
    commit_sha = forms.CharField(
        label="Commit SHA",
        max_length=64,
        required=False,
        help_text="Changing it after sign-offs makes them stale.",
    )
    environment = forms.CharField(max_length=60, initial="production")
    code_freeze_at = when_field("Code freeze", "Times are UTC.")
    go_no_go_at = when_field("Go/no-go meeting")
    deploy_window_start = when_field("Deploy window opens")
    deploy_window_end = when_field("Deploy window closes")
    monitoring_ends_at = when_field("End of monitoring")

    def __init__(self, *args: Any, kind_locked: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kind_locked:
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = "The kind is fixed once the scope is locked."

    def clean_commit_sha(self) -> str:
        return clean_commit_sha(self.cleaned_data["commit_sha"])


class NewReleaseForm(ReleaseForm):
    project = forms.ModelChoiceField(queryset=Project.objects.none())
    version = forms.CharField(max_length=60, help_text="e.g. 2.6.0")

    field_order = ["project", "version"]

    def __init__(self, *args: Any, projects: QuerySet[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["project"]).queryset = projects
        if len(projects) == 1:
            self.fields["project"].initial = projects[0]

    def clean_version(self) -> str:
        return self.cleaned_data["version"].strip()


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class StartDeployForm(forms.Form):
    override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed only inside a freeze window or outside the planned deploy day.",
    )


class FinishRollbackForm(forms.Form):
    finished_at = when_field("Finished at", "Times are UTC. Leave empty if it finished just now.")

    def clean_finished_at(self) -> Any:
        finished = self.cleaned_data["finished_at"]
        if finished and finished > timezone.now():
            raise ValidationError("The rollback cannot finish in the future.")
        return finished


class CarryForwardForm(forms.Form):
    version = forms.CharField(
        label="Version of the new release", max_length=60, help_text="e.g. 2.5.1"
    )

    def clean_version(self) -> str:
        return self.cleaned_data["version"].strip()


# --- scope ----------------------------------------------------------------------------------


class ScopeItemForm(forms.Form):
    kind = forms.ChoiceField(choices=ScopeItem.Kind.choices)
    title = forms.CharField(max_length=200)
    key = forms.CharField(max_length=40, required=False, help_text="Tracker key, e.g. PAY-142")
    url = forms.URLField(label="Link", required=False, assume_scheme="https")
    owner = PersonChoiceField(queryset=User.objects.none(), required=False)
    risk = forms.ChoiceField(choices=ScopeItem.Risk.choices, initial=ScopeItem.Risk.LOW)

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = members_of(project)


class ChangeRequestForm(forms.Form):
    action = forms.ChoiceField(choices=ScopeChangeRequest.Action.choices)
    scope_item = forms.ModelChoiceField(
        label="Item",
        queryset=ScopeItem.objects.none(),
        required=False,
        help_text="For a removal or a risk change.",
    )
    title = forms.CharField(max_length=200, required=False, help_text="For a new item: what it is.")
    kind = forms.ChoiceField(choices=ScopeItem.Kind.choices, required=False)
    key = forms.CharField(max_length=40, required=False)
    url = forms.URLField(label="Link", required=False, assume_scheme="https")
    risk = forms.ChoiceField(
        choices=[("", "—"), *ScopeItem.Risk.choices],
        required=False,
        help_text="The new item's risk, or the item's new risk.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the scope should change after the freeze.",
    )

    def __init__(self, *args: Any, release: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(
            forms.ModelChoiceField, self.fields["scope_item"]
        ).queryset = release.scope_items.filter(state=ScopeItem.State.INCLUDED)

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        action = data["action"]
        proposal: dict[str, Any] = {}
        if action == ScopeChangeRequest.Action.ADD:
            proposal = {
                name: data[name] for name in ("title", "kind", "key", "url") if data.get(name)
            }
            if data.get("risk"):
                proposal["risk"] = data["risk"]
        elif action == ScopeChangeRequest.Action.CHANGE_RISK:
            proposal = {"risk": data.get("risk") or None}
        return {
            "action": action,
            "reason": data["reason"],
            "scope_item": data.get("scope_item") if action != "add" else None,
            "proposal": proposal,
        }


class ResolveRiskForm(forms.Form):
    resolution = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="How it was mitigated, or why it is accepted.",
    )


# --- checklists, notes ----------------------------------------------------------------------


class TickForm(forms.Form):
    note = forms.CharField(label="Evidence note", max_length=2000, required=False)
    url = forms.URLField(label="Evidence link", required=False, assume_scheme="https")


class UntickForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False)


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


# --- people, rollback, review -----------------------------------------------------------------


class AssignRoleForm(forms.Form):
    user = PersonChoiceField(label="Person", queryset=User.objects.none())
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["user"]).queryset = members_of(project)


class RollbackPlanForm(forms.Form):
    revert_steps = forms.CharField(
        label="How to revert", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    decider = PersonChoiceField(
        label="Who makes the call", queryset=User.objects.none(), required=False
    )
    triggers = forms.CharField(
        label="What triggers a rollback", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    data_considerations = forms.CharField(
        label="Data and in-flight work", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    rehearsed_at = when_field("Rehearsed at", "Required before a major release.")
    rollback_webhook_url = forms.URLField(
        label="Rollback webhook",
        required=False,
        assume_scheme="https",
        help_text="Called (signed) when Greenlight starts a rollback automatically.",
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["decider"]).queryset = members_of(project)


class ReviewForm(forms.Form):
    went_well = forms.CharField(
        label="What went well",
        required=False,
        max_length=REVIEW_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    went_badly = forms.CharField(
        label="What broke or nearly did",
        required=False,
        max_length=REVIEW_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    caused_stress = forms.CharField(
        label="What caused stress",
        required=False,
        max_length=REVIEW_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReviewActionForm(forms.Form):
    description = forms.CharField(label="Action", max_length=300)
    owner = PersonChoiceField(queryset=User.objects.none(), required=False)
    due_date = forms.DateField(
        label="Due", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = members_of(project)


class IncidentForm(forms.Form):
    title = forms.CharField(label="What went wrong", max_length=300)
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.SEV2)
    started_at = when_field("Started at", "Times are UTC. Leave empty if it started just now.")
    resolved_at = when_field("Resolved at", "Leave empty while it is still open.")
    link = forms.CharField(
        label="Link",
        max_length=500,
        required=False,
        help_text="The incident in your incident tool or status page (http or https).",
        widget=forms.URLInput,
    )


class ResolveIncidentForm(forms.Form):
    resolved_at = when_field("Resolved at", "Times are UTC. Leave empty if it was just now.")


# --- dashboard ------------------------------------------------------------------------------

ACTIVE_STATUS_CHOICES = [
    (s.value, s.label)
    for s in (Status.PLANNING, Status.FROZEN, Status.APPROVED, Status.DEPLOYING, Status.MONITORING)
]


class DashboardFilter(forms.Form):
    project = forms.ChoiceField(required=False)
    status = forms.ChoiceField(
        required=False, choices=[("", "Any active status"), *ACTIVE_STATUS_CHOICES]
    )
    mine = forms.BooleanField(label="Needs my action", required=False)

    def __init__(self, *args: Any, projects: list[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["project"]).choices = [("", "All my projects")] + [
            (p.slug, p.name) for p in projects
        ]


# --- project settings -------------------------------------------------------------------------


class ProjectForm(forms.ModelForm):
    # The bounds of the monitoring windows are the model's validators.
    class Meta:
        model = Project
        fields = list(PROJECT_FIELDS)
        labels = {
            "monitoring_minutes_standard": "Monitoring window, standard (minutes)",
            "monitoring_minutes_hotfix": "Monitoring window, hotfix (minutes)",
            "monitoring_minutes_major": "Monitoring window, major (minutes)",
            "slack_webhook_url": "Chat webhook",
        }
        help_texts = {
            "monitoring_minutes_major": "How long a release is watched after “deploy done”; "
            "releases already in monitoring keep their window.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A form that does not send it keeps the project's zone.
        self.fields["time_zone"].required = False
        self.fields["time_zone"].help_text = "An IANA name such as Europe/Berlin."

    def clean_time_zone(self) -> str:
        return self.cleaned_data.get("time_zone") or self.instance.time_zone or "UTC"


MEMBER_ROLE_CHOICES = Role.choices


class MemberRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        choices=MEMBER_ROLE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="No role removes the person from the project.",
    )


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    roles = forms.MultipleChoiceField(
        choices=MEMBER_ROLE_CHOICES, widget=forms.CheckboxSelectMultiple
    )

    def clean_username(self) -> Any:
        name = self.cleaned_data["username"].strip()
        user = User.objects.filter(username__iexact=name).first()
        if user is None:
            raise ValidationError(f"Nobody is called {name!r} here.")
        return user


class ChecklistTemplateForm(forms.ModelForm):
    class Meta:
        model = ChecklistTemplate
        fields = list(TEMPLATE_FIELDS)
        labels = {
            "for_standard": "Standard",
            "for_hotfix": "Hotfix",
            "for_major": "Major",
            "owner_role": "Owner",
        }
        widgets = {"help_text": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A form posted without it (an older page, a script) asks for no evidence, as before.
        self.fields["evidence_required"].required = False

    def clean_evidence_required(self) -> str:
        return self.cleaned_data["evidence_required"] or Evidence.NONE

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not any(data.get(f"for_{kind}") for kind in ReleaseKind.values):
            raise ValidationError("Choose at least one kind of release the item applies to.")
        return data


PHASES = Phase.choices


class DeployEnvironmentsForm(forms.Form):
    """The mapping as lines of ``CI name = environment``; nothing after "=" ignores that name."""

    deploy_environments = forms.CharField(
        label="Deploy environments",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One per line: CI's environment name = the release environment it deploys "
        "to, e.g. “prod = production”. Nothing after “=” (“github-pages =”) means deploys "
        "there never move a release. A name not listed stands for itself.",
    )

    @staticmethod
    def as_text(mapping: dict[str, str]) -> str:
        return "\n".join(f"{name} = {target}".rstrip() for name, target in mapping.items())

    def clean_deploy_environments(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["deploy_environments"].splitlines(), 1):
            if not line.strip():
                continue
            name, equals, target = line.partition("=")
            if not equals:
                raise ValidationError(f"Line {number}: write “CI name = environment”.")
            if name.strip().lower() in mapping:
                raise ValidationError(f"Line {number}: “{name.strip()}” is listed twice.")
            mapping[name.strip().lower()] = target.strip()
        return mapping


class FreezeWindowForm(forms.ModelForm):
    starts_at = when_field("Starts (UTC)")
    ends_at = when_field("Ends (UTC)")

    class Meta:
        model = FreezeWindow
        fields = list(FREEZE_FIELDS)
        widgets = {
            "start_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "end_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        help_texts = {"timezone": "For weekly windows, e.g. Europe/Berlin."}


# --- release trains ---------------------------------------------------------------------------


class TrainForm(forms.ModelForm):
    # The bounds of every number are the model's validators.
    class Meta:
        model = ReleaseTrain
        fields = list(TRAIN_FIELDS)
        labels = {
            "cadence_weeks": "Every how many weeks",
            "deploy_duration_minutes": "Deploy window (minutes)",
            "create_days_ahead": "Create the release (days ahead)",
            "first_deploy_date": "First deploy day",
            "deploy_time": "Deploy time",
            "code_freeze_days_before": "Code freeze (days before the deploy)",
            "go_no_go_hours_before": "Go/no-go (hours before the deploy)",
            "freeze_reminder_hours": "Freeze reminder (hours before the freeze)",
            "active": "Active: create releases",
        }
        help_texts = {
            "create_days_ahead": "Beat creates each release this many days before its deploy day.",
            "first_deploy_date": "Later departures fall on the same weekday.",
            "timezone": "Of the deploy time, e.g. Europe/Berlin.",
        }
        widgets = {
            "first_deploy_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "deploy_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }


class SkipSlotForm(forms.Form):
    reason = forms.CharField(
        label="Why skip it?", max_length=300, widget=forms.TextInput(attrs={"size": 30})
    )


# --- DORA metrics ------------------------------------------------------------------------------

PRESET_DAYS = (30, 90, 180)
LONGEST_PERIOD = dt.timedelta(days=3 * 366)


class MetricsForm(forms.Form):
    """The period of the metrics page: the last 30/90/180 days, or from one day to another."""

    days = forms.TypedChoiceField(
        label="Period",
        choices=[(str(d), f"Last {d} days") for d in PRESET_DAYS],
        coerce=int,
        required=False,
        empty_value=90,  # type: ignore[arg-type]  # any value: the stub allows only text
    )
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Included. Days are UTC.",
    )
    bucket = forms.ChoiceField(
        label="Charts by",
        choices=[("", "Automatic"), ("week", "Week"), ("month", "30 days")],
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("start"), data.get("end")
        if start is None and end is None:
            return data
        if start is None and "start" not in self.errors:
            self.add_error("start", "Give the first day of the period too.")
        if end is None and "end" not in self.errors:
            self.add_error("end", "Give the last day of the period too.")
        if start and end:
            if end < start:
                self.add_error("end", "The period cannot end before it starts.")
            elif end - start > LONGEST_PERIOD:
                self.add_error("start", "Choose at most three years.")
        if end and end > timezone.now().date():
            self.add_error("end", "The period cannot end in the future.")
        return data

    def period(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in UTC; a custom period runs to the end of its last day (or now)."""
        data = self.cleaned_data if self.is_bound else {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            begin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
            until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            return begin, min(until, now)
        days = data.get("days") or 90
        return now - dt.timedelta(days=days), now

    def bucket_size(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        choice = self.cleaned_data.get("bucket") if self.is_bound else ""
        if choice == "week" or (not choice and end - start <= dt.timedelta(days=120)):
            return dt.timedelta(weeks=1)
        return dt.timedelta(days=30)


class ProjectEventFilterForm(forms.Form):
    """The audit page's filters: the same ``kind`` and ``actor`` as the API's."""

    kind = forms.ChoiceField(
        label="What changed",
        required=False,
        choices=[("", "Everything"), *ProjectEventKind.choices],
    )
    actor = forms.ChoiceField(label="Who", required=False)

    def __init__(self, *args: Any, actors: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["actor"]).choices = [
            ("", "Anyone"),
            *((name, name) for name in actors),
        ]
