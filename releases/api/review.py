"""The review after a release and its actions."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import no_input, validated
from releases import access as rules
from releases import serializers as s
from releases.api.common import ReleaseScoped
from releases.api.tokens import actor
from releases.models import (
    Release,
    Review,
    ReviewAction,
)
from releases.services.review import add_review_action, complete_review_action, save_review


class ReviewActions(ReleaseScoped):
    @extend_schema(request=s.ReviewActionInputSerializer, responses={201: s.ReviewActionSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Add a follow-up action to the post-release review."""
        release, access = self.release_and_access()
        rules.WRITE_REVIEW.check(access)
        data = validated(
            s.ReviewActionInputSerializer, request, context={"project": release.project}
        )
        action = add_review_action(release, by=actor(request), **data)
        return Response(s.ReviewActionSerializer(action).data, status=status.HTTP_201_CREATED)


class CompleteReviewAction(ReleaseScoped):
    @extend_schema(request=None, responses=s.ReviewActionSerializer)
    def post(self, request: Request, release_id: int, action_id: int) -> Response:
        release, access = self.release_and_access()
        action = get_object_or_404(
            ReviewAction.objects.select_related("owner"), pk=action_id, review__release=release
        )
        rules.COMPLETE_REVIEW_ACTION.check(access, action)
        no_input(request)
        action = complete_review_action(action, by=actor(request))
        return Response(s.ReviewActionSerializer(action).data)


class ReviewView(ReleaseScoped):
    def review_response(self, release: Release) -> Response:
        review = (
            Review.objects.select_related("created_by")
            .prefetch_related("actions__owner")
            .filter(release=release)
            .first()
        )
        if review is None:
            raise Http404("No review yet: it is written once the release is out or rolled back.")
        return Response(s.ReviewSerializer(review).data)

    @extend_schema(responses=s.ReviewSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        """The post-release review (404 until someone starts it)."""
        release, _ = self.release_and_access()
        return self.review_response(release)

    @extend_schema(request=s.ReviewSerializer, responses=s.ReviewSerializer)
    def put(self, request: Request, release_id: int) -> Response:
        """Start or update the review once the release is released or rolled back."""
        release, access = self.release_and_access()
        rules.WRITE_REVIEW.check(access)
        data = validated(s.ReviewSerializer, request, partial=True)
        save_review(release, by=actor(request), **data)
        return self.review_response(release)
