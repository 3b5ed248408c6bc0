from __future__ import annotations

from typing import Any

from django import template

from chat import services
from chat.forms import SlackAppForm
from chat.models import SlackApp

register = template.Library()


@register.simple_tag(takes_context=True)
def slack_settings(context: Any) -> dict[str, Any]:
    """What the Slack section of the project settings page shows."""
    project = context["project"]
    app = SlackApp.objects.filter(project=project).first()
    form = context.get("slack_form") or SlackAppForm(
        prefix="slack", initial={"release_channel": app.release_channel if app else ""}
    )
    return {
        "app": app,
        "form": form,
        "interactivity_url": services.request_url(project, "slack_interactivity"),
        "command_url": services.request_url(project, "slack_command"),
    }
