"""Filter bars and form fields rendered once per choices and value, never with others' values."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib.auth import get_user_model

from lib.forms import field_group, shown_fields


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


class Plan(forms.Form):
    steps = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    decider = forms.ChoiceField(required=False)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "Nobody")] + [(n, n.title()) for n in people]
        cast(forms.ChoiceField, self.fields["decider"]).choices = choices


def test_it_renders_a_field_group_as_django_does():
    form = Plan(initial={"steps": "Revert the deploy"}, people=["dana"])
    for name in ("steps", "decider"):
        assert field_group(form[name]) == form[name].as_field_group()


def test_it_renders_a_field_group_again_for_a_new_value_choice_or_prefix():
    field_group(Plan(initial={"steps": "Revert"}, people=["dana"])["steps"])
    changed = field_group(Plan(initial={"steps": "Redeploy 2.4.0"}, people=["dana"])["steps"])
    assert "Redeploy 2.4.0" in changed
    assert ">Revert<" not in changed
    field_group(Plan(people=["dana"])["decider"])
    more = field_group(Plan(people=["dana", "otto"])["decider"])
    assert 'value="otto"' in more
    chosen = field_group(Plan(initial={"decider": "otto"}, people=["dana", "otto"])["decider"])
    assert '<option value="otto" selected>' in chosen
    prefixed = field_group(Plan(prefix="trigger7", people=["dana"])["steps"])
    assert 'name="trigger7-steps"' in prefixed


def test_it_renders_a_bound_field_group_with_its_own_values_and_errors_every_time():
    field_group(Plan(people=["dana"])["decider"])
    failed = Plan({"decider": "vic"}, people=["dana"])
    failed.is_valid()
    shown = field_group(failed["decider"])
    assert "Select a valid choice" in shown
    assert "Select a valid choice" not in field_group(Plan(people=["dana"])["decider"])


class Assign(forms.Form):
    user = forms.ModelChoiceField(queryset=get_user_model().objects.all())


def test_it_renders_a_field_whose_choices_are_a_query_every_time(db, django_assert_num_queries):
    field_group(Assign()["user"])
    with django_assert_num_queries(1):
        field_group(Assign()["user"])
