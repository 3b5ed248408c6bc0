"""HTML views of the release workspace: thin, each a permission check and one service call.

Every POST works twice over: with htmx it answers with the section it changed (and tells the
page that something changed, so the other sections refresh); without JavaScript it redirects
back to the release page with a message. Refusals and bad input change nothing and say why:
403 (not allowed), 409 (not possible now), 422 (field errors).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from monitoring import forms as monitoring_forms
from monitoring import health
from monitoring.models import CheckPhase, RollbackTrigger
from releases import dashboard as dash
from releases import forms, services, signals
from releases import notifications as notices
from releases import permissions as rules
from releases import timeline as tl
from releases.errors import NotAllowed, Refused
from releases.models import (
    ChecklistItem,
    Project,
    Release,
    ReviewAction,
    ScopeChangeRequest,
    ScopeItem,
)
from releases.permissions import (
    ReleaseAccess,
    can_create_release,
    can_manage_project,
    get_project_for,
    get_release_for,
    visible_projects,
    visible_releases,
)
from releases.release_notes import render_release_notes
from releases.templatetags.greenlight import duration
from releases.workspace import SECTIONS, ReleasePage, load


def signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``login_required`` that also works for htmx: a live poll or a section refresh after the
    session expired sends the whole page to the login form instead of swapping the login form
    into a corner of the page."""
    page_view = login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.htmx and not request.user.is_authenticated:
            back = request.htmx.current_url_abs_path or "/"
            return HttpResponseClientRedirect(f"{reverse('login')}?{urlencode({'next': back})}")
        return page_view(request, *args, **kwargs)

    return wrapper


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# --- dashboard --------------------------------------------------------------------------------


@signed_in
def dashboard(request: HttpRequest) -> HttpResponse:
    projects = dash.filter_projects(request)
    filters = forms.DashboardFilter(request.GET or None, projects=projects)
    releases = visible_releases(request.user).active()
    if filters.is_bound and not filters.is_valid():
        releases = releases.none()
    elif filters.is_bound:
        if filters.cleaned_data["project"]:
            releases = releases.filter(project__slug=filters.cleaned_data["project"])
        if filters.cleaned_data["status"]:
            releases = releases.filter(status=filters.cleaned_data["status"])
        if filters.cleaned_data["mine"]:
            releases = releases.filter(dash.my_actions(request.user).releases_q())
    releases = dash.with_versions(
        releases.order_by(
            F("deploy_window_start").asc(nulls_last=True), "project__name", "version", "pk"
        )
    )
    page = dash.paginate(releases, request.GET.get("page"))
    token = dash.change_token(releases=list(page.object_list))
    context = {
        "rows": dash.render_rows(list(page.object_list)),
        "panel": dash.render_panel(request.user, token),
        "page": page,
        "filters": filters,
        "projects": projects,
        "token": token,
        "query": _query_without(request, "page"),
        "can_create": dash.person_summary(request)["can_create"],
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "releases/dashboard.html#live", context)
    return render(request, "releases/dashboard.html", context)


@signed_in
@require_GET
def dashboard_pulse(request: HttpRequest) -> HttpResponse:
    """204 while nothing changed; otherwise a fresh pulse that makes the page refresh."""
    token = dash.change_token()
    if request.GET.get("v") == token:
        return HttpResponse(status=204)
    response = render(request, "releases/_pulse.html", {"token": token, "url": request.path})
    return trigger_client_event(response, "gl:changed", {})


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


# --- timeline ---------------------------------------------------------------------------------


# The chart and its "earlier"/"later" links move by weeks from the first day: keep them all
# within the calendar.
TIMELINE_FIRST_DAY = dt.date.min + dt.timedelta(weeks=5)
TIMELINE_LAST_DAY = dt.date.max - dt.timedelta(weeks=9)


