"""The outgoing webhooks section of a project's settings page reads what it shows here, so the
page that includes it needs to know nothing about webhooks."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import template

from releases.models import Project
from subscriptions import access
from subscriptions.forms import SubscriptionForm
from subscriptions.models import Delivery, Subscription

register = template.Library()

# Deliveries shown per webhook on the settings page; its own page shows more.
RECENT = 5


@register.simple_tag(takes_context=True)
def project_webhooks(context: template.Context, project: Project) -> dict[str, Any]:
    user = context["request"].user
    if not access.SEE_WEBHOOKS.allows(user, project):
        return {"can_see": False, "can_manage": False, "subscriptions": []}
    subscriptions = list(Subscription.objects.filter(project=project))
    recent: dict[int, list[Delivery]] = defaultdict(list)
    # One query for every webhook's latest deliveries, however many webhooks there are.
    rows = Delivery.objects.filter(subscription__project=project).log()[: RECENT * 20]
    for delivery in rows:
        if len(recent[delivery.subscription_id]) < RECENT:
            recent[delivery.subscription_id].append(delivery)
    for subscription in subscriptions:
        subscription.recent = recent[subscription.pk]
    return {
        "can_see": True,
        "can_manage": access.MANAGE_WEBHOOKS.allows(user, project),
        "subscriptions": subscriptions,
        "form": SubscriptionForm(),
    }
