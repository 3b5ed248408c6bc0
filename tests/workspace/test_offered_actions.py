"""Offered means accepted: every button the release page offers a person, pressed with the
form filled in as a person would, is accepted by the server. What the server would refuse is
not offered, or is shown disabled with the server's reason."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals.services.decisions import open_poll
from monitoring.models import Check, CheckPhase
from monitoring.services.health import release_if_healthy
from monitoring.services.results import record_check_result
from releases.models import Release
from releases.services.lifecycle import cancel_release, lock_scope
from releases.services.notes import add_note
from releases.services.rollback import roll_back
from releases.services.scope import request_scope_change
from tests.builders import (
    Rewind,
    complete_rollback_plan,
    make_approved,
    make_deploying,
    make_monitoring,
    make_ready,
    make_release,
    sessions,
    signed_in,
)
from tests.html import client_for, htmx_post

pytestmark = pytest.mark.django_db

PEOPLE = ("rita", "paul", "quinn", "dana", "devin", "vic")

# What a person types into a field of each kind.
TYPED = {
    "url": "https://ci.example.com/payments/runs/812",
    "date": "2026-12-24",
    "time": "10:00",
    "number": "1",
    "email": "quinn@example.com",
}
TEXT = "Checked with the team"


def typed(kind: str) -> str:
    """What a person types into a field of this kind; a moment is this very minute, which
    comes after whatever the builders did and is not in the future."""
    if kind == "datetime-local":
        return timezone.now().strftime("%Y-%m-%dT%H:%M")
    return TYPED.get(kind, TEXT)


@dataclass
class Form:
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    selects: dict[str, list[str]] = field(default_factory=dict)
    selected: dict[str, str] = field(default_factory=dict)
    # id, name, value, disabled, formaction
    buttons: list[tuple[str, str, str, bool, str]] = field(default_factory=list)


class Forms(HTMLParser):
    """The page's POST forms, their fields as a browser would send them, and their buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.form = Form(action=a.get("action", ""))
            self.forms.append(self.form)
            return
        form = self.form
        if form is None:
            return
        name = a.get("name", "")
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button"):
                form.buttons.append(
                    (a.get("id", ""), name, a.get("value", ""), "disabled" in a, "")
                )
            elif kind in ("checkbox", "radio"):
                if "checked" in a and name:
                    form.fields.setdefault(name, []).append(a.get("value", "on"))
            elif name and kind != "file":
                value = a.get("value", "") or typed(kind)
                form.fields.setdefault(name, []).append(value)
        elif tag == "textarea" and name:
            self.textarea = name
            form.fields[name] = [""]
        elif tag == "select" and name:
            self.select = name
            form.selects[name] = []
        elif tag == "option" and self.select:
            form.selects[self.select].append(a.get("value", ""))
            if "selected" in a:
                form.selected[self.select] = a.get("value", "")
        elif tag == "button" and a.get("type", "submit") == "submit":
            form.buttons.append(
                (
                    a.get("id", ""),
                    name,
                    a.get("value", ""),
                    "disabled" in a,
                    a.get("formaction", ""),
                )
            )

    def handle_data(self, data: str) -> None:
        if self.form is not None and self.textarea:
            self.form.fields[self.textarea] = [data.strip()]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def presses(page: str, prefix: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(button id, url, data) for every enabled submit button of the forms posting under
    ``prefix``."""
    parser = Forms()
    parser.feed(page)
    found = []
    for form in parser.forms:
        data: dict[str, Any] = {}
        for name, values in form.fields.items():
            data[name] = [v if v else TEXT for v in values]
        for name, options in form.selects.items():
            chosen = form.selected.get(name) or next((o for o in options if o), "")
            if chosen:
                data[name] = chosen
        for ident, name, value, disabled, formaction in form.buttons:
            url = formaction or form.action
            if disabled or not url.startswith(prefix):
                continue
            found.append((ident or url, url, {**data, **({name: value} if name else {})}))
    return found


def refused_presses(
    cast, page_url: str, prefix: str, *, refusals: Any = None
) -> dict[str, list[str]]:
    """Every button offered to each of the people, pressed in turn, each undone after: those
    the server refused (any 4xx, or only the ``refusals`` statuses given), by person."""
    people = sessions(*(getattr(cast, who) for who in PEOPLE))
    refused: dict[str, list[str]] = {}
    for who, session in zip(PEOPLE, people, strict=True):
        client = signed_in(Client(), session)
        page = client.get(page_url).content.decode()
        rewind = Rewind()
        refused[who] = []
        for ident, url, data in presses(page, prefix):
            response = htmx_post(client, url, data)
            rewind()
            if response.status_code in (refusals or range(400, 500)):
                refused[who].append(f"{ident} ({response.status_code}): {why(response)}")
    return refused


def why(response) -> str:
    """The refusal's sentence and the field errors, as the page shows them."""
    body = unescape(response.content.decode())
    flash = re.search(r'role="alert">(.*?)</p>', body, re.S)
    errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', body, re.S)
    return " ".join(
        [flash.group(1).strip() if flash else ""] + [re.sub("<[^>]+>", " ", e) for e in errors]
    )


def planning_with_empty_scope(cast):
    return make_release(cast, "7.0.0", scope=0)


def planning(cast):
    release = make_release(cast, "7.0.1")
    add_note(release, by=cast.quinn, text="Looking at the flows today.")
    return release


def frozen_with_poll(cast):
    release = make_release(cast, "7.1.0")
    lock_scope(release, by=cast.rita)
    complete_rollback_plan(release, cast)
    open_poll(release, by=cast.rita)
    request_scope_change(
        release,
        by=cast.devin,
        action="add",
        reason="Customer bug",
        proposal={"title": "Late fix", "kind": "fix"},
    )
    return release


def frozen_without_commit(cast):
    release = make_release(cast, "7.1.1", sha="")
    lock_scope(release, by=cast.rita)
    return release


def frozen_and_ready(cast):
    return make_ready(make_release(cast, "7.1.2"), cast)


def approved(cast):
    return make_approved(make_release(cast, "7.2.0"), cast)


def deploying(cast):
    return make_deploying(make_release(cast, "7.3.0"), cast)


def monitoring_unhealthy(cast):
    release = make_monitoring(make_release(cast, "7.4.0"), cast)
    check = Check.objects.create(
        project=cast.project,
        release=release,
        integration=cast.ci,
        name="Error rate",
        phase=CheckPhase.POST_RELEASE,
    )
    record_check_result(check, status="failing", value="4 %", source="api")
    return release


def monitoring_window_over(cast):
    release = make_monitoring(make_release(cast, "7.4.1"), cast)
    Release.objects.filter(pk=release.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(minutes=1)
    )
    release.refresh_from_db()
    return release


def released(cast):
    release = monitoring_window_over(cast)
    return release_if_healthy(release, by=cast.rita)


def cancelled(cast):
    release = make_release(cast, "7.6.0")
    cancel_release(release, by=cast.rita, reason="Superseded by 7.6.1")
    return release


def rolled_back(cast):
    release = make_monitoring(make_release(cast, "7.5.0"), cast)
    roll_back(release, by=cast.rita, reason="Error rate up")
    # Rolled back a day ago, so the finish a person types (typed()) comes after it.
    Release.objects.filter(pk=release.pk).update(
        rolled_back_at=timezone.now() - dt.timedelta(days=1)
    )
    release.refresh_from_db()
    return release


STATES = [
    planning_with_empty_scope,
    planning,
    frozen_with_poll,
    frozen_without_commit,
    frozen_and_ready,
    approved,
    deploying,
    monitoring_unhealthy,
    monitoring_window_over,
    released,
    rolled_back,
    cancelled,
]


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.__name__)
def test_it_offers_only_what_the_server_accepts(cast, state):
    release = state(cast)
    refused = refused_presses(cast, release.get_absolute_url(), f"/releases/{release.pk}/")
    assert {who: r for who, r in refused.items() if r} == {}


