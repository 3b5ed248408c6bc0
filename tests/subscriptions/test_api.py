"""``/api/projects/{slug}/webhooks/``: the same services and rules as the settings page, strict
input (400 with field errors), the secret returned only when made or replaced."""

from __future__ import annotations

import pytest

from releases.models import ProjectEvent
from releases.services.lifecycle import lock_scope
from subscriptions import services
from subscriptions.models import Delivery, Subscription
from tests.api.conftest import bearer, project_token
from tests.builders import make_release
from tests.local_servers import serving
from tests.subscriptions.receiver import Receiver

pytestmark = pytest.mark.django_db

URL = "/api/projects/payments/webhooks/"
REFUSAL = "Only DevOps and the project's release managers manage its outgoing webhooks."
HIDDEN = "Only DevOps and the project's release managers see its outgoing webhooks."
BODY = {
    "name": "Deploy board",
    "target_url": "https://hooks.example.com/greenlight",
    "events": ["deploy_started", "deploy_done"],
}


def webhook(cast, **fields) -> Subscription:
    subscription, _ = services.create_subscription(cast.project, by=cast.rita, **(BODY | fields))
    return subscription


def test_it_creates_a_webhook_and_returns_its_secret_this_once(cast, client_for):
    dana = client_for("dana")

    created = dana.post(URL, BODY, format="json")

    assert created.status_code == 201
    body = created.json()
    subscription = Subscription.objects.get()
    assert body["secret"] == subscription.secret
    assert body["id"] == subscription.pk
    assert (body["name"], body["events"], body["active"]) == (
        "Deploy board",
        ["deploy_started", "deploy_done"],
        True,
    )
    listed = dana.get(URL).json()
    assert [w["name"] for w in listed["results"]] == ["Deploy board"]
    assert "secret" not in listed["results"][0]
    assert "secret" not in dana.get(f"{URL}{subscription.pk}/").json()
    assert ProjectEvent.objects.filter(kind="webhook_subscription", action="added").exists()


def test_it_changes_pauses_and_deletes_a_webhook(cast, client_for):
    subscription = webhook(cast)
    rita = client_for("rita")

    changed = rita.patch(
        f"{URL}{subscription.pk}/", {"events": ["released"], "active": False}, format="json"
    )
    assert changed.status_code == 200
    assert (changed.json()["events"], changed.json()["active"]) == (["released"], False)

    deleted = rita.delete(f"{URL}{subscription.pk}/")
    assert deleted.status_code == 204
    assert not Subscription.objects.exists()


def test_it_rotates_the_secret(cast, client_for):
    subscription = webhook(cast)
    old = subscription.secret

    response = client_for("dana").post(f"{URL}{subscription.pk}/rotate-secret/")

    assert response.status_code == 200
    subscription.refresh_from_db()
    assert response.json() == {"secret": subscription.secret}
    assert subscription.secret != old


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({**BODY, "target_url": "ftp://files.example.com/"}, ["target_url"]),
        ({**BODY, "target_url": "https://user:pw@hooks.example.com/"}, ["target_url"]),
        ({**BODY, "events": []}, ["events"]),
        ({**BODY, "events": ["deployed"]}, ["events"]),
        ({**BODY, "events": "released"}, ["events"]),
        ({**BODY, "name": ""}, ["name"]),
        ({**BODY, "secret": "mine"}, ["secret"]),
        ({**BODY, "active": "sometimes"}, ["active"]),
        ({"name": "Only a name"}, ["events", "target_url"]),
    ],
)
def test_it_answers_bad_input_with_field_errors_and_saves_nothing(cast, client_for, body, errors):
    response = client_for("rita").post(URL, body, format="json")

    assert response.status_code == 400
    assert sorted(response.json()) == errors
    assert not Subscription.objects.exists()
    assert not ProjectEvent.objects.filter(kind="webhook_subscription").exists()


