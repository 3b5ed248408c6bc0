from __future__ import annotations

from typing import Any

from django import forms

from monitoring.models import Integration, IntegrationKind


class GitHubAppForm(forms.Form):
    app_id = forms.CharField(label="Client ID or App ID", max_length=100)
    slug = forms.CharField(label="App name (slug)", max_length=100, required=False)
    repository = forms.CharField(
        label="Repository",
        max_length=200,
        required=False,
        help_text="owner/name; deliveries about any other repository change nothing.",
    )
    api_url = forms.CharField(
        label="API address",
        max_length=300,
        required=False,
        help_text="https://api.github.com when empty; GitHub Enterprise: https://HOST/api/v3.",
    )
    private_key = forms.CharField(
        label="Private key (.pem)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Stored encrypted, never shown again; leave empty to keep the stored one.",
    )
    webhook_secret = forms.CharField(
        label="Webhook secret",
        max_length=200,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored one.",
    )


class GitLabApprovalsForm(forms.Form):
    integration = forms.ModelChoiceField(
        label="Approve through",
        queryset=Integration.objects.none(),
        required=False,
        empty_label="Nobody (Greenlight does not approve GitLab deployments)",
    )

    def __init__(self, *args: Any, project: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["integration"].queryset = project.integrations.filter(
            kind=IntegrationKind.GITLAB
        )
