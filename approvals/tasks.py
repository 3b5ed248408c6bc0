"""Celery tasks of the approvals app: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from approvals.services import reminders, sign_offs


@shared_task
def send_sign_off_reminders() -> int:
    """Beat: remind people with pending sign-offs and escalate missed go/no-go times."""
    return reminders.send_due_reminders()


@shared_task
def withdraw_lapsed_approvals() -> int:
    """Beat: pull back the Go of approved releases whose sign-offs have expired since."""
    return sign_offs.withdraw_lapsed_approvals()