def test_it_refuses_an_internal_target_under_the_production_policy(cast, client_for, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    rita = client_for("rita")

    answers = [
        rita.post(URL, {**BODY, "target_url": url}, format="json")
        for url in (
            "http://127.0.0.1:8000/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hook",
            "http://localhost/hook",
            "http://192.168.1.20/hook",
        )
    ]

    assert [a.status_code for a in answers] == [400] * 5
    assert "a loopback address" in answers[0].json()["target_url"][0]
    assert "a cloud metadata address" in answers[1].json()["target_url"][0]
    assert not Subscription.objects.exists()


def test_a_duplicate_name_is_a_field_error(cast, client_for):
    subscription = webhook(cast)
    other = webhook(cast, name="Status page")
    rita = client_for("rita")

    created = rita.post(URL, BODY, format="json")
    renamed = rita.patch(f"{URL}{other.pk}/", {"name": subscription.name}, format="json")

    assert created.status_code == renamed.status_code == 400
    assert created.json() == {"name": ["Another webhook of this project has this name."]}
    assert renamed.json() == created.json()


@pytest.mark.parametrize("who", ["paul", "quinn", "devin", "vic", "own_token"])
def test_members_who_do_not_manage_webhooks_are_refused_with_the_rules_sentence(
    cast, client_for, who
):
    subscription = webhook(cast)
    client = client_for(who)

    reads = [client.get(URL), client.get(f"{URL}{subscription.pk}/deliveries/")]
    writes = [
        client.post(URL, BODY, format="json"),
        client.patch(f"{URL}{subscription.pk}/", {"active": False}, format="json"),
        client.delete(f"{URL}{subscription.pk}/"),
        client.post(f"{URL}{subscription.pk}/rotate-secret/"),
    ]

    assert [r.status_code for r in reads + writes] == [403] * 6
    assert {r.json()["detail"] for r in reads} == {HIDDEN}
    assert writes[0].json() == {"detail": REFUSAL}
    subscription.refresh_from_db()
    assert subscription.active
    assert Subscription.objects.count() == 1


@pytest.mark.parametrize("who", ["otto", "foreign_token"])
def test_outsiders_get_404(cast, client_for, who):
    subscription = webhook(cast)
    client = client_for(who)

    assert client.get(URL).status_code == 404
    assert client.post(URL, BODY, format="json").status_code == 404
    assert client.delete(f"{URL}{subscription.pk}/").status_code == 404
    assert Subscription.objects.count() == 1


def test_anonymous_gets_401(cast):
    assert bearer("glt_nonsense").get(URL).status_code == 401


def test_it_lists_deliveries_and_sends_one_again(
    cast, client_for, django_capture_on_commit_callbacks
):
    with serving(Receiver([410, 200])) as receiver:
        subscription, receiver.secret = services.create_subscription(
            cast.project, by=cast.rita, name="Board", target_url=receiver.url, events=["created"]
        )
        with django_capture_on_commit_callbacks(execute=True):
            make_release(cast)
        dana = client_for("dana")
        [failed] = dana.get(f"{URL}{subscription.pk}/deliveries/").json()["results"]
        assert (failed["event"], failed["state"], failed["response_status"]) == (
            "created",
            "failed",
            410,
        )

        with django_capture_on_commit_callbacks(execute=True):
            again = dana.post(f"{URL}{subscription.pk}/deliveries/{failed['id']}/redeliver/")
        refused = dana.post(
            f"{URL}{subscription.pk}/deliveries/{failed['id']}/redeliver/", {"x": 1}, format="json"
        )

    assert again.status_code == 202
    assert again.json()["guid"] == failed["guid"]
    assert again.json()["redelivery_of"] == failed["id"]
    assert refused.status_code == 400
    deliveries = dana.get(f"{URL}{subscription.pk}/deliveries/").json()["results"]
    assert [(d["state"], d["response_status"]) for d in deliveries] == [
        ("delivered", 200),
        ("failed", 410),
    ]
    assert [r.status for r in receiver.received] == [410, 200]


def test_a_delivery_still_being_sent_is_a_conflict(
    cast, client_for, django_capture_on_commit_callbacks
):
    subscription = webhook(cast, events=["scope_locked"])
    with django_capture_on_commit_callbacks(execute=False):
        lock_scope(make_release(cast), by=cast.rita)
    [queued] = services.queue_deliveries(
        cast.project.releases.get().events.get(verb="scope_locked")
    )

    response = client_for("rita").post(f"{URL}{subscription.pk}/deliveries/{queued.pk}/redeliver/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This delivery is still being sent; it can be sent again once it has ended."
    }
    assert Delivery.objects.count() == 1


def test_a_project_token_cannot_manage_webhooks(cast):
    client = bearer(project_token(cast))
    assert client.post(URL, BODY, format="json").status_code == 403
