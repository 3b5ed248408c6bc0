"""Forms of the approvals flow: sign-offs, the go/no-go decision and the approval policy."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from approvals.models import ApprovalPolicy, Decision, SignOff
from releases.models import SIGNING_ROLES, ReleaseKind, Role


class SignOffForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    decision = forms.ChoiceField(choices=SignOff.Decision.choices)
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional with Go; a No-go needs the reason.",
    )


class WithdrawSignOffForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=Decision.Outcome.choices)
    notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required for a No-go: the reasons.",
    )
    override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required for a Go while the release is not ready; visible forever.",
    )


class PolicyForm(forms.ModelForm):
    class Meta:
        model = ApprovalPolicy
        fields = [
            "separation_of_duties",
            "creator_cannot_sign_off",
            "signer_cannot_decide",
            "no_self_assignment",
            "require_commit_before_poll",
            "sign_off_expiry_days",
            "decider_role",
            "reminder_hours_before",
            "override_no_go",
            "override_sign_offs",
            "override_checks",
            "override_freeze",
            "override_deploy_window",
        ]
        labels = {
            "creator_cannot_sign_off": "The release's creator may not sign it off",
            "signer_cannot_decide": "Whoever signed off may not record the go/no-go",
            "no_self_assignment": "The creator may not make themselves an approver",
            "require_commit_before_poll": "The go/no-go poll needs the commit SHA",
            "sign_off_expiry_days": "Sign-offs expire after (days)",
            "decider_role": "Who records the go/no-go",
            "reminder_hours_before": "Remind pending signers (hours before go/no-go)",
            "override_no_go": "Who may override a standing No-go",
            "override_sign_offs": "Who may override missing or stale sign-offs",
            "override_checks": "Who may override checks that are not passing",
            "override_freeze": "Who may deploy inside a freeze window",
            "override_deploy_window": "Who may deploy outside the deploy window",
        }
        help_texts = {"sign_off_expiry_days": "Empty: sign-offs do not expire."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["decider_role"]).choices = [
            (role.value, role.label) for role in SIGNING_ROLES
        ]


def quorum_field_name(kind: str, role: str) -> str:
    return f"quorum_{kind}_{role}"


class RequirementsForm(forms.Form):
    """Required roles × quorum per release kind; 0 means the role is not asked."""

    def __init__(self, *args: Any, current: dict[tuple[str, str], int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind in ReleaseKind.values:
            for role in SIGNING_ROLES:
                self.fields[quorum_field_name(kind, role)] = forms.IntegerField(
                    label=f"{Role(role).label} on {ReleaseKind(kind).label.lower()} releases",
                    min_value=0,
                    max_value=9,
                    initial=current.get((kind, role), 0),
                )

    def rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        """One row per role, one bound field per kind, for the matrix in the template."""
        return [
            (
                Role(role).label,
                [self[quorum_field_name(kind, role)] for kind in ReleaseKind.values],
            )
            for role in SIGNING_ROLES
        ]

    def requirements(self) -> list[tuple[str, str, int]]:
        return [
            (kind, role, self.cleaned_data[quorum_field_name(kind, role)])
            for kind in ReleaseKind.values
            for role in SIGNING_ROLES
        ]
