"""The release page rendered piece by piece, each piece kept in the shared cache.

A release page is read far more often than anything on it changes, and nearly all of its cost
is Python: loading the release with everything its sections read, readiness, and the template
engine walking ten sections. So each piece (a section, the trackers and flags cards, the CI
snippets, the section list) is rendered once per version of the release and viewer and kept in
the cache, as the dashboard's rows are. A page whose pieces are all cached costs the release
(one query), the viewer's access (two), its version (one) and one cache read: what the sections
show is not loaded at all.

A piece's key holds everything its HTML is made of:

- the release and its version (``release_version``: the newest release and project events and
  the stamps of what changes without one);
- the viewer: who they are (their own sign-offs, the separation of duties) and their access
  (superuser, release roles, project roles), which decides every button and form;
- the minute (relative times, overdue milestones, sign-off expiry, a check's hold time), the
  language and the time zone.

The forms' CSRF token is not part of the HTML that is kept: pieces are rendered with a
placeholder that the response replaces with the request's own token, so a cached piece serves
every session of the viewer, and a new session (a new CSRF secret after signing in again)
posts with its own token. A piece that shows a flash message, and every piece of a page that
answers a POST (a failed form, a refusal, a notice), is rendered afresh and not kept.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Any, cast

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from releases.access import get_release_for
from releases.models import ReleaseEvent
from workspace.release_page import SECTIONS, ReleasePage
from workspace.release_version import page_version, token_of

if TYPE_CHECKING:
    from approvals.readiness import LoadedRelease

# Every piece of the full page, in the order the page shows them; the sections among them are
# also served alone (htmx swaps, the live refresh).
PIECES = (
    "header",
    "nav",
    "signoffs",
    "checklists",
    "scope",
    "trackers",
    "deploy",
    "gate",
    "checks",
    "flags",
    "incidents",
    "rollback",
    "notes",
    "review",
    "events",
)
assert set(SECTIONS) <= set(PIECES)

# A piece outlives its minute by nothing (the minute is in its key); the cache may drop it
# sooner.
PIECE_TTL = 120
TEMPLATE = "releases/detail.html"


def page_context(page: ReleasePage) -> dict[str, Any]:
    return {"page": page, "release": page.release, "access": page.access}


@functools.cache
def csrf_slot() -> str:
    """What pieces are rendered with in place of the CSRF token; replaced in every response.

    Derived from the secret key, so that no text a person writes on the page can contain it.
    """
    return (
        "csrfslot"
        + salted_hmac("greenlight.release-page", "csrf-slot", algorithm="sha256").hexdigest()[:32]
    )


def release_page(request: HttpRequest, pk: int) -> ReleasePage:
    """The page of the release, if the user may see it (404 otherwise), with its version:
    the release for the access check (one query, and two for the access) and the version
    (one). What the sections read is loaded only when one of them is rendered
    (``ReleasePage.load``), after the version was read: what is kept is never older than its
    key."""
    release, access = get_release_for(request.user, pk)
    version = page_version(release.pk)
    if version is None:
        raise Http404("No such release.")  # deleted since it was read
    return ReleasePage(request, cast("LoadedRelease", release), access, version=version)


def _viewer(page: ReleasePage) -> tuple[Any, ...]:
    access = page.access
    return (
        page.request.user.pk,
        access.is_superuser,
        tuple(sorted(access.roles)),
        tuple(sorted(access.project_roles)),
    )


def _review_version(page: ReleasePage) -> int:
    """The review compares the release with the project's last 90 days: a finished release's
    review changes with the project's other releases too. One query, on finished releases'
    pages alone."""
    if not page.show_review:
        return 0
    newest = (
        ReleaseEvent.objects.filter(release__project_id=page.release.project_id)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return newest or 0


def _keys(page: ReleasePage, names: list[str]) -> dict[str, str]:
    if not names:
        return {}
    release = page.release
    common = "|".join(
        map(
            str,
            (
                release.pk,
                token_of(page.version or ()),
                *_viewer(page),
                int(page.now.timestamp()) // 60,
                get_language(),
                timezone.get_current_timezone_name(),
            ),
        )
    )
    keys = {}
    for name in names:
        extra = _review_version(page) if name == "review" else ""
        digest = hashlib.sha256(f"{name}|{common}|{extra}".encode()).hexdigest()[:40]
        keys[name] = f"gl:page:{digest}"
    return keys


def _kept(page: ReleasePage, name: str) -> bool:
    """Whether this piece may come from, and go to, the cache: not without a version (the page
    answering a POST, with its failed form, refusal or notice, is read without one), nor with a
    flash message of its own."""
    return page.version_known and name not in page.flashes


def render_pieces(
    page: ReleasePage, names: list[str], *, along: tuple[str, ...] = ()
) -> dict[str, str]:
    """Each piece as HTML, with the CSRF placeholder: from the cache where its key is there,
    rendered (and kept) otherwise. Only a miss loads the release's graph; once it is loaded,
    the pieces named in ``along`` that are missing from the cache are rendered and kept too."""
    keys = _keys(page, [name for name in dict.fromkeys([*names, *along]) if _kept(page, name)])
    found = cache.get_many(list(keys.values())) if keys else {}
    html = {name: found[key] for name, key in keys.items() if key in found}
    missing = [name for name in names if name not in html]
    if missing:
        page.load()
        missing += [name for name in keys if name not in html and name not in missing]
        context = {**page_context(page), "csrf_token": csrf_slot()}
        rendered = {
            name: render_to_string(f"{TEMPLATE}#{name}", context, request=page.request)
            for name in missing
        }
        cache.set_many({keys[n]: rendered[n] for n in missing if n in keys}, PIECE_TTL)
        html.update(rendered)
    # The HTML was rendered, and escaped, by our own template.
    return {name: mark_safe(html[name]) for name in names}


def _with_token(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    response.content = response.content.replace(csrf_slot().encode(), get_token(request).encode())
    return response


def page_response(request: HttpRequest, page: ReleasePage, *, status: int = 200) -> HttpResponse:
    """The whole page."""
    page.pieces = render_pieces(page, list(PIECES))
    response = render(
        request,
        TEMPLATE,
        {**page_context(page), "csrf_token": csrf_slot()},
        status=status,
    )
    return _with_token(request, response)


def section_response(request: HttpRequest, page: ReleasePage, section: str) -> HttpResponse:
    """One section alone, for an htmx swap or the live refresh.

    After a change the live refresh asks for every section at once, each in a request of its
    own: the first to find its section missing renders the others too, so that the release's
    graph is loaded once for all of them rather than once each."""
    html = render_pieces(page, [section], along=SECTIONS)[section]
    return _with_token(request, HttpResponse(html))