@signed_in
def timeline(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    try:
        start_day = dt.date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        start_day = None
    if start_day is None or not TIMELINE_FIRST_DAY <= start_day <= TIMELINE_LAST_DAY:
        start_day = (now - dt.timedelta(weeks=3)).date()
    start = dt.datetime.combine(start_day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(weeks=8)
    projects = list(visible_projects(request.user))
    releases = visible_releases(request.user)
    project = request.GET.get("project", "")
    if project:
        # Only a project the person sees can be asked for; anything else (a typo, bytes the
        # database refuses) shows nothing.
        visible = next((p for p in projects if p.slug == project), None)
        releases = releases.filter(project=visible) if visible else releases.none()
    page = Paginator(tl.releases_in_range(releases, start, end), tl.LANES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    chart = tl.build(list(page.object_list), start, end, now=now)
    return render(
        request,
        "releases/timeline.html",
        {
            "chart": chart,
            "page": page,
            "legend": tl.MILESTONES
            + [(None, label, letter, None, None) for _n, label, letter in tl.ENDINGS],
            "projects": projects,
            "project": project,
            "earlier": (start_day - dt.timedelta(weeks=4)).isoformat(),
            "later": (start_day + dt.timedelta(weeks=4)).isoformat(),
            "today": (now - dt.timedelta(weeks=3)).date().isoformat(),
        },
    )


# --- notifications ----------------------------------------------------------------------------


@signed_in
def notifications(request: HttpRequest) -> HttpResponse:
    rows = notices.notifications_for(request.user)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = {"page": page, "unread": notices.unread_count(request.user)}
    if request.htmx:
        return render(request, "releases/notifications.html#list", context)
    return render(request, "releases/notifications.html", context)


@signed_in
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    """Mark the ``id``s given read, or every unread one when none is given."""
    ids = request.POST.getlist("id")
    try:
        count = notices.mark_read(request.user, ids) if ids else notices.mark_all_read(request.user)
    except ValidationError:
        count = 0
    if request.htmx:
        return notifications(request)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("notifications")


# --- create and edit --------------------------------------------------------------------------


def _creatable_projects(user: Any) -> list[Project]:
    return [p for p in visible_projects(user) if can_create_release(user, p)]


@signed_in
def release_create(request: HttpRequest) -> HttpResponse:
    projects = _creatable_projects(request.user)
    if not projects:
        raise Http404("You manage no project, so you cannot create releases.")
    choices = Project.objects.filter(pk__in=[p.pk for p in projects])
    initial = {}
    slug = request.GET.get("project")
    if slug:
        initial["project"] = next((p for p in projects if p.slug == slug), None)
    form = forms.NewReleaseForm(request.POST or None, projects=choices, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            project, version = data.pop("project"), data.pop("version")
            try:
                release = services.create_release(project, by=request.user, version=version, **data)
            except ValidationError as exc:
                forms.apply_errors(form, exc)
            else:
                messages.success(request, f"Release {release.version} created.")
                for _, note in signals.new_release_submitted.send(
                    sender=Release, release=release, data=request.POST, actor=request.user
                ):
                    if note:
                        messages.warning(request, note)
                return redirect(release)
        status = 422
    return render(
        request, "releases/release_form.html", {"form": form, "creating": True}, status=status
    )


@signed_in
def release_edit(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    if not rules.EDIT_RELEASE.allows(access):
        return render(
            request,
            "releases/release_form.html",
            {"release": release, "problem": rules.EDIT_RELEASE.refusal},
            status=403,
        )
    names = list(forms.ReleaseForm.base_fields)
    initial = {name: getattr(release, name) for name in names}
    form = forms.ReleaseForm(
        request.POST or None, initial=initial, kind_locked=release.scope_locked
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            changes = {n: form.cleaned_data[n] for n in names if n in form.changed_data}
            try:
                services.update_release(release, by=request.user, **changes)
            except ValidationError as exc:
                forms.apply_errors(form, exc)
            except (Refused, NotAllowed) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Release updated." if changes else "Nothing changed.")
                return redirect(release)
        status = 422
    return render(
        request, "releases/release_form.html", {"form": form, "release": release}, status=status
    )


# --- the release page -------------------------------------------------------------------------


def _context(page: ReleasePage) -> dict[str, Any]:
    return {"page": page, "release": page.release, "access": page.access}


@signed_in
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = load(request.user, pk)
    return render(request, "releases/detail.html", _context(ReleasePage(request, release, access)))


@signed_in
@require_GET
def release_section(request: HttpRequest, pk: int, section: str) -> HttpResponse:
    if section not in SECTIONS:
        raise Http404("No such section.")
    release, access = load(request.user, pk)
    page = ReleasePage(request, release, access)
    return render(request, f"releases/detail.html#{section}", _context(page))


@signed_in
@require_GET
def release_pulse(request: HttpRequest, pk: int) -> HttpResponse:
    """204 while nothing changed on the release; otherwise a fresh pulse and a refresh."""
    release, _access = get_release_for(request.user, pk)
    from releases.dashboard import release_token

    token = release_token(release.pk)
    if request.GET.get("v") == token:
        return HttpResponse(status=204)
    response = render(request, "releases/_pulse.html", {"token": token, "url": request.path})
    return trigger_client_event(response, "gl:changed", {})


@signed_in
def release_events(request: HttpRequest, pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    events = release.events.select_related("actor")
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "releases/events.html", {"release": release, "page": page})


@signed_in
@require_GET
def release_notes(request: HttpRequest, pk: int) -> HttpResponse:
    """The release notes as a Markdown file, for a changelog, a wiki or an email."""
    release, _access = get_release_for(
        request.user,
        pk,
        queryset=Release.objects.select_related("project").prefetch_related("scope_items"),
    )
    response = HttpResponse(
        render_release_notes(release), content_type="text/markdown; charset=utf-8"
    )
    # Versions keep their dots (2.4.1); anything a file name should not hold becomes a dash.
    name = re.sub(r"[^\w.]+", "-", f"{release.project.slug}-{release.version}").strip("-.")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{name}-release-notes.md"
    )
    return response


def answer(
    request: HttpRequest,
    pk: int,
    *,
    section: str,
    done: str = "",
    problem: str = "",
    failed: tuple[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render the outcome of a POST: the section (htmx), a redirect (plain POST, success) or
    the whole page with the message and the form's errors (plain POST, failure)."""
    release, access = load(request.user, pk)
    page = ReleasePage(
        request, release, access, section=section, failed=failed, problem=problem, notice=done
    )
    if request.htmx:
        response = render(request, f"releases/detail.html#{section}", _context(page), status=status)
        if done:
            # The other sections refresh themselves; this one was just rendered.
            trigger_client_event(response, "gl:changed", {"skip": f"sec-{section}"})
        return response
    if done:
        messages.success(request, done, extra_tags=f"section-{section}")
        return redirect(reverse("release_detail", args=[pk]) + f"#sec-{section}")
    return render(request, "releases/detail.html", _context(page), status=status)


def run(
    request: HttpRequest,
    pk: int,
    *,
    section: str,
    rule: rules.Rule | None,
    access: ReleaseAccess,
    call: Callable[[], Any],
    subject: tuple[Any, ...] = (),
    also: tuple[rules.Rule, ...] = (),
    done: str | Callable[[Any], str] = "Saved.",
    form: Any = None,
    key: str = "",
    go_to: Callable[[Any], str] | None = None,
) -> HttpResponse:
    """Ask the rule, validate, call one service, answer. Nothing changes on any failure.

    The rule refuses who may not (403, its sentence); the service refuses what the release's
    state does not allow (409). With no rule here, the service holds it and refuses itself.
    ``go_to`` sends the browser to another page on success (e.g. the release just created)."""
    for asked in (rule, *also):
        if asked is not None and not asked.allows(access, *subject):
            return answer(request, pk, section=section, problem=asked.refusal, status=403)
    if form is not None and not form.is_valid():
        return answer(
            request,
            pk,
            section=section,
            problem="Please correct the highlighted fields.",
            failed=(key, form),
            status=422,
        )
    try:
        result = call()
    except ValidationError as exc:
        if form is None:
            return answer(request, pk, section=section, problem=" ".join(exc.messages), status=422)
        forms.apply_errors(form, exc)
        return answer(
            request,
            pk,
            section=section,
            problem="Please correct the highlighted fields.",
            failed=(key, form),
            status=422,
        )
    except NotAllowed as exc:
        return answer(request, pk, section=section, problem=str(exc), status=403)
    except Refused as exc:
        return answer(
            request, pk, section=section, problem=str(exc), failed=(key, form), status=409
        )
    message = done(result) if callable(done) else done
    if go_to is not None:
        messages.success(request, message)
        if request.htmx:
            return HttpResponseClientRedirect(go_to(result))
        return redirect(go_to(result))
    return answer(request, pk, section=section, done=message)


def _release(request: HttpRequest, pk: int) -> tuple[Release, ReleaseAccess]:
    return get_release_for(request.user, pk)


# --- lifecycle --------------------------------------------------------------------------------


@signed_in
@require_POST
def release_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    release, access = _release(request, pk)
    user = request.user
    if action == "lock_scope":
        return run(
            request,
            pk,
            section="header",
            rule=rules.LOCK_SCOPE,
            access=access,
            call=lambda: services.lock_scope(release, by=user),
            done="Scope locked.",
        )
    if action == "cancel":
        form = forms.ReasonForm(request.POST, auto_id="id_cancel_%s")
        return run(
            request,
            pk,
            section="header",
            rule=rules.CANCEL,
            access=access,
            form=form,
            key="cancel",
            call=lambda: services.cancel_release(
                release, by=user, reason=form.cleaned_data["reason"]
            ),
            done="Release cancelled.",
        )
    if action == "start_deploy":
        form = forms.StartDeployForm(request.POST, auto_id="id_deploy_%s")
        return run(
            request,
            pk,
            section="header",
            rule=rules.START_DEPLOY,
            access=access,
            # Overriding a freeze or the planned time is a release manager's call, whoever
            # starts the deploy.
            also=(rules.OVERRIDE_DEPLOY_GUARDS,)
            if request.POST.get("override_reason", "").strip()
            else (),
            form=form,
            key="start_deploy",
            call=lambda: services.start_deploy(
                release, by=user, override_reason=form.cleaned_data["override_reason"]
            ),
            done="Deploy started.",
        )
    if action == "finish_deploy":
        return run(
            request,
            pk,
            section="header",
            rule=rules.FINISH_DEPLOY,
            access=access,
            call=lambda: services.finish_deploy(release, by=user),
            done="Deploy done.",
        )
    if action == "complete":
        return run(
            request,
            pk,
            section="header",
            rule=rules.COMPLETE,
            access=access,
            # Fail closed: released only when every required post-release check counts as
            # passing and the release is not unhealthy.
            call=lambda: health.release_if_healthy(release, by=user),
            done="Released.",
        )
    if action == "restore_health":
        form = forms.ReasonForm(request.POST, auto_id="id_restore_%s")
        return run(
            request,
            pk,
            section="header",
            rule=rules.RESTORE_HEALTH,
            access=access,
            form=form,
            key="restore_health",
            call=lambda: health.restore_health(
                release, by=user, reason=form.cleaned_data["reason"]
            ),
            done="Marked healthy again.",
        )
    if action == "roll_back":
        form = forms.ReasonForm(request.POST, auto_id="id_rollback_%s")
        return run(
            request,
            pk,
            section="header",
            rule=rules.ROLL_BACK,
            access=access,
            form=form,
            key="roll_back",
            call=lambda: services.roll_back(release, by=user, reason=form.cleaned_data["reason"]),
            done="Rolled back.",
        )
    if action == "finish_rollback":
        form = forms.FinishRollbackForm(request.POST, auto_id="id_finish_rollback_%s")
        return run(
            request,
            pk,
            section="header",
            rule=rules.FINISH_ROLLBACK,
            access=access,
            form=form,
            key="finish_rollback",
            call=lambda: services.finish_rollback(
                release, by=user, at=form.cleaned_data["finished_at"]
            ),
            done=_restored,
        )
    if action == "carry_forward":
        form = forms.CarryForwardForm(request.POST, auto_id="id_carry_%s")
        return run(
            request,
            pk,
            section="header",
            rule=rules.CARRY_FORWARD,
            access=access,
            form=form,
            key="carry_forward",
            call=lambda: services.carry_scope_forward(
                release, by=user, version=form.cleaned_data["version"]
            ),
            done=lambda new: f"Release {new.version} created with the scope of {release.version}.",
            go_to=lambda new: new.get_absolute_url(),
        )
    raise Http404("No such action.")


def _restored(release: Release) -> str:
    restore = services.release_time_to_restore(release)
    if restore is None:
        return "Rollback finished."
    return f"Rollback finished: service restored {duration(restore)} after the failure."


# --- scope ------------------------------------------------------------------------------------


def _item(release: Release, item_pk: int) -> ScopeItem:
    return get_object_or_404(ScopeItem, pk=item_pk, release=release)


@signed_in
@require_POST
def scope_add(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    form = forms.ScopeItemForm(request.POST, project=release.project, auto_id="id_scope_%s")
    return run(
        request,
        pk,
        section="scope",
        rule=rules.EDIT_SCOPE,
        access=access,
        form=form,
        key="scope-new",
        call=lambda: services.add_scope_item(release, by=request.user, **form.cleaned_data),
        done=lambda item: f"Added “{item.title}”.",
    )


@signed_in
@require_POST
def scope_edit(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    item = _item(release, item_pk)
    form = forms.ScopeItemForm(request.POST, project=release.project, prefix=f"item{item.pk}")
    return run(
        request,
        pk,
        section="scope",
        rule=rules.EDIT_SCOPE,
        access=access,
        form=form,
        key=f"scope-{item.pk}",
        call=lambda: services.update_scope_item(item, by=request.user, **form.cleaned_data),
        done=lambda saved: f"Saved “{saved.title}”.",
    )


@signed_in
@require_POST
def scope_state(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    item = _item(release, item_pk)
    state = request.POST.get("state", "")
    if state not in ScopeItem.State.values:
        return answer(request, pk, section="scope", problem="Unknown state.", status=422)
    verb = "Deferred" if state == ScopeItem.State.DEFERRED else "Restored"
    return run(
        request,
        pk,
        section="scope",
        rule=rules.EDIT_SCOPE,
        access=access,
        call=lambda: services.set_scope_item_state(item, state, by=request.user),
        done=lambda saved: f"{verb} “{saved.title}”.",
    )


@signed_in
@require_POST
def risk_resolve(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    item = _item(release, item_pk)
    form = forms.ResolveRiskForm(request.POST, prefix=f"resolve{item.pk}")
    return run(
        request,
        pk,
        section="scope",
        rule=rules.RESOLVE_RISK,
        access=access,
        form=form,
        key=f"resolve-{item.pk}",
        call=lambda: services.resolve_risk(item, by=request.user, **form.cleaned_data),
        done="Risk resolved.",
    )


@signed_in
@require_POST
def change_request_new(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    form = forms.ChangeRequestForm(request.POST, release=release, auto_id="id_change_%s")
    return run(
        request,
        pk,
        section="scope",
        rule=rules.REQUEST_SCOPE_CHANGE,
        access=access,
        form=form,
        key="change-request",
        call=lambda: services.request_scope_change(
            release, by=request.user, **form.service_kwargs()
        ),
        done="Change requested: Product and the release manager decide.",
    )


def _change_request(release: Release, request_pk: int) -> ScopeChangeRequest:
    return get_object_or_404(ScopeChangeRequest, pk=request_pk, release=release)


@signed_in
@require_POST
def change_request_accept(request: HttpRequest, pk: int, request_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    change = _change_request(release, request_pk)
    role = access.accepting_role(change)
    return run(
        request,
        pk,
        section="scope",
        rule=None,
        access=access,
        call=lambda: services.approve_change_request(change, by=request.user, as_role=role),
        done=lambda decided: (
            "Accepted and applied."
            if decided.state == ScopeChangeRequest.State.ACCEPTED
            else "Accepted; waiting for the other side."
        ),
    )


@signed_in
@require_POST
def change_request_reject(request: HttpRequest, pk: int, request_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    change = _change_request(release, request_pk)
    form = forms.ReasonForm(request.POST, prefix=f"reject{change.pk}")
    return run(
        request,
        pk,
        section="scope",
        rule=None,
        access=access,
        form=form,
        key=f"reject-{change.pk}",
        call=lambda: services.reject_change_request(
            change, by=request.user, reason=form.cleaned_data["reason"]
        ),
        done="Change rejected.",
    )


@signed_in
@require_POST
def change_request_withdraw(request: HttpRequest, pk: int, request_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    change = _change_request(release, request_pk)
    return run(
        request,
        pk,
        section="scope",
        rule=None,
        access=access,
        call=lambda: services.withdraw_change_request(change, by=request.user),
        done="Request withdrawn.",
    )


# --- checklists -------------------------------------------------------------------------------


def _checklist_item(release: Release, item_pk: int) -> ChecklistItem:
    return get_object_or_404(ChecklistItem, pk=item_pk, release=release)


@signed_in
@require_POST
def checklist_tick(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    item = _checklist_item(release, item_pk)
    form = forms.TickForm(request.POST, prefix=f"tick{item.pk}")
    return run(
        request,
        pk,
        section="checklists",
        rule=rules.TICK,
        access=access,
        subject=(item,),
        form=form,
        key=f"tick-{item.pk}",
        call=lambda: services.tick_checklist_item(
            item, by=request.user, note=form.cleaned_data["note"], url=form.cleaned_data["url"]
        ),
        done=lambda ticked: f"Ticked “{ticked.title}”.",
    )


@signed_in
@require_POST
def checklist_untick(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    item = _checklist_item(release, item_pk)
    form = forms.UntickForm(request.POST, prefix=f"untick{item.pk}")
    return run(
        request,
        pk,
        section="checklists",
        rule=rules.TICK,
        access=access,
        subject=(item,),
        form=form,
        key=f"untick-{item.pk}",
        call=lambda: services.untick_checklist_item(
            item, by=request.user, reason=form.cleaned_data["reason"]
        ),
        done=lambda unticked: f"Unticked “{unticked.title}”.",
    )


# --- people, rollback plan, checks, notes, review -----------------------------------------------


@signed_in
@require_POST
def role_assign(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    form = forms.AssignRoleForm(request.POST, project=release.project, auto_id="id_assign_%s")
    return run(
        request,
        pk,
        section="signoffs",
        rule=rules.ASSIGN_ROLES,
        access=access,
        form=form,
        key="assign",
        call=lambda: services.assign_role(
            release, form.cleaned_data["user"], form.cleaned_data["role"], by=request.user
        ),
        done=lambda a: f"{a.user} is now {a.get_role_display()} on this release.",
    )


@signed_in
@require_POST
def role_unassign(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    form = forms.AssignRoleForm(request.POST, project=release.project, auto_id="id_unassign_%s")
    return run(
        request,
        pk,
        section="signoffs",
        rule=rules.ASSIGN_ROLES,
        access=access,
        form=form,
        key="assign",
        call=lambda: services.unassign_role(
            release, form.cleaned_data["user"], form.cleaned_data["role"], by=request.user
        ),
        done="Role removed.",
    )


@signed_in
@require_POST
def rollback_plan(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    form = forms.RollbackPlanForm(
        request.POST, project=release.project, auto_id="id_rollback_plan_%s"
    )

    def saved(plan: Any) -> str:
        missing = plan.missing(release.kind)
        return "Rollback plan saved" + (
            f"; still missing {', '.join(missing)}." if missing else "; it is complete."
        )

    return run(
        request,
        pk,
        section="rollback",
        rule=rules.EDIT_ROLLBACK_PLAN,
        access=access,
        form=form,
        key="rollback",
        call=lambda: services.update_rollback_plan(release, by=request.user, **form.cleaned_data),
        done=saved,
    )


def _post_release_checks(release: Release) -> Any:
    return release.checks.filter(phase=CheckPhase.POST_RELEASE).order_by("name", "pk")


def _trigger(release: Release, trigger_pk: int) -> RollbackTrigger:
    return get_object_or_404(
        RollbackTrigger.objects.select_related("release", "check_ref"),
        pk=trigger_pk,
        release=release,
    )


@signed_in
@require_POST
def rollback_trigger_add(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    form = monitoring_forms.RollbackTriggerForm(
        request.POST, checks=_post_release_checks(release), auto_id="id_trigger_%s"
    )
    return run(
        request,
        pk,
        section="rollback",
        rule=rules.EDIT_ROLLBACK_PLAN,
        access=access,
        form=form,
        key="trigger-new",
        call=lambda: health.add_rollback_trigger(
            release,
            by=request.user,
            check=form.cleaned_data["check"],
            mode=form.cleaned_data["mode"],
            description=form.cleaned_data["description"],
        ),
        done=lambda t: f"Trigger added: {t.description} → {t.get_mode_display().lower()}.",
    )


@signed_in
@require_POST
def rollback_trigger_save(request: HttpRequest, pk: int, trigger_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    trigger = _trigger(release, trigger_pk)
    form = monitoring_forms.RollbackTriggerChangeForm(request.POST, prefix=f"trigger{trigger.pk}")
    return run(
        request,
        pk,
        section="rollback",
        rule=rules.EDIT_ROLLBACK_PLAN,
        access=access,
        form=form,
        key=f"trigger-{trigger.pk}",
        call=lambda: health.update_rollback_trigger(
            trigger,
            by=request.user,
            mode=form.cleaned_data["mode"],
            description=form.cleaned_data["description"],
        ),
        done=lambda t: f"Trigger saved: {t.description} → {t.get_mode_display().lower()}.",
    )


@signed_in
@require_POST
def rollback_trigger_remove(request: HttpRequest, pk: int, trigger_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    trigger = _trigger(release, trigger_pk)
    return run(
        request,
        pk,
        section="rollback",
        rule=rules.EDIT_ROLLBACK_PLAN,
        access=access,
        call=lambda: health.remove_rollback_trigger(trigger, by=request.user),
        done=f"Trigger removed: {trigger.description}.",
    )


@signed_in
@require_POST
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    form = forms.NoteForm(request.POST, auto_id="id_note_%s")
    return run(
        request,
        pk,
        section="events",
        rule=rules.ADD_NOTE,
        access=access,
        form=form,
        key="note",
        call=lambda: services.add_note(release, by=request.user, text=form.cleaned_data["text"]),
        done="Note added.",
    )


@signed_in
@require_POST
def review_save(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    form = forms.ReviewForm(request.POST, auto_id="id_review_%s")
    return run(
        request,
        pk,
        section="review",
        rule=rules.WRITE_REVIEW,
        access=access,
        form=form,
        key="review",
        call=lambda: services.save_review(release, by=request.user, **form.cleaned_data),
        done="Review saved.",
    )


@signed_in
@require_POST
def review_action_add(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    form = forms.ReviewActionForm(request.POST, project=release.project, auto_id="id_action_%s")
    return run(
        request,
        pk,
        section="review",
        rule=rules.WRITE_REVIEW,
        access=access,
        form=form,
        key="review-action",
        call=lambda: services.add_review_action(release, by=request.user, **form.cleaned_data),
        done=lambda action: f"Action added: {action.description}",
    )


@signed_in
@require_POST
def review_action_done(request: HttpRequest, pk: int, action_pk: int) -> HttpResponse:
    release, access = _release(request, pk)
    action = get_object_or_404(ReviewAction, pk=action_pk, review__release=release)
    return run(
        request,
        pk,
        section="review",
        rule=rules.COMPLETE_REVIEW_ACTION,
        access=access,
        subject=(action,),
        call=lambda: services.complete_review_action(action, by=request.user),
        done=lambda done: f"Done: {done.description}",
    )


# --- project settings -------------------------------------------------------------------------


def settings_context(
    request: HttpRequest,
    project: Project,
    *,
    failed: tuple[str, Any] | None = None,
    problem: str = "",
) -> dict[str, Any]:
    from approvals.forms import PolicyForm, RequirementsForm
    from approvals.services import ensure_policy
    from monitoring.models import Integration

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
            lambda e=entry, u=uid: forms.MemberRolesForm(
                initial={"roles": e["roles"]}, prefix=f"m{u}"
            ),
        )
    templates = list(project.checklist_templates.all())
    for template in templates:
        template.form = pick(
            f"template-{template.pk}",
            lambda t=template: forms.ChecklistTemplateForm(instance=t, prefix=f"t{t.pk}"),
        )
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
    }


@signed_in
def project_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    return render(request, "releases/project_settings.html", settings_context(request, project))


@signed_in
@require_GET
def project_audit(request: HttpRequest, slug: str) -> HttpResponse:
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
def project_update(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = forms.ProjectForm(request.POST, instance=Project.objects.get(pk=project.pk))
    return settings_run(
        request,
        project,
        anchor="details",
        form=form,
        key="project",
        call=lambda: services.update_project(
            project,
            by=request.user,
            **{name: form.cleaned_data[name] for name in services.PROJECT_FIELDS},
        ),
        done="Project saved.",
    )


@signed_in
@require_POST
def environments_save(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = forms.DeployEnvironmentsForm(request.POST, prefix="env")
    return settings_run(
        request,
        project,
        anchor="environments",
        form=form,
        key="environments",
        call=lambda: services.set_deploy_environments(
            project, by=request.user, mapping=form.cleaned_data["deploy_environments"]
        ),
        done="Deploy environments saved.",
    )


@signed_in
@require_POST
def member_save(request: HttpRequest, slug: str, user_pk: int) -> HttpResponse:
    project = get_project_for(request.user, slug)
    member = get_object_or_404(project.memberships.select_related("user"), user_id=user_pk).user
    form = forms.MemberRolesForm(request.POST, prefix=f"m{member.pk}")
    return settings_run(
        request,
        project,
        anchor="members",
        form=form,
        key=f"member-{member.pk}",
        call=lambda: services.set_project_roles(
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
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = forms.AddMemberForm(request.POST, prefix="new")
    return settings_run(
        request,
        project,
        anchor="members",
        form=form,
        key="member-new",
        call=lambda: services.set_project_roles(
            project,
            form.cleaned_data["username"],
            form.cleaned_data["roles"],
            by=request.user,
        ),
        done=lambda _: f"{form.cleaned_data['username']} added to {project}.",
    )


@signed_in
@require_POST
def template_save(request: HttpRequest, slug: str, template_pk: int | None = None) -> HttpResponse:
    project = get_project_for(request.user, slug)
    template = (
        get_object_or_404(project.checklist_templates.all(), pk=template_pk)
        if template_pk
        else None
    )
    prefix = f"t{template_pk}" if template else "tnew"
    form = forms.ChecklistTemplateForm(request.POST, instance=template, prefix=prefix)
    return settings_run(
        request,
        project,
        anchor="checklists",
        form=form,
        key=f"template-{template_pk}" if template else "template-new",
        call=lambda: services.save_checklist_template(
            project,
            by=request.user,
            template=template,
            **{name: form.cleaned_data[name] for name in services.TEMPLATE_FIELDS},
        ),
        done=lambda saved: f"Saved “{saved.title}”.",
    )


@signed_in
@require_POST
def template_delete(request: HttpRequest, slug: str, template_pk: int) -> HttpResponse:
    project = get_project_for(request.user, slug)
    template = get_object_or_404(project.checklist_templates.all(), pk=template_pk)
    return settings_run(
        request,
        project,
        anchor="checklists",
        call=lambda: services.delete_checklist_template(template, by=request.user),
        done=f"Removed “{template.title}” from future releases.",
    )


@signed_in
@require_POST
def freeze_add(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = forms.FreezeWindowForm(request.POST, prefix="fw")
    return settings_run(
        request,
        project,
        anchor="freeze",
        form=form,
        key="window-new",
        call=lambda: services.save_freeze_window(
            project,
            by=request.user,
            **{name: form.cleaned_data[name] for name in services.FREEZE_FIELDS},
        ),
        done=lambda window: f"Freeze window “{window.reason}” saved.",
    )


@signed_in
@require_POST
def freeze_delete(request: HttpRequest, slug: str, window_pk: int) -> HttpResponse:
    project = get_project_for(request.user, slug)
    window = get_object_or_404(project.freeze_windows.all(), pk=window_pk)
    return settings_run(
        request,
        project,
        anchor="freeze",
        call=lambda: services.delete_freeze_window(window, by=request.user),
        done=f"Freeze window “{window.reason}” removed.",
    )
