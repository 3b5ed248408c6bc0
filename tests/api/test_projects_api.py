"""Projects over the API: who creates one, adding members by name, the checklist templates."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.test import APIClient

from approvals.models import ApprovalPolicy
from releases.models import ChecklistTemplate, Project, ProjectMembership
from releases.services.tokens import create_api_token
from tests.api.conftest import bearer, project_token
from tests.builders import make_release, make_user

pytestmark = pytest.mark.django_db


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def rita(cast) -> APIClient:
    return signed_in(cast.rita)


# --- creating a project ---------------------------------------------------------------------


def test_it_lets_a_superuser_create_a_project_and_manage_it(db):
    admin = make_user("admin", is_superuser=True, is_staff=True)

    response = signed_in(admin).post(
        "/api/projects/", {"name": "Refunds", "slug": "refunds", "description": "Card refunds"}
    )

    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "refunds"
    project = Project.objects.get(slug="refunds")
    roles = ProjectMembership.objects.filter(project=project, user=admin)
    assert list(roles.values_list("role", flat=True)) == ["release_manager"]
    # The project comes with its approval policy, as one made in the admin does.
    assert ApprovalPolicy.objects.filter(project=project).exists()


def test_it_lets_someone_given_the_permission_create_a_project(db):
    creators = Group.objects.create(name="Project creators")
    creators.permissions.add(Permission.objects.get(codename="add_project"))
    nora = make_user("nora")
    nora.groups.add(creators)
    _, secret = create_api_token(by=nora, name="laptop")

    response = bearer(secret).post("/api/projects/", {"name": "Ledger", "slug": "ledger"})

    assert response.status_code == 201, response.json()
    # The creator is its release manager and can go on configuring it.
    renamed = bearer(secret).patch("/api/projects/ledger/", {"description": "General ledger"})
    assert renamed.status_code == 200, renamed.json()


def test_it_refuses_project_creation_to_release_managers_and_tokens(cast, rita):
    ci = bearer(project_token(cast))

    by_rita = rita.post("/api/projects/", {"name": "Refunds", "slug": "refunds"})
    by_token = ci.post("/api/projects/", {"name": "Refunds", "slug": "refunds"})

    assert by_rita.status_code == 403
    assert "administrators" in by_rita.json()["detail"]
    assert by_token.status_code == 403
    assert not Project.objects.filter(slug="refunds").exists()


def test_it_answers_field_errors_for_a_taken_or_malformed_short_name(cast):
    admin = signed_in(make_user("admin", is_superuser=True))

    taken = admin.post("/api/projects/", {"name": "Payments again", "slug": "payments"})
    malformed = admin.post("/api/projects/", {"name": "Odd", "slug": "not a slug!"})

    assert taken.status_code == 400
    assert taken.json() == {"slug": ["A project with this short name exists."]}
    assert malformed.status_code == 400
    assert list(malformed.json()) == ["slug"]
    assert Project.objects.count() == 1


# --- members ---------------------------------------------------------------------------------


def test_it_adds_a_member_by_username_with_their_roles(cast, rita):
    response = rita.post(
        "/api/projects/payments/members/", {"username": "OTTO", "roles": ["qa", "viewer"]}
    )

    assert response.status_code == 201, response.json()
    assert response.json()["username"] == "otto"
    assert sorted(response.json()["roles"]) == ["qa", "viewer"]
    # Otto now sees the project he was added to.
    otto = signed_in(cast.otto)
    assert otto.get("/api/projects/payments/").status_code == 200


def test_it_refuses_to_add_someone_already_in_the_project(cast, rita):
    response = rita.post(
        "/api/projects/payments/members/", {"username": "vic", "roles": ["release_manager"]}
    )

    assert response.status_code == 409
    assert f"/api/projects/payments/members/{cast.vic.pk}/" in response.json()["detail"]
    roles = ProjectMembership.objects.filter(project=cast.project, user=cast.vic)
    assert list(roles.values_list("role", flat=True)) == ["viewer"]


def test_it_names_an_unknown_person_or_an_empty_role_list(cast, rita):
    unknown = rita.post("/api/projects/payments/members/", {"username": "zed", "roles": ["qa"]})
    no_roles = rita.post("/api/projects/payments/members/", {"username": "otto", "roles": []})

    assert unknown.status_code == 400
    assert unknown.json() == {"username": ["Nobody is called 'zed' here."]}
    assert no_roles.status_code == 400
    assert list(no_roles.json()) == ["roles"]
    assert not ProjectMembership.objects.filter(user=cast.otto).exists()


# --- checklist templates ----------------------------------------------------------------------


def test_it_adds_a_checklist_item_that_new_releases_of_its_kinds_get(cast, rita):
    response = rita.post(
        "/api/projects/payments/checklist-templates/",
        {
            "phase": "deployment",
            "title": "Feature flags off",
            "owner_role": "devops",
            "for_hotfix": False,
        },
    )
    assert response.status_code == 201, response.json()

    standard = make_release(cast, "2.0.0")
    hotfix = make_release(cast, "2.0.1", kind="hotfix")
    assert standard.checklist_items.filter(title="Feature flags off", phase="deployment").exists()
    assert not hotfix.checklist_items.filter(title="Feature flags off").exists()


def test_it_changes_and_removes_items_for_future_releases_only(cast, rita):
    template = cast.project.checklist_templates.get(title="Critical flows pass")
    url = f"/api/projects/payments/checklist-templates/{template.pk}/"
    before = make_release(cast, "2.0.0")

    changed = rita.patch(url, {"title": "Critical flows pass on staging", "required": False})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["title"] == "Critical flows pass on staging"
    after = make_release(cast, "2.1.0")
    assert after.checklist_items.get(template=template).required is False

    removed = rita.delete(url)
    assert removed.status_code == 204
    assert not ChecklistTemplate.objects.filter(pk=template.pk).exists()
    # The releases made before keep their copies.
    assert before.checklist_items.filter(title="Critical flows pass").exists()
    assert after.checklist_items.filter(title="Critical flows pass on staging").exists()


def test_it_refuses_an_item_that_applies_to_no_kind_of_release(cast, rita):
    template = cast.project.checklist_templates.get(title="Critical flows pass")
    url = f"/api/projects/payments/checklist-templates/{template.pk}/"

    rita.patch(url, {"for_standard": False, "for_major": False})
    response = rita.patch(url, {"for_hotfix": False})

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Choose at least one kind of release the item applies to."]
    }
    template.refresh_from_db()
    assert template.for_hotfix is True


def test_it_lets_members_read_the_checklist_but_not_change_it(cast):
    quinn = signed_in(cast.quinn)
    ci = bearer(project_token(cast))

    listed = quinn.get("/api/projects/payments/checklist-templates/")
    by_ci = ci.get("/api/projects/payments/checklist-templates/")
    added = quinn.post(
        "/api/projects/payments/checklist-templates/", {"title": "Mine", "owner_role": "qa"}
    )

    assert listed.status_code == 200
    assert {t["title"] for t in listed.json()["results"]} == {
        "Critical flows pass",
        "Migrations reviewed",
        "Stakeholders told",
        "Smoke test in production",
    }
    assert by_ci.status_code == 200
    assert added.status_code == 403
    assert not ChecklistTemplate.objects.filter(title="Mine").exists()
