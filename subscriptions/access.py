"""Who manages a project's outgoing webhooks: whoever configures its integrations today (DevOps,
the project's release managers, administrators). Their deliveries carry release details and the
receivers' answers, and their secrets sign as Greenlight, so nobody else reads them either."""

from __future__ import annotations

from releases.access import Rule, can_configure_monitoring

SEE_WEBHOOKS = Rule(
    can_configure_monitoring,
    "Only DevOps and the project's release managers see its outgoing webhooks.",
)
MANAGE_WEBHOOKS = Rule(
    can_configure_monitoring,
    "Only DevOps and the project's release managers manage its outgoing webhooks.",
)
