"""Template helpers of the workspace: who am I, labels for stored values, relative times."""

from __future__ import annotations

import datetime as dt
from typing import Any

import nh3
from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from lib.forms import field_group
from lib.links import SCHEMES, http_url
from lib.wording import duration, field_label
from releases.models import Phase, Role
from releases.people import person_summary

register = template.Library()

ROLE_LABELS = dict(Role.choices)
STATE_LABELS = {
    "go": "Go",
    "no_go": "No-go",
    "stale": "Stale",
    "waiting": "Waiting",
}


register.filter("field_group", field_group)


@register.simple_tag(takes_context=True)
def whoami(context: template.Context) -> dict[str, Any]:
    """The header's facts about the current user: roles per project and unread notifications."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return {}
    return person_summary(request)


@register.filter
def role_label(value: str) -> str:
    return ROLE_LABELS.get(value, value)


@register.filter
def state_label(value: str) -> str:
    return STATE_LABELS.get(value, value.replace("_", " ").capitalize())


@register.filter
def setting_label(name: str) -> str:
    """A stored field or parameter name as a label: "json_field" reads "JSON field"."""
    return field_label(str(name))


PHASE_LABELS = {**dict(Phase.choices), "pre_release": "Pre-release"}


@register.filter
def phase_label(value: str) -> str:
    """A checklist or check phase as people write it: "Post-release", not "post_release"."""
    return PHASE_LABELS.get(value, state_label(value))


@register.filter
def person(user: Any) -> str:
    if user is None:
        return "—"
    return user.get_full_name() or user.get_username()


@register.filter
def relative(moment: dt.datetime | None) -> str:
    """'in 3 h', '2 d ago': short enough for a table cell."""
    if moment is None:
        return ""
    delta = moment - timezone.now()
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return "now"
    if seconds < 3600:
        amount = f"{int(seconds // 60)} min"
    elif seconds < 2 * 86400:
        amount = f"{int(seconds // 3600)} h"
    else:
        amount = f"{int(seconds // 86400)} d"
    return f"in {amount}" if delta.total_seconds() > 0 else f"{amount} ago"


@register.filter
def is_past(moment: dt.datetime | None) -> bool:
    return moment is not None and moment < timezone.now()


@register.filter
def iso(value: str | None) -> dt.datetime | None:
    """A snapshot's ISO timestamp as a datetime, for the date filter."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


register.filter("duration", duration)


def _heading_open(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    # The notes sit inside a page section (h2): their "#" becomes h3 so the outline holds.
    token = tokens[idx]
    token.tag = f"h{min(6, int(token.tag[1]) + 2)}"
    return self.renderToken(tokens, idx, options, env)


def _heading_close(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    token.tag = f"h{min(6, int(token.tag[1]) + 2)}"
    return self.renderToken(tokens, idx, options, env)


# CommonMark with raw HTML off: a scope item's title can never inject markup. The parser refuses
# javascript: and data: links but takes any other scheme, so its output is sanitised too.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})
_MARKDOWN.add_render_rule("heading_open", _heading_open)
_MARKDOWN.add_render_rule("heading_close", _heading_close)

# What CommonMark produces, less images (a request to any address from every reader's browser).
_TAGS = {"p", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "hr", "br", "pre", "code"}
_TAGS |= {"em", "strong", "a"}


@register.filter
def markdown(text: str) -> SafeString:
    """Markdown as HTML: only the tags above, links to http(s) only, each ``noopener``."""
    html = nh3.clean(
        _MARKDOWN.render(text),
        tags=_TAGS,
        attributes={"a": {"href", "title"}, "ol": {"start"}},
        url_schemes=set(SCHEMES),
        link_rel="noopener noreferrer",
    )
    return mark_safe(html)


@register.filter
def logged_value(value: Any) -> str:
    """A value from the project log's before/after, as a person reads it."""
    if value is None:
        return "—"
    if value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        # The lists the log keeps are of roles: "devops" reads "DevOps".
        return ", ".join(ROLE_LABELS.get(str(item), str(item)) for item in value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in value.items()) or "(none)"
    return str(value)


@register.filter
def link(url: str) -> str:
    """The URL when it is an http(s) link, else "": for every ``href`` of data from elsewhere."""
    return http_url(url)
