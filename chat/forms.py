from __future__ import annotations

from django import forms


class SlackAppForm(forms.Form):
    bot_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Bot User OAuth Token (xoxb-…); empty keeps the saved one.",
    )
    signing_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="From the app's Basic Information page; empty keeps the saved one.",
    )
    release_channel = forms.CharField(
        required=False,
        max_length=32,
        help_text="Channel ID (C…) that follows every release (invite the app); empty for none.",
    )