def test_it_offers_only_what_the_server_accepts_on_the_project_settings(cast):
    make_release(cast, "8.0.0")
    settings = reverse("project_settings", args=[cast.project.slug])
    prefix = f"/projects/{cast.project.slug}/"
    offered = {
        who: presses(client_for(getattr(cast, who)).get(settings).content.decode(), prefix)
        for who in PEOPLE
    }
    assert len(offered["rita"]) > 10  # members, checklist templates, freeze windows…
    assert offered["vic"] == []
    # Its forms ask for names, addresses and mappings the filler cannot make up: a field error
    # is about what was typed; the question here is who may press what (403) and when (409).
    refused = refused_presses(cast, settings, prefix, refusals=(403, 409))
    assert {who: r for who, r in refused.items() if r} == {}


def header_of(user, release) -> str:
    page = client_for(user).get(release.get_absolute_url()).content.decode()
    return unescape(page)


def test_it_shows_lock_scope_disabled_with_the_reason_while_the_scope_is_empty(cast):
    release = planning_with_empty_scope(cast)
    page = header_of(cast.rita, release)
    assert 'id="do-lock_scope" class="primary" disabled' in page
    assert "Cannot lock the scope: it is empty. Add at least one scope item first." in page


def test_it_shows_the_poll_closed_with_the_reason_until_the_commit_is_named(cast):
    release = frozen_without_commit(cast)
    page = header_of(cast.rita, release)
    assert 'id="open-poll" class="secondary" disabled' in page
    assert "The go/no-go poll opens once the release names its commit" in page


def test_it_shows_healthy_again_disabled_while_a_deciding_check_fails(cast):
    release = monitoring_unhealthy(cast)
    page = header_of(cast.dana, release)
    assert 'id="do-restore_health" class="secondary" disabled' in page
    assert "“Error rate” is still failing: the release stays unhealthy" in page
    assert 'id="id_restore_reason"' not in page


@pytest.mark.parametrize("screen", ["project_trains", "integration_edit", "release_check_detail"])
def test_it_offers_only_what_the_server_accepts_on_the_other_pages(cast, screen):
    release = make_deploying(make_release(cast, "8.1.0"), cast)
    check = Check.objects.create(
        project=cast.project,
        release=release,
        integration=cast.ci,
        name="Error rate",
        phase=CheckPhase.POST_RELEASE,
    )
    record_check_result(check, status="needs_judgement", value="no answer", source="api")
    args: dict[str, list[Any]] = {
        "project_trains": [cast.project.slug],
        "integration_edit": [cast.project.slug, cast.ci.pk],
        "release_check_detail": [release.pk, check.pk],
    }
    url = reverse(screen, args=args[screen])
    prefix = "/projects/" if screen != "release_check_detail" else "/releases/"
    offered = {
        who: presses(client_for(getattr(cast, who)).get(url).content.decode(), prefix)
        for who in PEOPLE
    }
    assert offered["rita"] != []
    # As on the settings page, field errors are about what was typed, not who may press.
    refused = refused_presses(cast, url, prefix, refusals=(403, 409))
    assert {who: r for who, r in refused.items() if r} == {}
