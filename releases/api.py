"""REST API for projects, releases, scope, roles, checklists, rollback plans, readiness, events.

Every view is the same three steps: load what the caller may see through
``releases.permissions`` (404 otherwise), check the right to act (403 with who may), validate the
input with a serializer and call one service. Refusals from services become 409 in
``releases.rest.exception_handler``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.services import health
from releases import notifications as notices
from releases import permissions as rules
from releases import serializers as s
from releases import services
from releases.metrics import compute_metrics
from releases.models import (
    ChecklistItem,
    ChecklistTemplate,
    FreezeWindow,
    Notification,
    Phase,
    Project,
    ProjectEvent,
    ProjectEventKind,
    ProjectMembership,
    Release,
    ReleaseEvent,
    ReleaseKind,
    Review,
    ReviewAction,
    RoleAssignment,
    RollbackPlan,
    ScopeChangeRequest,
    ScopeItem,
    Status,
)
from releases.permissions import (
    ReleaseAccess,
    get_project_for,
    get_release_for,
    visible_projects,
    visible_releases,
)
from releases.readiness import compute_readiness, with_readiness_data
from releases.release_notes import render_release_notes
from releases.rest import (
    Conflict,
    EventCursorPagination,
    FilterBackend,
    PeopleOnly,
    PlainRows,
    actor,
    no_input,
    validated,
)

User = get_user_model()


class ReleaseScoped(generics.GenericAPIView):
    """Base for everything under ``/api/releases/{release_id}/``."""

    filter_backends: list[Any] = []
    release_queryset: QuerySet[Release] = Release.objects.select_related("project")

    def release_and_access(self) -> tuple[Release, ReleaseAccess]:
        if not hasattr(self, "_release"):
            self._release = get_release_for(
                self.request.user, self.kwargs["release_id"], queryset=self.release_queryset
            )
        return self._release


def release_response(release: Release, code: int = status.HTTP_200_OK) -> Response:
    return Response(s.ReleaseSerializer(release).data, status=code)


# --- projects -------------------------------------------------------------------------------


class ProjectList(generics.ListAPIView):
    """The projects you belong to (a project token sees its own)."""

    serializer_class = s.ProjectSerializer
    queryset = Project.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Project]:
        return visible_projects(self.request.user).order_by("name", "pk")

    @extend_schema(request=s.ProjectCreateSerializer, responses={201: s.ProjectSerializer})
    def post(self, request: Request) -> Response:
        """Create a project; you become its release manager. Superusers may, and people given
        the ``releases.add_project`` permission (a group in the admin); project tokens never."""
        rules.CREATE_PROJECT.check(request.user)
        data = validated(s.ProjectCreateSerializer, request)
        project = services.create_project(by=request.user, **data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(APIView):
    @extend_schema(responses=s.ProjectSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(s.ProjectSerializer(get_project_for(request.user, slug)).data)

    @extend_schema(request=s.ProjectUpdateSerializer, responses=s.ProjectSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.ProjectUpdateSerializer, request, partial=True)
        project = services.update_project(project, by=actor(request), **data)
        return Response(s.ProjectSerializer(project).data)


class ProjectDeployEnvironments(APIView):
    @extend_schema(responses=s.DeployEnvironmentsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        return Response({"deploy_environments": project.deploy_environments})

    @extend_schema(request=s.DeployEnvironmentsSerializer, responses=s.DeployEnvironmentsSerializer)
    def put(self, request: Request, slug: str) -> Response:
        """Replace the mapping of CI environment names to release environments."""
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.DeployEnvironmentsSerializer, request)
        project = services.set_deploy_environments(
            project, by=actor(request), mapping=data["deploy_environments"]
        )
        return Response({"deploy_environments": project.deploy_environments})


def _members(project: Project, user_ids: list[int] | None = None) -> list[dict[str, Any]]:
    rows = ProjectMembership.objects.filter(project=project).select_related("user")
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    people: dict[int, dict[str, Any]] = {}
    for row in rows.order_by("user__username", "role"):
        entry = people.setdefault(
            row.user_id,
            {
                "id": row.user_id,
                "username": row.user.get_username(),
                "name": row.user.get_full_name(),
                "roles": [],
            },
        )
        entry["roles"].append(row.role)
    return list(people.values())


class ProjectMembers(APIView):
    @extend_schema(responses=s.MemberSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        return Response(_members(get_project_for(request.user, slug)))

    @extend_schema(request=s.MemberAddSerializer, responses={201: s.MemberSerializer})
    def post(self, request: Request, slug: str) -> Response:
        """Add a person to the project by username, with their roles. Someone already in it
        answers 409: change their roles on their own address instead."""
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.MemberAddSerializer, request)
        person = data["username"]
        if ProjectMembership.objects.filter(project=project, user=person).exists():
            raise Conflict(
                f"{person.get_username()} is already a member; set their roles with PUT "
                f"/api/projects/{project.slug}/members/{person.pk}/."
            )
        services.set_project_roles(project, person, data["roles"], by=actor(request))
        return Response(_members(project, [person.pk])[0], status=status.HTTP_201_CREATED)


class ProjectMember(APIView):
    @extend_schema(
        request=s.MemberRolesSerializer,
        responses={200: s.MemberSerializer, 204: OpenApiResponse(description="Removed.")},
        description="Set a person's roles on the project (an empty list removes them). New "
        "releases assign these roles by default.",
    )
    def put(self, request: Request, slug: str, user_id: int) -> Response:
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        person = get_object_or_404(User, pk=user_id, is_active=True)
        data = validated(s.MemberRolesSerializer, request)
        services.set_project_roles(project, person, data["roles"], by=actor(request))
        entry = _members(project, [person.pk])
        if not entry:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(entry[0])


class FreezeWindows(generics.ListAPIView):
    serializer_class = s.FreezeWindowSerializer
    queryset = FreezeWindow.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[FreezeWindow]:
        return get_project_for(self.request.user, self.kwargs["slug"]).freeze_windows.order_by("pk")

    @extend_schema(request=s.FreezeWindowSerializer, responses={201: s.FreezeWindowSerializer})
    def post(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.FreezeWindowSerializer, request)
        window = services.save_freeze_window(project, by=actor(request), **data)
        return Response(s.FreezeWindowSerializer(window).data, status=status.HTTP_201_CREATED)


class FreezeWindowDetail(APIView):
    def _load(self, request: Request, slug: str, window_id: int) -> tuple[Project, FreezeWindow]:
        project = get_project_for(request.user, slug)
        return project, get_object_or_404(project.freeze_windows, pk=window_id)

    @extend_schema(responses=s.FreezeWindowSerializer)
    def get(self, request: Request, slug: str, window_id: int) -> Response:
        _, window = self._load(request, slug, window_id)
        return Response(s.FreezeWindowSerializer(window).data)

    @extend_schema(request=s.FreezeWindowSerializer, responses=s.FreezeWindowSerializer)
    def patch(self, request: Request, slug: str, window_id: int) -> Response:
        project, window = self._load(request, slug, window_id)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.FreezeWindowSerializer, request, partial=True)
        window = services.save_freeze_window(project, by=actor(request), window=window, **data)
        return Response(s.FreezeWindowSerializer(window).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, slug: str, window_id: int) -> Response:
        project, window = self._load(request, slug, window_id)
        rules.MANAGE_PROJECT.check(request.user, project)
        services.delete_freeze_window(window, by=actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChecklistTemplates(generics.ListAPIView):
    """The project's checklist: each item is copied onto the releases of the kinds it applies
    to, when they are created."""

    serializer_class = s.ChecklistTemplateSerializer
    queryset = ChecklistTemplate.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[ChecklistTemplate]:
        return get_project_for(self.request.user, self.kwargs["slug"]).checklist_templates.all()

    @extend_schema(
        request=s.ChecklistTemplateSerializer, responses={201: s.ChecklistTemplateSerializer}
    )
    def post(self, request: Request, slug: str) -> Response:
        """Add an item; releases created from now on get it."""
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.ChecklistTemplateSerializer, request)
        template = services.save_checklist_template(project, by=actor(request), **data)
        return Response(
            s.ChecklistTemplateSerializer(template).data, status=status.HTTP_201_CREATED
        )


class ChecklistTemplateDetail(APIView):
    def _load(self, request: Request, slug: str, template_id: int) -> tuple[Project, Any]:
        project = get_project_for(request.user, slug)
        return project, get_object_or_404(project.checklist_templates, pk=template_id)

    @extend_schema(responses=s.ChecklistTemplateSerializer)
    def get(self, request: Request, slug: str, template_id: int) -> Response:
        _, template = self._load(request, slug, template_id)
        return Response(s.ChecklistTemplateSerializer(template).data)

    @extend_schema(request=s.ChecklistTemplateSerializer, responses=s.ChecklistTemplateSerializer)
    def patch(self, request: Request, slug: str, template_id: int) -> Response:
        """Releases created later get the change; existing releases keep their copies."""
        project, template = self._load(request, slug, template_id)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(
            s.ChecklistTemplateSerializer, request, partial=True, context={"template": template}
        )
        template = services.save_checklist_template(
            project, by=actor(request), template=template, **data
        )
        return Response(s.ChecklistTemplateSerializer(template).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, slug: str, template_id: int) -> Response:
        """Future releases lose the item; existing releases keep their copies."""
        project, template = self._load(request, slug, template_id)
        rules.MANAGE_PROJECT.check(request.user, project)
        services.delete_checklist_template(template, by=actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MetricsQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False, help_text="Default: 90 days before end.")
    end = serializers.DateTimeField(required=False, help_text="Default: now.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end") or timezone.now()
        start = attrs.get("start") or end - dt.timedelta(days=90)
        if not start < end <= start + dt.timedelta(days=731):
            raise serializers.ValidationError("end must come after start, within two years.")
        return {"start": start, "end": end}


class ProjectMetrics(APIView):
    @extend_schema(parameters=[MetricsQuerySerializer], responses=s.MetricsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        """DORA metrics: deployment frequency, lead time for changes, change failure rate and
        time to restore, each with its band."""
        project = get_project_for(request.user, slug)
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = query.validated_data
        return Response(compute_metrics(project, period["start"], period["end"]).as_dict())


# --- releases -------------------------------------------------------------------------------


class ReleaseFilter(django_filters.FilterSet):
    project = django_filters.CharFilter(
        field_name="project__slug", help_text="The project's short name (slug)."
    )
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    kind = django_filters.ChoiceFilter(choices=ReleaseKind.choices)
    active = django_filters.BooleanFilter(
        method="filter_active", help_text="Only releases still in progress (or only finished)."
    )

    class Meta:
        model = Release
        fields = ["project", "status", "kind", "active"]

    def filter_active(self, queryset: QuerySet[Release], name: str, value: bool) -> QuerySet:
        return queryset.active() if value else queryset.exclude(pk__in=queryset.active())


class Releases(generics.ListAPIView):
    """Releases of your projects, newest first; filter by project, status, kind."""

    serializer_class = s.ReleaseSerializer
    queryset = Release.objects.none()
    filterset_class = ReleaseFilter

    def get_queryset(self) -> QuerySet[Release]:
        return visible_releases(self.request.user).order_by("-created_at", "-pk")

    def paginate_queryset(self, queryset: QuerySet[Release]) -> list[Any] | None:
        # The page as plain values: ``ReleaseSerializer`` reads those rows as they are.
        return super().paginate_queryset(PlainRows(queryset, s.RELEASE_VALUES))

    @extend_schema(request=s.ReleaseCreateSerializer, responses={201: s.ReleaseSerializer})
    def post(self, request: Request) -> Response:
        """Create a release: its roles, checklist, rollback plan and checks come from the
        project's defaults."""
        data = validated(s.ReleaseCreateSerializer, request)
        project = get_project_for(request.user, data.pop("project"))
        rules.CREATE_RELEASE.check(request.user, project)
        release = services.create_release(project, by=actor(request), **data)
        return release_response(release, status.HTTP_201_CREATED)


