"""Project settings: the page, its details, members, deploy environments and audit log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from approvals.forms import PolicyForm, RequirementsForm
from approvals.services.policy import ensure_policy
from lib.errors import NotAllowed, Refused
from lib.htmx import SignedInRequest, signed_in
from lib.links import absolute
from lib.shown import show_with
from monitoring.models import Integration
from releases import access as rules
from releases import forms
from releases.access import (
    can_manage_project,
    get_project_for,
)
from releases.models import (
    CalendarFeed,
    Project,
)
from releases.services.projects import (
    PROJECT_FIELDS,
    set_deploy_environments,
    set_project_roles,
    update_project,
)


def settings_context(
    request: HttpRequest,
    project: Project,
    *,
    failed: tuple[str, Any] | None = None,
    problem: str = "",
) -> dict[str, Any]:
    key, bound = failed or (None, None)

    def pick(name: str, make: Callable[[], Any]) -> Any:
        return bound if key == name else make()

    policy = (
        type(ensure_policy(project)).objects.prefetch_related("requirements").get(project=project)
    )
    current = {(r.release_kind, r.role): r.quorum for r in policy.requirements.all()}
    memberships = list(project.memberships.select_related("user").order_by("user__username"))
    members: dict[int, dict[str, Any]] = {}
    for m in memberships:
        entry = members.setdefault(m.user_id, {"user": m.user, "roles": []})
        entry["roles"].append(m.role)
    for entry in members.values():
        uid = entry["user"].pk
        entry["form"] = pick(
            f"member-{uid}",
            partial(forms.MemberRolesForm, initial={"roles": entry["roles"]}, prefix=f"m{uid}"),
        )
    templates = list(project.checklist_templates.all())
    for template in templates:
        show_with(
            template,
            form=pick(
                f"template-{template.pk}",
                partial(forms.ChecklistTemplateForm, instance=template, prefix=f"t{template.pk}"),
            ),
        )
    feed = CalendarFeed.objects.filter(project=project).first()
    return {
        "project": project,
        "can_manage": can_manage_project(request.user, project),
        "problem": problem,
        "failed_key": key,
        "project_form": pick("project", lambda: forms.ProjectForm(instance=project)),
        "members": list(members.values()),
        "add_member_form": pick("member-new", lambda: forms.AddMemberForm(prefix="new")),
        "templates": templates,
        "template_form": pick("template-new", lambda: forms.ChecklistTemplateForm(prefix="tnew")),
        "environments_form": pick(
            "environments",
            lambda: forms.DeployEnvironmentsForm(
                initial={
                    "deploy_environments": forms.DeployEnvironmentsForm.as_text(
                        project.deploy_environments
                    )
                },
                prefix="env",
            ),
        ),
        "windows": list(project.freeze_windows.all()),
        "window_form": pick("window-new", lambda: forms.FreezeWindowForm(prefix="fw")),
        "policy": policy,
        "policy_form": pick("policy", lambda: PolicyForm(instance=policy, prefix="policy")),
        "requirements_form": pick(
            "policy-roles", lambda: RequirementsForm(current=current, prefix="req")
        ),
        "integrations": list(Integration.objects.filter(project=project)),
        "trains": list(project.trains.all()),
        "calendar_feed": feed,
        "calendar_url": absolute(feed.get_absolute_url()) if feed else "",
    }


@signed_in
def project_settings(request: SignedInRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    return render(request, "releases/project_settings.html", settings_context(request, project))


@signed_in
@require_GET
def project_audit(request: SignedInRequest, slug: str) -> HttpResponse:
    """Every change to the project, newest first; members read it, outsiders get 404."""
    project = get_project_for(request.user, slug)
    events = project.events.select_related("actor")
    form = forms.ProjectEventFilterForm(request.GET, actors=project.events.actors())
    if not form.is_valid():
        events = events.none()
    else:
        if form.cleaned_data["kind"]:
            events = events.filter(kind=form.cleaned_data["kind"])
        if form.cleaned_data["actor"]:
            events = events.by_actor(form.cleaned_data["actor"])
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "releases/project_audit.html",
        {"project": project, "form": form, "page": page},
        status=200 if form.is_valid() else 400,
    )


@dataclass(frozen=True)
class SettingsPage:
    """A page of project settings: where success goes back to, and how failure is drawn."""

    url_name: str
    template: str
    context: Callable[..., dict[str, Any]]


SETTINGS = SettingsPage("project_settings", "releases/project_settings.html", settings_context)


def settings_answer(
    request: HttpRequest,
    project: Project,
    *,
    done: str = "",
    problem: str = "",
    failed: tuple[str, Any] | None = None,
    status: int = 200,
    anchor: str = "",
    page: SettingsPage = SETTINGS,
) -> HttpResponse:
    if done:
        messages.success(request, done)
        return redirect(reverse(page.url_name, args=[project.slug]) + f"#{anchor}")
    context = page.context(request, project, failed=failed, problem=problem)
    return render(request, page.template, context, status=status)


def settings_run(
    request: HttpRequest,
    project: Project,
    *,
    anchor: str,
    call: Callable[[], Any],
    done: str | Callable[[Any], str] = "Saved.",
    form: Any = None,
    key: str = "",
    page: SettingsPage = SETTINGS,
) -> HttpResponse:
    """The project-settings twin of ``run``: managers only, one service call, full page."""
    if not rules.MANAGE_PROJECT.allows(request.user, project):
        return settings_answer(
            request, project, status=403, problem=rules.MANAGE_PROJECT.refusal, page=page
        )
    if form is not None and not form.is_valid():
        return settings_answer(
            request,
            project,
            status=422,
            failed=(key, form),
            problem="Please correct the highlighted fields.",
            page=page,
        )
    try:
        result = call()
    except ValidationError as exc:
        if form is not None:
            forms.apply_errors(form, exc)
        return settings_answer(
            request,
            project,
            status=422,
            failed=(key, form),
            problem=" ".join(exc.messages)
            if form is None
            else "Please correct the highlighted fields.",
            page=page,
        )
    except (NotAllowed, Refused) as exc:
        return settings_answer(request, project, status=409, problem=str(exc), page=page)
    message = done(result) if callable(done) else done
    return settings_answer(request, project, done=message, anchor=anchor, page=page)


@signed_in
@require_POST
def project_update(request: SignedInRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = forms.ProjectForm(request.POST, instance=Project.objects.get(pk=project.pk))
    return settings_run(
        request,
        project,
        anchor="details",
        form=form,
        key="project",
        call=lambda: update_project(
            project,
            by=request.user,
            **{name: form.cleaned_data[name] for name in PROJECT_FIELDS},
        ),
        done="Project saved.",
    )


@signed_in
@require_POST
def environments_save(request: SignedInRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = forms.DeployEnvironmentsForm(request.POST, prefix="env")
    return settings_run(
        request,
        project,
        anchor="environments",
        form=form,
        key="environments",
        call=lambda: set_deploy_environments(
            project, by=request.user, mapping=form.cleaned_data["deploy_environments"]
        ),
        done="Deploy environments saved.",
    )


@signed_in
@require_POST
def member_save(request: SignedInRequest, slug: str, user_pk: int) -> HttpResponse:
    project = get_project_for(request.user, slug)
    member = get_object_or_404(project.memberships.select_related("user"), user_id=user_pk).user
    form = forms.MemberRolesForm(request.POST, prefix=f"m{member.pk}")
    return settings_run(
        request,
        project,
        anchor="members",
        form=form,
        key=f"member-{member.pk}",
        call=lambda: set_project_roles(
            project, member, form.cleaned_data["roles"], by=request.user
        ),
        done=lambda _: (
            f"Roles of {member} saved."
            if form.cleaned_data["roles"]
            else f"{member} removed from {project}."
        ),
    )


@signed_in
@require_POST
def member_add(request: SignedInRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = forms.AddMemberForm(request.POST, prefix="new")
    return settings_run(
        request,
        project,
        anchor="members",
        form=form,
        key="member-new",
        call=lambda: set_project_roles(
            project,
            form.cleaned_data["username"],
            form.cleaned_data["roles"],
            by=request.user,
        ),
        done=lambda _: f"{form.cleaned_data['username']} added to {project}.",
    )
