"""Scope items, risks and change requests."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import no_input, validated
from releases import access as rules
from releases import serializers as s
from releases.access import (
    ReleaseAccess,
)
from releases.api.common import ReleaseScoped
from releases.api.tokens import actor
from releases.models import (
    Release,
    ScopeChangeRequest,
    ScopeItem,
)
from releases.services.scope import (
    add_scope_item,
    approve_change_request,
    reject_change_request,
    request_scope_change,
    resolve_risk,
    set_scope_item_state,
    update_scope_item,
    withdraw_change_request,
)


class ScopeItems(ReleaseScoped, generics.ListAPIView):
    serializer_class = s.ScopeItemSerializer
    queryset = ScopeItem.objects.none()

    def get_queryset(self) -> QuerySet[ScopeItem]:
        release, _ = self.release_and_access()
        return release.scope_items.select_related("owner")

    @extend_schema(request=s.ScopeItemInputSerializer, responses={201: s.ScopeItemSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Add an item while planning; once the scope is locked, request a change instead."""
        release, access = self.release_and_access()
        rules.EDIT_SCOPE.check(access)
        data = validated(s.ScopeItemInputSerializer, request, context={"project": release.project})
        item = add_scope_item(release, by=actor(request), **data)
        return Response(s.ScopeItemSerializer(item).data, status=status.HTTP_201_CREATED)


class ScopeItemScoped(ReleaseScoped):
    def item(self) -> tuple[Release, ReleaseAccess, ScopeItem]:
        release, access = self.release_and_access()
        item = get_object_or_404(
            release.scope_items.select_related("owner"), pk=self.kwargs["item_id"]
        )
        return release, access, item


class ScopeItemDetail(ScopeItemScoped):
    @extend_schema(responses=s.ScopeItemSerializer)
    def get(self, request: Request, release_id: int, item_id: int) -> Response:
        _, _, item = self.item()
        return Response(s.ScopeItemSerializer(item).data)

    @extend_schema(request=s.ScopeItemInputSerializer, responses=s.ScopeItemSerializer)
    def patch(self, request: Request, release_id: int, item_id: int) -> Response:
        release, access, item = self.item()
        rules.EDIT_SCOPE.check(access)
        data = validated(
            s.ScopeItemInputSerializer, request, partial=True, context={"project": release.project}
        )
        item = update_scope_item(item, by=actor(request), **data)
        return Response(s.ScopeItemSerializer(item).data)


class DeferScopeItem(ScopeItemScoped):
    state = ScopeItem.State.DEFERRED

    @extend_schema(request=None, responses=s.ScopeItemSerializer)
    def post(self, request: Request, release_id: int, item_id: int) -> Response:
        """Leave the item out of this release (while planning)."""
        _, access, item = self.item()
        rules.EDIT_SCOPE.check(access)
        no_input(request)
        item = set_scope_item_state(item, self.state, by=actor(request))
        return Response(s.ScopeItemSerializer(item).data)


class RestoreScopeItem(DeferScopeItem):
    state = ScopeItem.State.INCLUDED

    @extend_schema(request=None, responses=s.ScopeItemSerializer)
    def post(self, request: Request, release_id: int, item_id: int) -> Response:
        """Bring a deferred item back (while planning)."""
        return super().post(request, release_id, item_id)


class ResolveRisk(ScopeItemScoped):
    @extend_schema(request=s.ResolutionSerializer, responses=s.ScopeItemSerializer)
    def post(self, request: Request, release_id: int, item_id: int) -> Response:
        """Record how a blocker-level risk was mitigated or accepted."""
        _, access, item = self.item()
        rules.RESOLVE_RISK.check(access)
        data = validated(s.ResolutionSerializer, request)
        item = resolve_risk(item, by=actor(request), resolution=data["resolution"])
        return Response(s.ScopeItemSerializer(item).data)


CHANGE_REQUESTS = ScopeChangeRequest.objects.select_related(
    "scope_item", "requested_by", "product_approved_by", "manager_approved_by", "decided_by"
)


class ChangeRequests(ReleaseScoped, generics.ListAPIView):
    """Changes to locked scope, newest first."""

    serializer_class = s.ChangeRequestSerializer
    queryset = ScopeChangeRequest.objects.none()

    def get_queryset(self) -> QuerySet[ScopeChangeRequest]:
        release, _ = self.release_and_access()
        return CHANGE_REQUESTS.filter(release=release)

    @extend_schema(
        request=s.ChangeRequestInputSerializer, responses={201: s.ChangeRequestSerializer}
    )
    def post(self, request: Request, release_id: int) -> Response:
        """Ask to add, remove or re-rate scope after the freeze; Product and the release
        manager both accept it, or one rejects it."""
        release, access = self.release_and_access()
        rules.REQUEST_SCOPE_CHANGE.check(access)
        data = validated(
            s.ChangeRequestInputSerializer,
            request,
            context={"project": release.project, "release": release, "request": request},
        )
        proposal = dict(data.get("proposal") or {})
        if proposal.get("owner") is not None:
            proposal["owner"] = proposal["owner"].pk
        change = request_scope_change(
            release,
            by=actor(request),
            action=data["action"],
            reason=data["reason"],
            scope_item=data.get("scope_item"),
            proposal=proposal,
        )
        return Response(
            s.ChangeRequestSerializer(CHANGE_REQUESTS.get(pk=change.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class ChangeRequestScoped(ReleaseScoped):
    def change(self) -> tuple[Release, ReleaseAccess, ScopeChangeRequest]:
        release, access = self.release_and_access()
        change = get_object_or_404(
            ScopeChangeRequest.objects.filter(release=release), pk=self.kwargs["request_id"]
        )
        return release, access, change

    def respond(self, change: ScopeChangeRequest) -> Response:
        return Response(s.ChangeRequestSerializer(CHANGE_REQUESTS.get(pk=change.pk)).data)


class AcceptChange(ChangeRequestScoped):
    @extend_schema(request=s.AcceptChangeSerializer, responses=s.ChangeRequestSerializer)
    def post(self, request: Request, release_id: int, request_id: int) -> Response:
        """Accept as Product or as the release manager; the second acceptance applies the
        change and makes existing sign-offs stale."""
        _, access, change = self.change()
        # The service holds the rules of who accepts (never their own, once each side).
        rules.PEOPLE_ONLY.check(access)
        data = validated(s.AcceptChangeSerializer, request)
        as_role = data.get("as_role") or access.accepting_role(change)
        change = approve_change_request(change, by=request.user, as_role=as_role)
        return self.respond(change)


class RejectChange(ChangeRequestScoped):
    @extend_schema(request=s.ReasonSerializer, responses=s.ChangeRequestSerializer)
    def post(self, request: Request, release_id: int, request_id: int) -> Response:
        _, access, change = self.change()
        rules.PEOPLE_ONLY.check(access)
        data = validated(s.ReasonSerializer, request)
        change = reject_change_request(change, by=request.user, reason=data["reason"])
        return self.respond(change)


class WithdrawChange(ChangeRequestScoped):
    @extend_schema(request=None, responses=s.ChangeRequestSerializer)
    def post(self, request: Request, release_id: int, request_id: int) -> Response:
        """Withdraw your own pending request."""
        _, access, change = self.change()
        rules.PEOPLE_ONLY.check(access)
        no_input(request)
        change = withdraw_change_request(change, by=request.user)
        return self.respond(change)
