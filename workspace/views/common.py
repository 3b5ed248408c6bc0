"""How a release-page action answers: the section it changed (htmx), a redirect, or the page
with the refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from lib.errors import NotAllowed, Refused
from lib.htmx import HtmxRequest
from releases import access as rules
from releases import forms
from releases.access import (
    ReleaseAccess,
    get_release_for,
)
from releases.models import (
    Release,
)
from workspace.release_cache import page_context, page_response
from workspace.release_page import ReleasePage, load


def answer(
    request: HtmxRequest,
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
        response = render(
            request, f"releases/detail.html#{section}", page_context(page), status=status
        )
        if done:
            # The other sections refresh themselves; this one was just rendered.
            trigger_client_event(response, "gl:changed", {"skip": f"sec-{section}"})
        return response
    if done:
        messages.success(request, done, extra_tags=f"section-{section}")
        return redirect(reverse("release_detail", args=[pk]) + f"#sec-{section}")
    return page_response(request, page, status=status)


def run(
    request: HtmxRequest,
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


def release_for(request: HttpRequest, pk: int) -> tuple[Release, ReleaseAccess]:
    return get_release_for(request.user, pk)
