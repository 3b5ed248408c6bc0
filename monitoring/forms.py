"""Forms for integrations and checks, built from what each kind's adapter asks for.

They only collect input: the services validate it and save it. Credentials are write-only: a
secret field never shows the stored value, and leaving it empty keeps what is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from monitoring.integrations.base import FieldSpec
from monitoring.models import (
    Check,
    CheckPhase,
    Comparator,
    Integration,
    IntegrationKind,
    TriggerMode,
)
from monitoring.services.checks import CHECK_FIELDS, MIN_INTERVAL_SECONDS
from monitoring.services.integrations import (
    base_url_field,
    config_fields,
    param_fields,
    secret_fields,
)
from releases.models import Project

CONFIG, SECRET, CLEAR, PARAM = "config__", "secret__", "clear__", "param__"


def _text_field(spec: FieldSpec, *, required: bool, **kwargs: Any) -> forms.CharField:
    return forms.CharField(
        label=spec.label, required=required, help_text=spec.help, max_length=2000, **kwargs
    )


def attach_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's field errors (``config.repo``, ``secrets.token``…) on the form's fields."""
    prefixes = {"config.": CONFIG, "secrets.": SECRET, "params.": PARAM}
    messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for key, texts in messages.items():
        name = key
        for dotted, prefix in prefixes.items():
            if key and key.startswith(dotted):
                name = prefix + key.removeprefix(dotted)
        for text in texts:
            form.add_error(name if name in form.fields else None, text)


class IntegrationForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=IntegrationKind.choices)
    enabled = forms.BooleanField(
        required=False, initial=True, help_text="Disabled integrations are not called."
    )

    def __init__(
        self, *args: Any, kind: str, integration: Integration | None = None, **kwargs: Any
    ) -> None:
        self.integration = integration
        self.integration_kind = kind
        if integration is not None:
            kwargs.setdefault("initial", {}).update(
                {"name": integration.name, "kind": integration.kind, "enabled": integration.enabled}
            )
        super().__init__(*args, **kwargs)
        self.fields["kind"].initial = kind
        if integration is not None:
            # The kind of an existing integration is fixed; a disabled field ignores the POST.
            self.fields["kind"].disabled = True
        url_spec = base_url_field(kind)
        if url_spec is not None:
            self.fields["base_url"] = _text_field(
                url_spec,
                required=url_spec.required,
                initial=integration.base_url if integration else "",
                widget=forms.URLInput(attrs={"placeholder": "https://"}),
            )
        config = integration.config if integration else {}
        for spec in config_fields(kind):
            self.fields[CONFIG + spec.name] = _text_field(
                spec, required=spec.required, initial=config.get(spec.name, "")
            )
        stored: set[str] = integration.stored_secret_names() if integration else set()
        shown: dict[str, str] = {}
        if integration is not None and stored:
            # Fields that are not secret (a user name) may be shown; secret ones never are.
            plain = {s.name for s in secret_fields(kind) if not s.secret}
            shown = {k: v for k, v in integration.secrets().items() if k in plain}
        for spec in secret_fields(kind):
            is_stored = spec.name in stored
            help_text = spec.help
            if spec.secret and is_stored:
                help_text = "Stored. Leave empty to keep it. " + help_text
            widget = (
                forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
                if spec.secret
                else forms.TextInput()
            )
            self.fields[SECRET + spec.name] = forms.CharField(
                label=spec.label,
                required=spec.required and not is_stored,
                help_text=help_text.strip(),
                widget=widget,
                initial=shown.get(spec.name, ""),
                max_length=4000,
            )
            if is_stored and not spec.required:
                self.fields[CLEAR + spec.name] = forms.BooleanField(
                    label=f"Remove the stored {spec.label.lower()}", required=False
                )

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kind": self.integration_kind,
            "enabled": data.get("enabled", False),
            "base_url": data.get("base_url", ""),
            "config": {
                name.removeprefix(CONFIG): value
                for name, value in data.items()
                if name.startswith(CONFIG)
            },
            "secrets": {
                name.removeprefix(SECRET): value
                for name, value in data.items()
                if name.startswith(SECRET)
            },
            "clear_secrets": [
                name.removeprefix(CLEAR)
                for name, value in data.items()
                if name.startswith(CLEAR) and value
            ],
        }


