"""Operations of monitoring, one module per concept: integrations, checks, results, polling,
the health window, deploy reports, rollback and inbound webhooks."""
