"""Checklists: the project's templates and ticking a release's items."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib.errors import Refused
from releases.events import Actor, log_event
from releases.models import (
    ChecklistItem,
    ChecklistTemplate,
    Phase,
    Project,
    ProjectEventKind,
)
from releases.services.common import (
    check_links,
    content_changed,
    delete_project_row,
    lock_release,
    reject_unknown_fields,
    save_project_row,
)

User = get_user_model()


TEMPLATE_FIELDS = (
    "phase",
    "title",
    "help_text",
    "owner_role",
    "required",
    "evidence_required",
    "for_standard",
    "for_hotfix",
    "for_major",
    "position",
)


def save_checklist_template(
    project: Project, *, by: Any, template: ChecklistTemplate | None = None, **fields: Any
) -> ChecklistTemplate:
    """Create a checklist template item, or change one; releases created later get the copy."""
    reject_unknown_fields(fields, TEMPLATE_FIELDS, "checklist template")
    if "title" in fields and not str(fields["title"]).strip():
        raise ValidationError({"title": "A checklist item needs a title."})
    return save_project_row(
        project,
        template or ChecklistTemplate(),
        fields,
        "checklist item",
        by=by,
        kind=ProjectEventKind.CHECKLIST_TEMPLATE,
    )


def delete_checklist_template(template: ChecklistTemplate, *, by: Any) -> None:
    """Existing releases keep their copies; only future releases lose the item."""
    delete_project_row(template, by=by, kind=ProjectEventKind.CHECKLIST_TEMPLATE)


# What a tick without the evidence its item requires is refused with, per missing field.
MISSING_NOTE = "This item needs a note on what was checked before it can be ticked."
MISSING_LINK = (
    "This item needs a link to its evidence (a test report, a dashboard…) before it can be ticked."
)


def missing_evidence(item: ChecklistItem, *, note: str, url: str) -> dict[str, str]:
    """The evidence the item requires that a tick with this note and link lacks, by field."""
    missing = {}
    if item.needs_note and not note.strip():
        missing["note"] = MISSING_NOTE
    if item.needs_link and not url.strip():
        missing["url"] = MISSING_LINK
    return missing


def tick_checklist_item(
    item: ChecklistItem, *, by: Actor, note: str = "", url: str = ""
) -> ChecklistItem:
    check_links({"url": url.strip()})
    with transaction.atomic():
        release = lock_release(item.release)
        item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        if not release.is_active:
            raise Refused("The release is finished; its checklists are closed.")
        if item.ticked_at:
            raise Refused(
                f"“{item.title}” is already ticked"
                + (f" by {item.ticked_by}" if item.ticked_by_id else "")
                + "."
            )
        if missing := missing_evidence(item, note=note, url=url):
            raise ValidationError(missing)
        item.ticked_by = by if isinstance(by, User) else None
        item.ticked_at = timezone.now()
        item.evidence_note = note.strip()
        item.evidence_url = url.strip()
        item.save(update_fields=["ticked_by", "ticked_at", "evidence_note", "evidence_url"])
        evidence = " – ".join(part for part in (item.evidence_note, item.evidence_url) if part)
        log_event(
            release,
            actor=by,
            verb="checklist_ticked",
            summary=f"Ticked “{item.title}”" + (f" ({evidence})" if evidence else ""),
            after={"ticked": True, "note": item.evidence_note, "url": item.evidence_url},
            data={"checklist_item": item.pk, "phase": item.phase},
        )
    return item


def untick_checklist_item(item: ChecklistItem, *, by: Actor, reason: str = "") -> ChecklistItem:
    with transaction.atomic():
        release = lock_release(item.release)
        item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        if not release.is_active:
            raise Refused("The release is finished; its checklists are closed.")
        if not item.ticked_at:
            raise Refused(f"“{item.title}” is not ticked.")
        before = {
            "ticked_by": str(item.ticked_by) if item.ticked_by_id else None,
            "ticked_at": item.ticked_at.isoformat(),
            "note": item.evidence_note,
            "url": item.evidence_url,
        }
        item.ticked_by, item.ticked_at = None, None
        item.evidence_note, item.evidence_url = "", ""
        item.save(update_fields=["ticked_by", "ticked_at", "evidence_note", "evidence_url"])
        event = log_event(
            release,
            actor=by,
            verb="checklist_unticked",
            summary=f"Unticked “{item.title}”" + (f": {reason.strip()}" if reason.strip() else ""),
            before=before,
            after={"ticked": False},
            data={"checklist_item": item.pk, "phase": item.phase},
        )
        if item.required and item.phase == Phase.READINESS:
            content_changed(
                release,
                reason=f"the required checklist item “{item.title}” was unticked",
                event=event,
                by=by,
            )
    return item
