"""REST API for the scope imported from trackers and the commit range, under
``/api/releases/{release_id}/``: the same services as the release page's buttons."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import no_input, validated
from monitoring.integrations.registry import TRACKERS
from monitoring.models import CommitRange, Integration, RangeChange, ScopeSource
from monitoring.scope_checks import commit_range_of, covering_items, is_unplanned
from monitoring.services import commit_range, trackers
from releases.access import REQUEST_SCOPE_CHANGE
from releases.api.common import ReleaseScoped
from releases.api.tokens import actor
from releases.models import Role, ScopeChangeRequest

# --- shapes -------------------------------------------------------------------------------------


class ScopeSourceSerializer(serializers.ModelSerializer):
    integration_name = serializers.CharField(source="integration.name", read_only=True)

    class Meta:
        model = ScopeSource
        fields = [
            "id",
            "integration",
            "integration_name",
            "source",
            "query",
            "auto_sync",
            "release_version",
            "version_released_at",
            "last_synced_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields


class TrackerField(serializers.PrimaryKeyRelatedField):
    """A Jira, ClickUp or Trello integration of the release's project, by id."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Integration.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Integration]:
        release = self.context.get("release")
        if release is None:
            return Integration.objects.none()
        return Integration.objects.filter(project=release.project, kind__in=list(TRACKERS))


class ScopeSourceInputSerializer(serializers.Serializer):
    integration = TrackerField(help_text="A Jira, ClickUp or Trello integration of the project.")
    source = serializers.ChoiceField(  # type: ignore[assignment]  # a field, not Field.source
        choices=ScopeSource.Source.choices,
        help_text="Jira: fix_version or jql; ClickUp: list, tag or view; Trello: list or label.",
    )
    query = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="The fixVersion (the release's version when empty), JQL, list, tag, view or "
        "label.",
    )
    auto_sync = serializers.BooleanField(default=True)
    release_version = serializers.BooleanField(
        default=False, help_text="Jira fixVersion: release it in Jira once this release is."
    )


class SourceRefSerializer(serializers.Serializer):
    source = serializers.IntegerField(  # type: ignore[assignment]  # a field, not Field.source
        min_value=1, help_text="A scope source of this release."
    )


class SyncResultSerializer(serializers.Serializer):
    synced = serializers.BooleanField()
    summary = serializers.CharField()
    added = serializers.ListField(child=serializers.CharField())
    requested = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField()


class RangeChangeSerializer(serializers.ModelSerializer):
    covered_by = serializers.SerializerMethodField()
    unplanned = serializers.SerializerMethodField()
    accepted = serializers.BooleanField(read_only=True)
    change_request: serializers.PrimaryKeyRelatedField[ScopeChangeRequest] = (
        serializers.PrimaryKeyRelatedField(read_only=True)
    )

    class Meta:
        model = RangeChange
        fields = [
            "id",
            "ref",
            "title",
            "url",
            "branch",
            "author",
            "shas",
            "keys",
            "pull_request",
            "covered_by",
            "unplanned",
            "accepted",
            "change_request",
            "product_accepted_at",
            "manager_accepted_at",
        ]
        read_only_fields = fields

    def get_covered_by(self, change: RangeChange) -> list[str]:
        """The keys of the included scope items the change names."""
        return [item.key for item in covering_items(change, self.context["items"])]

    def get_unplanned(self, change: RangeChange) -> bool:
        return is_unplanned(change, self.context["items"])


class CommitRangeSerializer(serializers.ModelSerializer):
    base_version = serializers.CharField(source="base_release.version", default=None)
    changes = serializers.SerializerMethodField()

    class Meta:
        model = CommitRange
        fields = [
            "base_version",
            "base_sha",
            "head_sha",
            "url",
            "commit_count",
            "read_at",
            "error",
            "changes",
        ]
        read_only_fields = fields

    @extend_schema(responses=RangeChangeSerializer(many=True))
    def get_changes(self, found: CommitRange) -> list[dict[str, Any]]:
        changes = found.changes.select_related("change_request")
        # many=True gives a list; the stub types every serializer's .data as a dict.
        return RangeChangeSerializer(changes, many=True, context=self.context).data  # type: ignore[return-value]


class AcceptUnplannedSerializer(serializers.Serializer):
    change = serializers.IntegerField(min_value=1, help_text="A change of the commit range.")
    as_role = serializers.ChoiceField(choices=[Role.PRODUCT.value, Role.RELEASE_MANAGER.value])


class UnplannedChangeRequestSerializer(serializers.Serializer):
    change = serializers.IntegerField(min_value=1, help_text="A change of the commit range.")
    reason = serializers.CharField(max_length=2000)


# --- views --------------------------------------------------------------------------------------


