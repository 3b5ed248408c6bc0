"""Form fields rendered once: the filter bars above the dashboard and the list, the page's forms."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from django import forms
from django.forms import BoundField
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import get_language

# Distinct (form, choices) pairs kept per process; a filter bar's choices are a person's
# projects, so this holds one entry per set of projects in use.
KEPT = 512


@dataclass(frozen=True)
class ShownField:
    id_for_label: str
    label: str
    html: SafeString
    errors: SafeString


_unbound: dict[Hashable, dict[str, ShownField]] = {}


def shown_fields(
    form: forms.Form | Callable[[], forms.Form], *, key: Hashable, bound: bool | None = None
) -> dict[str, ShownField]:
    """Each field of ``form`` as HTML, by name.

    An unbound form renders the same HTML for the same choices, so it is rendered once per
    process and kept under ``key``, which names the form and what its choices are made from
    (not the form's class: a FilterSet makes a new one for every request), and the language.
    Rendering a bar of selects through the widget templates costs about as much as the empty
    page itself. ``bound`` overrides ``form.is_bound``: a FilterSet with no data binds its
    form to an empty dict. ``form`` may be a function that makes the unbound form, called only
    when its HTML is not kept yet: making a FilterSet costs about a tenth of the empty page.
    """
    if callable(form):
        assert bound is False, "a form made on demand is unbound"
    elif form.is_bound if bound is None else bound:
        return _render(form)
    key = (key, get_language())
    found = _unbound.get(key)
    if found is None:
        found = _render(form() if callable(form) else form)
        if len(_unbound) >= KEPT:
            _unbound.clear()
        _unbound[key] = found
    return found


def _render(form: forms.Form) -> dict[str, ShownField]:
    return {
        name: ShownField(
            id_for_label=field.id_for_label,
            label=str(field.label),
            html=SafeString(str(field)),
            errors=SafeString(str(field.errors)),
        )
        for name, field in ((name, form[name]) for name in form.fields)
    }


_groups: dict[Hashable, SafeString] = {}


def field_group(field: BoundField) -> SafeString:
    """``field.as_field_group()`` (label, help text, widget), rendered once per process for an
    unbound field.

    Each empty form on the release page (a sign-off's comment, the rollback plan, a trigger, a
    note…) renders the same HTML for the same field, value and choices; rendering a field through
    Django's widget templates costs about as much as a fifth of the empty page. The key holds
    everything the HTML is made from, so a new value, choice, label or prefix is a new entry, and
    a bound form (a failed POST, with its values and errors) is rendered every time. A field whose
    choices come from a queryset is rendered every time too: reading its choices would run the
    query the key is meant to save.
    """
    key = _group_key(field)
    if key is None:
        return SafeString(field.as_field_group())
    found = _groups.get(key)
    if found is None:
        found = SafeString(field.as_field_group())
        if len(_groups) >= KEPT:
            _groups.clear()
        _groups[key] = found
    return found


def _group_key(field: BoundField) -> Hashable | None:
    form, inner = field.form, field.field
    if form.is_bound:
        return None
    choices = getattr(inner, "choices", None)
    if choices is not None and not isinstance(choices, list):
        return None
    widget = inner.widget
    value = field.value()
    return (
        type(form),
        form.prefix,
        form.auto_id,
        form.label_suffix,
        form.use_required_attribute,
        field.name,
        str(field.label),
        str(inner.help_text),
        inner.required,
        inner.disabled,
        inner.show_hidden_initial,
        inner.localize,
        type(inner),
        type(widget),
        repr(sorted(widget.attrs.items())),
        repr(choices),
        type(value),
        repr(value),
        get_language(),
        timezone.get_current_timezone_name(),
    )
