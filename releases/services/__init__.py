"""Every operation that changes a release or a project, one module per concept.

Each service has the same shape: guard → ``transaction.atomic()`` with the release row locked →
change → ``log_event`` → side effects with ``transaction.on_commit``. Who may call what is decided
by ``releases.access``; the services enforce it for people and guard the release's state.
"""
