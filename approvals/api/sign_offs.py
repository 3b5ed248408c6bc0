"""REST API for sign-offs: listing, giving and withdrawing them."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from approvals import serializers as s
from approvals.models import SignOff
from approvals.services.sign_offs import record_sign_off, withdraw_sign_off
from lib.rest.filters import FilterBackend
from lib.rest.input import validated
from releases import access as rules
from releases.api.common import ReleaseScoped


class SignOffFilter(django_filters.FilterSet):
    current = django_filters.BooleanFilter(
        field_name="is_current", help_text="Only the current sign-offs (or only the history)."
    )
    role = django_filters.ChoiceFilter(choices=s.SIGNING_ROLE_CHOICES)

    class Meta:
        model = SignOff
        fields = ["current", "role"]


class SignOffs(ReleaseScoped, generics.ListAPIView):
    """Every sign-off on the release, newest first, with the ones it replaced."""

    serializer_class = s.SignOffSerializer
    queryset = SignOff.objects.none()
    filter_backends = [FilterBackend]
    filterset_class = SignOffFilter

    def get_queryset(self) -> QuerySet[SignOff]:
        release, _ = self.release_and_access()
        return SignOff.objects.filter(release=release).select_related("user")

    @extend_schema(request=s.SignOffInputSerializer, responses={201: s.SignOffSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Give Go or No-go for a role you are assigned; signing again replaces your earlier
        sign-off for that role."""
        release, access = self.release_and_access()
        rules.PEOPLE_ONLY.check(access)
        data = validated(s.SignOffInputSerializer, request)
        sign_off = record_sign_off(
            release,
            by=request.user,
            role=data["role"],
            decision=data["decision"],
            comment=data["comment"],
        )
        return Response(s.SignOffSerializer(sign_off).data, status=status.HTTP_201_CREATED)


class WithdrawSignOff(ReleaseScoped):
    @extend_schema(request=s.WithdrawSignOffSerializer, responses=s.SignOffSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Withdraw your current sign-off for a role, until the deploy starts (withdrawing one
        that carried a Go withdraws the Go)."""
        release, access = self.release_and_access()
        data = validated(s.WithdrawSignOffSerializer, request)
        rules.WITHDRAW_SIGN_OFF.check(access, data["role"])
        sign_off = withdraw_sign_off(release, by=request.user, role=data["role"])
        return Response(s.SignOffSerializer(sign_off).data)
