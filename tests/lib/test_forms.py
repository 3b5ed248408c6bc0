"""Filter bars rendered once per set of choices, never with someone else's values."""

from __future__ import annotations

from typing import cast

from django import forms

from lib.forms import shown_fields


class Bar(forms.Form):
    project = forms.ChoiceField(required=False)
    q = forms.CharField(required=False, max_length=5)

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "All")] + [(p, p.title()) for p in projects]
        cast(forms.ChoiceField, self.fields["project"]).choices = choices


def test_it_renders_an_unbound_form_as_its_widgets_do():
    form = Bar(projects=["payments"])
    shown = shown_fields(form, key=(Bar, ("payments",)))
    assert shown["project"].html == str(Bar(projects=["payments"])["project"])
    assert shown["q"].id_for_label == "id_q"
    assert shown["q"].label == "Q"
    assert shown["q"].errors == ""


def test_it_renders_an_unbound_form_once_for_the_same_choices():
    first = shown_fields(Bar(projects=["payments"]), key=(Bar, ("payments",)))
    again = shown_fields(Bar(projects=["payments"]), key=(Bar, ("payments",)))
    other = shown_fields(Bar(projects=["payments", "billing"]), key=(Bar, ("payments", "billing")))
    assert again is first
    assert 'value="billing"' in other["project"].html
    assert 'value="billing"' not in first["project"].html


def test_it_renders_a_bound_form_with_its_own_values_and_errors_every_time():
    key = (Bar, ("payments",))
    shown_fields(Bar(projects=["payments"]), key=key)
    shown = shown_fields(Bar({"q": "too long"}, projects=["payments"]), key=key)
    assert 'value="too long"' in shown["q"].html
    assert "at most 5 characters" in shown["q"].errors
    blank = shown_fields(Bar(projects=["payments"]), key=key)
    assert "too long" not in blank["q"].html


def test_it_treats_a_form_as_unbound_when_told():
    key = (Bar, ("payments",))
    unbound = shown_fields(Bar(projects=["payments"]), key=key)
    assert shown_fields(Bar({}, projects=["payments"]), key=key, bound=False) is unbound
