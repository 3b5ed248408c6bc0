"""Form fields rendered once: the filter bars above the dashboard and the releases list."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from django import forms
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
    form: forms.Form, *, key: Hashable, bound: bool | None = None
) -> dict[str, ShownField]:
    """Each field of ``form`` as HTML, by name.

    An unbound form renders the same HTML for the same choices, so it is rendered once per
    process and kept under ``key``, which names the form and what its choices are made from
    (not the form's class: a FilterSet makes a new one for every request), and the language.
    Rendering a bar of selects through the widget templates costs about as much as the empty
    page itself. ``bound`` overrides ``form.is_bound``: a FilterSet with no data binds its
    form to an empty dict.
    """
    if form.is_bound if bound is None else bound:
        return _render(form)
    key = (key, get_language())
    found = _unbound.get(key)
    if found is None:
        found = _render(form)
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