class ScopeSources(ReleaseScoped, generics.ListAPIView):
    """Where the release's scope is imported from (Jira fixVersion or JQL, ClickUp list, tag or
    view, Trello list or label), each synced on the schedule when ``auto_sync`` is on."""

    serializer_class = ScopeSourceSerializer
    queryset = ScopeSource.objects.none()

    def get_queryset(self) -> QuerySet[ScopeSource]:
        release, _ = self.release_and_access()
        return ScopeSource.objects.filter(release=release).select_related("integration")

    @extend_schema(request=ScopeSourceInputSerializer, responses={201: ScopeSourceSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Import the scope from a tracker; the first sync follows at once. After the scope
        lock each new item becomes a scope change request."""
        release, access = self.release_and_access()
        trackers.IMPORT_SCOPE.check(access)
        data = validated(ScopeSourceInputSerializer, request, context={"release": release})
        source = trackers.add_scope_source(release, by=actor(request), **data)
        return Response(ScopeSourceSerializer(source).data, status=status.HTTP_201_CREATED)


def _source_of(view: ReleaseScoped, request: Request) -> ScopeSource:
    release, access = view.release_and_access()
    trackers.IMPORT_SCOPE.check(access)
    data = validated(SourceRefSerializer, request)
    found = (
        ScopeSource.objects.select_related("release", "integration")
        .filter(release=release, pk=data["source"])
        .first()
    )
    if found is None:
        raise NotFound("No such scope source on this release.")
    return found


class SyncScopeSource(ReleaseScoped):
    @extend_schema(request=SourceRefSerializer, responses=SyncResultSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Sync one source now: new items added (or requested after the lock), statuses and,
        while planning, titles follow the tracker. A tracker that cannot be read changes
        nothing and says why in ``error``."""
        source = _source_of(self, request)
        result = trackers.sync_scope_source(source, by=actor(request))
        return Response(
            {
                "synced": not result.error,
                "summary": result.summary(),
                "added": result.added,
                "requested": result.requested,
                "updated": result.updated,
                "error": result.error,
            }
        )


class RemoveScopeSource(ReleaseScoped):
    @extend_schema(request=SourceRefSerializer, responses={204: OpenApiResponse(description="")})
    def post(self, request: Request, release_id: int) -> Response:
        """Stop following a source; the items it brought stay in the scope."""
        source = _source_of(self, request)
        trackers.remove_scope_source(source, by=actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _range_response(view: ReleaseScoped) -> Response:
    release, _ = view.release_and_access()
    found = commit_range_of(release)
    if found is None:
        raise NotFound("The commits of this release have not been compared.")
    items = list(release.scope_items.all())
    return Response(CommitRangeSerializer(found, context={"items": items}).data)


class CommitRangeView(ReleaseScoped):
    @extend_schema(responses=CommitRangeSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        """The commits between the previous release's commit and this one's, grouped into
        merged pull requests and lone commits; ``unplanned`` ones name no included scope
        item and were neither requested nor accepted."""
        return _range_response(self)


class ReadCommitRange(ReleaseScoped):
    @extend_schema(request=None, responses=CommitRangeSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Compare the commits again now."""
        no_input(request)
        release, access = self.release_and_access()
        commit_range.COMPARE_COMMITS.check(access)
        commit_range.read_commit_range(release, by=actor(request))
        return _range_response(self)


def _change_of(view: ReleaseScoped, data: dict[str, Any]) -> RangeChange:
    release, _ = view.release_and_access()
    found = (
        RangeChange.objects.select_related("commit_range__release", "change_request")
        .filter(commit_range__release=release, pk=data["change"])
        .first()
    )
    if found is None:
        raise NotFound("No such change in this release's commit range.")
    return found


class AcceptUnplannedChange(ReleaseScoped):
    @extend_schema(request=AcceptUnplannedSerializer, responses=CommitRangeSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Accept an unplanned change as part of this release, as Product or as the release
        manager; both, two people, clear it."""
        data = validated(AcceptUnplannedSerializer, request)
        change = _change_of(self, data)
        commit_range.accept_unplanned_change(change, by=request.user, as_role=data["as_role"])
        return _range_response(self)


class RequestChangeForUnplanned(ReleaseScoped):
    @extend_schema(request=UnplannedChangeRequestSerializer, responses=CommitRangeSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Ask, through a scope change request, to add an unplanned change to the scope."""
        _, access = self.release_and_access()
        REQUEST_SCOPE_CHANGE.check(access)
        data = validated(UnplannedChangeRequestSerializer, request)
        change = _change_of(self, data)
        commit_range.request_scope_change_for(change, by=request.user, reason=data["reason"])
        return _range_response(self)