class ReleaseDetail(ReleaseScoped):
    @extend_schema(responses=s.ReleaseSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        release, _ = self.release_and_access()
        return release_response(release)

    @extend_schema(request=s.ReleaseUpdateSerializer, responses=s.ReleaseSerializer)
    def patch(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.EDIT_RELEASE.check(access)
        data = validated(s.ReleaseUpdateSerializer, request, partial=True)
        return release_response(services.update_release(release, by=actor(request), **data))


class LockScope(ReleaseScoped):
    @extend_schema(request=None, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """planning → frozen: later scope changes go through change requests."""
        release, access = self.release_and_access()
        rules.LOCK_SCOPE.check(access)
        no_input(request)
        return release_response(services.lock_scope(release, by=actor(request)))


class CancelRelease(ReleaseScoped):
    @extend_schema(request=s.ReasonSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.CANCEL.check(access)
        data = validated(s.ReasonSerializer, request)
        return release_response(
            services.cancel_release(release, by=actor(request), reason=data["reason"])
        )


class StartDeploy(ReleaseScoped):
    @extend_schema(request=s.StartDeploySerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """approved → deploying, on the planned day and outside freeze windows unless the
        release manager overrides with a reason."""
        release, access = self.release_and_access()
        rules.START_DEPLOY.check(access)
        data = validated(s.StartDeploySerializer, request)
        if data["override_reason"].strip():
            rules.OVERRIDE_DEPLOY_GUARDS.check(access)
        return release_response(
            services.start_deploy(
                release, by=actor(request), override_reason=data["override_reason"]
            )
        )


class FinishDeploy(ReleaseScoped):
    @extend_schema(request=None, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """deploying → monitoring, once every required deployment checklist item is ticked."""
        release, access = self.release_and_access()
        rules.FINISH_DEPLOY.check(access)
        no_input(request)
        return release_response(services.finish_deploy(release, by=actor(request)))


class CompleteRelease(ReleaseScoped):
    @extend_schema(request=None, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """monitoring → released, failing closed: only once the monitoring window is over,
        the release is not unhealthy and every required post-release check counts as passing
        (pending, error and needs-judgement do not). Otherwise 409, with each reason in
        ``blockers``."""
        release, access = self.release_and_access()
        rules.COMPLETE.check(access)
        no_input(request)
        return release_response(health.release_if_healthy(release, by=actor(request)))


class RestoreHealth(ReleaseScoped):
    @extend_schema(request=s.ReasonSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """Judge an unhealthy release healthy again, with a reason, while it is deploying or
        monitoring; refused (409) while a check that decides is still failing. A standing
        rollback recommendation lapses."""
        release, access = self.release_and_access()
        rules.RESTORE_HEALTH.check(access)
        data = validated(s.ReasonSerializer, request)
        return release_response(
            health.restore_health(release, by=request.user, reason=data["reason"])
        )


class RollBack(ReleaseScoped):
    @extend_schema(request=s.ReasonSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.ROLL_BACK.check(access)
        data = validated(s.ReasonSerializer, request)
        return release_response(
            services.roll_back(release, by=actor(request), reason=data["reason"])
        )


class DeployReports(ReleaseScoped):
    @extend_schema(request=s.DeployReportSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """CI reports its deploy. ``started`` and ``finished`` pass the same guards as a person
        (a 409 is the pipeline's gate); ``failed`` marks the release unhealthy."""
        release, access = self.release_and_access()
        rules.REPORT_DEPLOY.check(access)
        data = validated(s.DeployReportSerializer, request)
        if data["override_reason"].strip():
            rules.OVERRIDE_DEPLOY_GUARDS.check(access)
        return release_response(services.record_deploy_report(release, by=actor(request), **data))


class FinishRollback(ReleaseScoped):
    @extend_schema(request=s.FinishRollbackSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """The rollback is done; time to restore is measured to this moment."""
        release, access = self.release_and_access()
        rules.FINISH_ROLLBACK.check(access)
        data = validated(s.FinishRollbackSerializer, request)
        return release_response(
            services.finish_rollback(release, by=actor(request), at=data.get("at"))
        )


class CarryForward(ReleaseScoped):
    @extend_schema(request=s.CarryForwardSerializer, responses={201: s.ReleaseSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Start a new release with the rolled-back one's included scope."""
        release, access = self.release_and_access()
        rules.CARRY_FORWARD.check(access)
        data = validated(s.CarryForwardSerializer, request)
        new = services.carry_scope_forward(release, by=actor(request), **data)
        return release_response(new, status.HTTP_201_CREATED)


class ReleaseNotesView(ReleaseScoped):
    @extend_schema(responses=s.ReleaseNotesSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        """The release notes in Markdown, generated from the scope."""
        release, _ = self.release_and_access()
        return Response({"release": release.pk, "markdown": render_release_notes(release)})


class ReleaseReadiness(ReleaseScoped):
    release_queryset = with_readiness_data(Release.objects.all())

    @extend_schema(responses=s.ReadinessSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        """Is it ready? The blockers, and where each required role stands."""
        release, _ = self.release_and_access()
        return Response({"release": release.pk, **compute_readiness(release).as_dict()})


class ReleaseEvents(ReleaseScoped, generics.ListAPIView):
    """The release's timeline: everything that happened, newest first."""

    serializer_class = s.EventSerializer
    pagination_class = EventCursorPagination
    queryset = ReleaseEvent.objects.none()

    def get_queryset(self) -> QuerySet[ReleaseEvent]:
        release, _ = self.release_and_access()
        return ReleaseEvent.objects.filter(release=release).select_related("actor")


class ProjectEventFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(
        choices=ProjectEventKind.choices, help_text="Only changes of this kind."
    )
    actor = django_filters.CharFilter(
        method="filter_actor",
        help_text="Only changes by this person (username) or machine (e.g. `CI token ci`).",
    )

    class Meta:
        model = ProjectEvent
        fields = ["kind", "actor"]

    def filter_actor(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.by_actor(value)


class ProjectEvents(generics.ListAPIView):
    """The project's audit log: every change to its settings, members, approval policy, freeze
    windows, templates, integrations, checks, tokens and trains, newest first. Members read it
    (viewers included); credentials appear only as "credentials changed"."""

    serializer_class = s.ProjectEventSerializer
    pagination_class = EventCursorPagination
    queryset = ProjectEvent.objects.none()
    filter_backends = [FilterBackend]
    filterset_class = ProjectEventFilter

    def get_queryset(self) -> QuerySet[ProjectEvent]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        return project.events.select_related("actor")


class ReleaseNotes(ReleaseScoped):
    @extend_schema(request=s.NoteSerializer, responses={201: s.EventSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Add a note to the timeline."""
        release, access = self.release_and_access()
        rules.ADD_NOTE.check(access)
        data = validated(s.NoteSerializer, request)
        event = services.add_note(release, by=actor(request), text=data["text"])
        return Response(s.EventSerializer(event).data, status=status.HTTP_201_CREATED)


class TimelineQuerySerializer(serializers.Serializer):
    project = serializers.SlugField(required=False, help_text="Only this project.")
    start = serializers.DateTimeField(
        required=False, help_text="With end: only releases alive in [start, end)."
    )
    end = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if (start is None) != (end is None):
            raise serializers.ValidationError("Give both start and end, or neither.")
        if start is not None and not start < end <= start + dt.timedelta(days=400):
            raise serializers.ValidationError("end must come after start, within 400 days.")
        return attrs


class Timeline(APIView):
    """Every visible release with its planned and actual milestones, and the freeze windows
    in the range: the data the timeline page draws. Not paginated."""

    @extend_schema(parameters=[TimelineQuerySerializer], responses=s.TimelineSerializer)
    def get(self, request: Request) -> Response:
        query = TimelineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        releases = visible_releases(request.user).select_related("project")
        projects = visible_projects(request.user)
        if "project" in params:
            releases = releases.filter(project__slug=params["project"])
            projects = projects.filter(slug=params["project"])
        now = timezone.now()
        start = params.get("start", now - dt.timedelta(days=30))
        end = params.get("end", now + dt.timedelta(days=90))
        if "start" in params:
            releases = releases.filter(created_at__lt=end).exclude(
                Q(released_at__lt=start) | Q(rolled_back_at__lt=start) | Q(cancelled_at__lt=start)
            )
        # Plain dicts: a thousand rows through nested serializers would cost more than the
        # queries do.
        rows = [
            {
                "id": r.pk,
                "project": r.project.slug,
                "version": r.version,
                "title": r.title,
                "kind": r.kind,
                "status": r.status,
                "health": r.health,
                "override_used": r.override_used,
                "milestones": [
                    {"label": label, "planned": planned, "actual": actual}
                    for label, planned, actual in r.milestones()
                ],
            }
            for r in releases.order_by("project__name", "created_at", "pk")
        ]
        windows = FreezeWindow.objects.filter(project__in=projects).select_related("project")
        periods = [
            {
                "window": w.pk,
                "project": w.project.slug,
                "reason": w.reason,
                "starts_at": opens,
                "ends_at": closes,
            }
            for w in windows
            for opens, closes in w.occurrences(start, end)
        ]
        return Response({"releases": rows, "freeze_windows": periods})


# --- scope ----------------------------------------------------------------------------------


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
        item = services.add_scope_item(release, by=actor(request), **data)
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
        item = services.update_scope_item(item, by=actor(request), **data)
        return Response(s.ScopeItemSerializer(item).data)


class DeferScopeItem(ScopeItemScoped):
    state = ScopeItem.State.DEFERRED

    @extend_schema(request=None, responses=s.ScopeItemSerializer)
    def post(self, request: Request, release_id: int, item_id: int) -> Response:
        """Leave the item out of this release (while planning)."""
        _, access, item = self.item()
        rules.EDIT_SCOPE.check(access)
        no_input(request)
        item = services.set_scope_item_state(item, self.state, by=actor(request))
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
        item = services.resolve_risk(item, by=actor(request), resolution=data["resolution"])
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
        change = services.request_scope_change(
            release,
            by=request.user,
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
        change = services.approve_change_request(change, by=request.user, as_role=as_role)
        return self.respond(change)


class RejectChange(ChangeRequestScoped):
    @extend_schema(request=s.ReasonSerializer, responses=s.ChangeRequestSerializer)
    def post(self, request: Request, release_id: int, request_id: int) -> Response:
        _, access, change = self.change()
        rules.PEOPLE_ONLY.check(access)
        data = validated(s.ReasonSerializer, request)
        change = services.reject_change_request(change, by=request.user, reason=data["reason"])
        return self.respond(change)


class WithdrawChange(ChangeRequestScoped):
    @extend_schema(request=None, responses=s.ChangeRequestSerializer)
    def post(self, request: Request, release_id: int, request_id: int) -> Response:
        """Withdraw your own pending request."""
        _, access, change = self.change()
        rules.PEOPLE_ONLY.check(access)
        no_input(request)
        change = services.withdraw_change_request(change, by=request.user)
        return self.respond(change)


# --- roles ----------------------------------------------------------------------------------


class Assignments(ReleaseScoped, generics.ListAPIView):
    """Who holds which role on the release (sign-offs and checklists follow these)."""

    serializer_class = s.AssignmentSerializer
    queryset = RoleAssignment.objects.none()

    def get_queryset(self) -> QuerySet[RoleAssignment]:
        release, _ = self.release_and_access()
        return release.assignments.select_related("user").order_by("role", "user__username")

    @extend_schema(request=s.AssignmentInputSerializer, responses={201: s.AssignmentSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.ASSIGN_ROLES.check(access)
        data = validated(s.AssignmentInputSerializer, request, context={"project": release.project})
        assignment = services.assign_role(release, data["user"], data["role"], by=actor(request))
        return Response(s.AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentDetail(ReleaseScoped):
    @extend_schema(responses={204: OpenApiResponse(description="Removed.")})
    def delete(self, request: Request, release_id: int, assignment_id: int) -> Response:
        release, access = self.release_and_access()
        assignment = get_object_or_404(release.assignments.select_related("user"), pk=assignment_id)
        rules.ASSIGN_ROLES.check(access)
        services.unassign_role(release, assignment.user, assignment.role, by=actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- checklists -----------------------------------------------------------------------------


class ChecklistFilter(django_filters.FilterSet):
    phase = django_filters.ChoiceFilter(choices=Phase.choices)

    class Meta:
        model = ChecklistItem
        fields = ["phase"]


class ChecklistItems(ReleaseScoped, generics.ListAPIView):
    serializer_class = s.ChecklistItemSerializer
    queryset = ChecklistItem.objects.none()
    filter_backends = [FilterBackend]
    filterset_class = ChecklistFilter

    def get_queryset(self) -> QuerySet[ChecklistItem]:
        release, _ = self.release_and_access()
        return release.checklist_items.select_related("ticked_by")


class ChecklistItemScoped(ReleaseScoped):
    def item(self) -> tuple[ReleaseAccess, ChecklistItem]:
        release, access = self.release_and_access()
        item = get_object_or_404(
            release.checklist_items.select_related("ticked_by"), pk=self.kwargs["item_id"]
        )
        return access, item


class TickItem(ChecklistItemScoped):
    @extend_schema(request=s.TickSerializer, responses=s.ChecklistItemSerializer)
    def post(self, request: Request, release_id: int, item_id: int) -> Response:
        """Tick with evidence: a note, a link, or both."""
        access, item = self.item()
        rules.TICK.check(access, item)
        data = validated(s.TickSerializer, request)
        item = services.tick_checklist_item(
            item, by=actor(request), note=data["note"], url=data["url"]
        )
        return Response(s.ChecklistItemSerializer(item).data)


class UntickItem(ChecklistItemScoped):
    @extend_schema(request=s.UntickSerializer, responses=s.ChecklistItemSerializer)
    def post(self, request: Request, release_id: int, item_id: int) -> Response:
        """Untick; a required readiness item makes existing sign-offs stale."""
        access, item = self.item()
        rules.TICK.check(access, item)
        data = validated(s.UntickSerializer, request)
        item = services.untick_checklist_item(item, by=actor(request), reason=data["reason"])
        return Response(s.ChecklistItemSerializer(item).data)


# --- rollback plan and review ------------------------------------------------------------


class RollbackPlanView(ReleaseScoped):
    def plan_response(self, release: Release) -> Response:
        plan = get_object_or_404(
            RollbackPlan.objects.select_related("decider", "release"), release=release
        )
        return Response(s.RollbackPlanSerializer(plan).data)

    @extend_schema(responses=s.RollbackPlanSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        release, _ = self.release_and_access()
        return self.plan_response(release)

    @extend_schema(request=s.RollbackPlanSerializer, responses=s.RollbackPlanSerializer)
    def patch(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.EDIT_ROLLBACK_PLAN.check(access)
        data = validated(
            s.RollbackPlanSerializer, request, partial=True, context={"project": release.project}
        )
        services.update_rollback_plan(release, by=actor(request), **data)
        return self.plan_response(release)


class ReviewActions(ReleaseScoped):
    @extend_schema(request=s.ReviewActionInputSerializer, responses={201: s.ReviewActionSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Add a follow-up action to the post-release review."""
        release, access = self.release_and_access()
        rules.WRITE_REVIEW.check(access)
        data = validated(
            s.ReviewActionInputSerializer, request, context={"project": release.project}
        )
        action = services.add_review_action(release, by=actor(request), **data)
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
        action = services.complete_review_action(action, by=actor(request))
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
        services.save_review(release, by=actor(request), **data)
        return self.review_response(release)


# --- notifications ----------------------------------------------------------------------------


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at",
        lookup_expr="isnull",
        help_text="Only unread notifications (or only read ones).",
    )

    class Meta:
        model = Notification
        fields = ["unread"]


class Notifications(generics.ListAPIView):
    """Your in-app notifications, newest first. ``?unread=true`` lists the unread ones; its
    ``count`` is the number a badge shows."""

    serializer_class = s.NotificationSerializer
    queryset = Notification.objects.none()
    filterset_class = NotificationFilter
    permission_classes = [IsAuthenticated, PeopleOnly]

    def get_queryset(self) -> QuerySet[Notification]:
        return notices.notifications_for(self.request.user)


def _marked(request: Request, marked: int) -> Response:
    return Response({"marked": marked, "unread": notices.unread_count(request.user)})


class MarkNotificationsRead(APIView):
    permission_classes = [IsAuthenticated, PeopleOnly]

    @extend_schema(request=s.MarkReadSerializer, responses=s.MarkedSerializer)
    def post(self, request: Request) -> Response:
        """Mark some of your notifications read; ids that are not yours change nothing."""
        data = validated(s.MarkReadSerializer, request)
        return _marked(request, notices.mark_read(request.user, data["ids"]))


class MarkAllNotificationsRead(APIView):
    permission_classes = [IsAuthenticated, PeopleOnly]

    @extend_schema(request=None, responses=s.MarkedSerializer)
    def post(self, request: Request) -> Response:
        """Mark every one of your notifications read."""
        no_input(request)
        return _marked(request, notices.mark_all_read(request.user))
