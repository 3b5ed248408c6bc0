"""Scope: items, risks and the change requests that alter scope after the freeze."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib.errors import NotAllowed, Refused
from releases import notifications as notices
from releases.events import Actor, log_event
from releases.models import (
    Release,
    Role,
    RoleAssignment,
    ScopeChangeRequest,
    ScopeItem,
    Status,
)
from releases.services.common import (
    apply_changes,
    check_links,
    content_changed,
    is_release_manager,
    lock_release,
    people_on,
    reject_unknown_fields,
    snapshot_fields,
)

User = get_user_model()


SCOPE_FIELDS = ("kind", "title", "key", "url", "owner", "risk")


def _scope_summary(item: ScopeItem) -> str:
    label = f"{item.key} {item.title}".strip()
    return f"{item.get_kind_display()} “{label}”"


def add_scope_item(release: Release, *, by: Actor, title: str, **fields: Any) -> ScopeItem:
    reject_unknown_fields(fields, SCOPE_FIELDS, "scope")
    if not title.strip():
        raise ValidationError({"title": "A scope item needs a title."})
    check_links(fields)
    with transaction.atomic():
        release = lock_release(release)
        if release.scope_locked:
            raise Refused(
                "The scope is locked: request a change instead, which Product and the release "
                "manager accept or reject."
            )
        item = ScopeItem.objects.create(
            release=release,
            title=title.strip(),
            created_by=by if isinstance(by, User) else None,
            **fields,
        )
        log_event(
            release,
            actor=by,
            verb="scope_added",
            summary=f"Added {_scope_summary(item)}",
            after=snapshot_fields(item, ["title", *fields]),
            data={"scope_item": item.pk},
        )
    return item


def update_scope_item(item: ScopeItem, *, by: Actor, **changes: Any) -> ScopeItem:
    reject_unknown_fields(changes, SCOPE_FIELDS, "scope")
    if "title" in changes and not str(changes["title"]).strip():
        raise ValidationError({"title": "A scope item needs a title."})
    with transaction.atomic():
        release = lock_release(item.release)
        item = ScopeItem.objects.select_for_update().get(pk=item.pk)
        if release.scope_locked:
            raise Refused("The scope is locked: request a change instead.")
        before, after, changed = apply_changes(item, changes)
        if changed:
            item.save(update_fields=changed)
            log_event(
                release,
                actor=by,
                verb="scope_changed",
                summary=f"Edited {_scope_summary(item)}",
                before=before,
                after=after,
                data={"scope_item": item.pk},
            )
    return item


def set_scope_item_state(item: ScopeItem, state: str, *, by: Actor) -> ScopeItem:
    """Defer an item or bring it back, while planning."""
    with transaction.atomic():
        release = lock_release(item.release)
        item = ScopeItem.objects.select_for_update().get(pk=item.pk)
        if release.scope_locked:
            raise Refused("The scope is locked: request a change instead.")
        if item.state == state:
            return item
        old = item.state
        item.state = state
        item.save(update_fields=["state"])
        verb = "scope_deferred" if state == ScopeItem.State.DEFERRED else "scope_restored"
        log_event(
            release,
            actor=by,
            verb=verb,
            summary=f"{'Deferred' if verb == 'scope_deferred' else 'Restored'} "
            f"{_scope_summary(item)}",
            before={"state": old},
            after={"state": state},
            data={"scope_item": item.pk},
        )
    return item


def resolve_risk(item: ScopeItem, *, by: Actor, resolution: str) -> ScopeItem:
    """Record how a blocker-level risk was dealt with (mitigated, accepted with visibility)."""
    resolution = resolution.strip()
    if not resolution:
        raise ValidationError({"resolution": "Say how the risk was resolved or accepted."})
    with transaction.atomic():
        release = lock_release(item.release)
        item = ScopeItem.objects.select_for_update().get(pk=item.pk)
        if not release.is_active:
            raise Refused("The release is finished; its risks can no longer change.")
        if item.resolved_at:
            raise Refused("This risk is already resolved.")
        item.resolved_at = timezone.now()
        item.resolution = resolution
        item.save(update_fields=["resolved_at", "resolution"])
        log_event(
            release,
            actor=by,
            verb="risk_resolved",
            summary=f"Resolved {_scope_summary(item)}: {resolution}",
            data={"scope_item": item.pk},
        )
    return item


def request_scope_change(
    release: Release,
    *,
    by: Actor,
    action: str,
    reason: str,
    scope_item: ScopeItem | None = None,
    proposal: dict[str, Any] | None = None,
) -> ScopeChangeRequest:
    proposal = dict(proposal or {})
    reason = reason.strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Say why the scope should change after the freeze."
    if action == ScopeChangeRequest.Action.ADD:
        if not str(proposal.get("title", "")).strip():
            errors["title"] = "A new scope item needs a title."
        kinds = ScopeItem.Kind.values
        if proposal.setdefault("kind", ScopeItem.Kind.FEATURE) not in kinds:
            errors["kind"] = "Unknown kind."
        if proposal.setdefault("risk", ScopeItem.Risk.LOW) not in ScopeItem.Risk.values:
            errors["risk"] = "Unknown risk level."
        try:
            check_links({"url": proposal.get("url")})
        except ValidationError as exc:
            errors["url"] = exc.message_dict["url"][0]
    elif action in (ScopeChangeRequest.Action.REMOVE, ScopeChangeRequest.Action.CHANGE_RISK):
        if scope_item is None or scope_item.release_id != release.pk:
            errors["scope_item"] = "Choose an item of this release."
        elif (
            action == ScopeChangeRequest.Action.REMOVE
            and scope_item.state != ScopeItem.State.INCLUDED
        ):
            errors["scope_item"] = "This item is already deferred."
        if action == ScopeChangeRequest.Action.CHANGE_RISK and (
            proposal.get("risk") not in ScopeItem.Risk.values
        ):
            errors["risk"] = "Choose the new risk level."
    else:
        errors["action"] = "Unknown change."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.FROZEN, Status.APPROVED):
            raise Refused(
                "Change requests are for locked scope before the deploy; "
                f"the release is {release.get_status_display().lower()}."
            )
        request = ScopeChangeRequest.objects.create(
            release=release,
            action=action,
            scope_item=scope_item,
            proposal=proposal,
            reason=reason,
            requested_by=by if isinstance(by, User) else None,
        )
        log_event(
            release,
            actor=by,
            verb="change_requested",
            summary=f"Requested scope change – {request}: {reason}",
            data={"change_request": request.pk},
        )
        notices.notify(
            people_on(release, roles=("product", "release_manager")),
            release=release,
            verb="change_request_waiting",
            message=f"A scope change on {release} waits for your decision: {request}",
            exclude=by,
        )
    return request


def _apply_change_request(request: ScopeChangeRequest, *, by: Actor) -> str:
    release = request.release
    if request.action == ScopeChangeRequest.Action.ADD:
        fields = {
            k: request.proposal[k]
            for k in ("kind", "title", "key", "url", "risk")
            if k in request.proposal
        }
        owner_id = request.proposal.get("owner")
        item = ScopeItem.objects.create(
            release=release,
            added_after_freeze=True,
            owner_id=owner_id,
            created_by=request.requested_by,
            **fields,
        )
        return f"added {_scope_summary(item)} after the freeze"
    assert request.scope_item_id is not None  # only an addition comes without its item
    item = ScopeItem.objects.select_for_update().get(pk=request.scope_item_id)
    if request.action == ScopeChangeRequest.Action.REMOVE:
        item.state = ScopeItem.State.DEFERRED
        item.save(update_fields=["state"])
        return f"deferred {_scope_summary(item)}"
    old = item.get_risk_display().lower()
    item.risk = request.proposal["risk"]
    item.save(update_fields=["risk"])
    new = item.get_risk_display().lower()
    return f"changed the risk of {_scope_summary(item)} from {old} to {new}"


def approve_change_request(
    request: ScopeChangeRequest, *, by: Any, as_role: str
) -> ScopeChangeRequest:
    """Product and the release manager each accept; the second acceptance applies the change."""
    if as_role not in ("product", "release_manager"):
        raise NotAllowed("Only Product and the release manager accept scope changes.")
    with transaction.atomic():
        release = lock_release(request.release)
        request = ScopeChangeRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ScopeChangeRequest.State.PENDING:
            raise Refused(f"This change request is already {request.get_state_display().lower()}.")
        if request.requested_by_id == by.pk:
            raise NotAllowed("You asked for this change, so someone else has to accept it.")
        if as_role == Role.PRODUCT:
            holds_role = (
                by.is_superuser
                or RoleAssignment.objects.filter(
                    release=release, user=by, role=Role.PRODUCT
                ).exists()
            )
        else:
            holds_role = is_release_manager(release, by)
        if not holds_role:
            raise NotAllowed(
                f"You are not {'Product' if as_role == Role.PRODUCT else 'a release manager'} "
                "on this release, so you cannot accept the change in that role."
            )
        if release.status not in (Status.FROZEN, Status.APPROVED):
            raise Refused(
                f"The release is {release.get_status_display().lower()}; its scope can no longer "
                "change."
            )
        now = timezone.now()
        if as_role == "product":
            if request.product_approved_at:
                raise Refused("Product has already accepted this change.")
            if request.manager_approved_by_id == by.pk:
                raise NotAllowed("You already accepted this change as release manager.")
            request.product_approved_by, request.product_approved_at = by, now
        else:
            if request.manager_approved_at:
                raise Refused("The release manager has already accepted this change.")
            if request.product_approved_by_id == by.pk:
                raise NotAllowed("You already accepted this change for Product.")
            request.manager_approved_by, request.manager_approved_at = by, now
        role_label = "Product" if as_role == "product" else "release manager"
        if request.product_approved_at and request.manager_approved_at:
            request.state = ScopeChangeRequest.State.ACCEPTED
            request.decided_by, request.decided_at = by, now
            request.save()
            what = _apply_change_request(request, by=by)
            event = log_event(
                release,
                actor=by,
                verb="change_accepted",
                summary=f"Scope change accepted ({role_label} was second): {what}",
                data={"change_request": request.pk},
            )
            content_changed(
                release, reason=f"a scope change was accepted ({what})", event=event, by=by
            )
            notices.notify(
                [request.requested_by] if request.requested_by else [],
                release=release,
                verb="change_accepted",
                message=f"Your scope change on {release} was accepted: {request}",
            )
        else:
            request.save()
            log_event(
                release,
                actor=by,
                verb="change_approved",
                summary=f"{role_label} accepted the scope change – {request}; waiting for "
                f"{'the release manager' if as_role == 'product' else 'Product'}",
                data={"change_request": request.pk},
            )
    return request


def reject_change_request(
    request: ScopeChangeRequest, *, by: Any, reason: str
) -> ScopeChangeRequest:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the change is rejected."})
    with transaction.atomic():
        release = lock_release(request.release)
        request = ScopeChangeRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ScopeChangeRequest.State.PENDING:
            raise Refused(f"This change request is already {request.get_state_display().lower()}.")
        if request.requested_by_id == by.pk:
            raise NotAllowed("Withdraw your own request instead of rejecting it.")
        if not (
            is_release_manager(release, by)
            or RoleAssignment.objects.filter(release=release, user=by, role=Role.PRODUCT).exists()
        ):
            raise NotAllowed("Only Product and the release manager decide on scope changes.")
        request.state = ScopeChangeRequest.State.REJECTED
        request.decided_by, request.decided_at = by, timezone.now()
        request.rejection_reason = reason
        request.save(update_fields=["state", "decided_by", "decided_at", "rejection_reason"])
        log_event(
            release,
            actor=by,
            verb="change_rejected",
            summary=f"Scope change rejected – {request}: {reason}",
            data={"change_request": request.pk},
        )
        notices.notify(
            [request.requested_by] if request.requested_by else [],
            release=release,
            verb="change_rejected",
            message=f"Your scope change on {release} was rejected: {reason}",
        )
    return request


def withdraw_change_request(request: ScopeChangeRequest, *, by: Any) -> ScopeChangeRequest:
    with transaction.atomic():
        release = lock_release(request.release)
        request = ScopeChangeRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ScopeChangeRequest.State.PENDING:
            raise Refused(f"This change request is already {request.get_state_display().lower()}.")
        if request.requested_by_id != by.pk:
            raise NotAllowed("Only the person who asked for a change can withdraw it.")
        request.state = ScopeChangeRequest.State.WITHDRAWN
        request.decided_by, request.decided_at = by, timezone.now()
        request.save(update_fields=["state", "decided_by", "decided_at"])
        log_event(
            release,
            actor=by,
            verb="change_withdrawn",
            summary=f"Scope change withdrawn – {request}",
            data={"change_request": request.pk},
        )
    return request