class CheckForm(forms.Form):
    name = forms.CharField(max_length=120)
    integration = forms.ModelChoiceField(queryset=Integration.objects.none())
    phase = forms.ChoiceField(choices=CheckPhase.choices)
    required = forms.BooleanField(
        required=False, initial=True, help_text="Advisory checks are shown but never block."
    )
    comparator = forms.ChoiceField(
        choices=[("", "—"), *Comparator.choices],
        required=False,
        help_text="For checks that read a number: it passes when value ⟨comparator⟩ threshold.",
    )
    threshold = forms.FloatField(required=False)
    stabilisation_seconds = forms.IntegerField(
        min_value=0,
        initial=0,
        label="Stabilisation (s)",
        help_text=Check._meta.get_field("stabilisation_seconds").help_text,
    )
    interval_seconds = forms.IntegerField(
        min_value=MIN_INTERVAL_SECONDS,
        initial=60,
        label="Interval (s)",
        help_text="How often the check is read.",
    )
    hold_seconds = forms.IntegerField(
        min_value=0,
        initial=0,
        label="Hold (s)",
        help_text=Check._meta.get_field("hold_seconds").help_text,
    )
    timeout_seconds = forms.IntegerField(
        min_value=1,
        required=False,
        label="Timeout (s)",
        help_text=Check._meta.get_field("timeout_seconds").help_text + " Empty: no timeout.",
    )

    def __init__(
        self,
        *args: Any,
        project: Project,
        check: Check | None = None,
        integration: Integration | None = None,
        **kwargs: Any,
    ) -> None:
        self.check = check
        if check is not None:
            initial = kwargs.setdefault("initial", {})
            for name in CHECK_FIELDS:
                if name != "params":
                    initial.setdefault(name, getattr(check, name))
            for key, value in (check.params or {}).items():
                initial.setdefault(PARAM + key, value)
        super().__init__(*args, **kwargs)
        cast(
            forms.ModelChoiceField, self.fields["integration"]
        ).queryset = project.integrations.order_by("name")
        integration = integration or (check.integration if check else None)
        # Declared fields leave the class when it is built: the name is free on the form.
        self.integration = integration  # type: ignore[assignment]
        kind = integration.kind if integration else ""
        for spec in param_fields(kind):
            self.fields[PARAM + spec.name] = _text_field(spec, required=spec.required)
        self.has_params = bool(param_fields(kind))

    def service_arguments(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        arguments = {name: data[name] for name in CHECK_FIELDS if name in data}
        if self.has_params:
            arguments["params"] = {
                name.removeprefix(PARAM): value
                for name, value in data.items()
                if name.startswith(PARAM)
            }
        return arguments


def chosen_integration(
    project: Project, data: Mapping[str, Any], fallback: Integration | None = None
) -> Integration | None:
    """The integration the form is about: from the submitted data, else ``fallback``."""
    raw = data.get("integration")
    if raw:
        try:
            return project.integrations.filter(pk=int(raw)).first() or fallback
        except (TypeError, ValueError):
            return fallback
    return fallback


class JudgementForm(forms.Form):
    passed = forms.TypedChoiceField(
        choices=[("1", "Counts as passing"), ("0", "Counts as failing")],
        coerce=lambda v: v == "1",
        label="Judgement",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


# --- rollback triggers --------------------------------------------------------------------------


class RollbackTriggerForm(forms.Form):
    """Bind a rollback trigger to one of the release's post-release checks."""

    check = forms.ModelChoiceField(
        label="When this check breaches",
        queryset=Check.objects.none(),
        help_text="Its condition and hold time are the trigger's: “error rate > 2 % for 5 min”.",
    )
    mode = forms.ChoiceField(
        label="Then", choices=TriggerMode.choices, initial=TriggerMode.RECOMMEND
    )
    description = forms.CharField(
        max_length=200,
        required=False,
        help_text="In words, for the banner and the notifications; empty takes the check's "
        "condition.",
    )

    def __init__(self, *args: Any, checks: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["check"]).queryset = checks


class RollbackTriggerChangeForm(forms.Form):
    mode = forms.ChoiceField(label="Then", choices=TriggerMode.choices)
    description = forms.CharField(max_length=200)
