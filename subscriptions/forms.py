from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from subscriptions.models import Event, Subscription


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who receives the events, e.g. Deploy board.")
    target_url = forms.CharField(
        label="Target URL",
        max_length=500,
        help_text="Greenlight POSTs each event here as JSON, signed with the webhook's secret.",
    )
    events = forms.MultipleChoiceField(
        choices=Event.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(Event.values),
        error_messages={"required": "Choose at least one event."},
    )

    def __init__(self, *args: Any, subscription: Subscription | None = None, **kwargs: Any):
        if subscription is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": subscription.name,
                "target_url": subscription.target_url,
                "events": subscription.events,
            }
        super().__init__(*args, **kwargs)

    def attach(self, error: ValidationError) -> None:
        """The service's field errors on the form's fields."""
        messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for name, texts in messages.items():
            for text in texts:
                self.add_error(name if name in self.fields else None, text)
