"""Slack's buttons call the same services as the release page, with the same guards: what the
page accepts, Slack accepts; what the page refuses, Slack refuses with the page's sentence."""

from __future__ import annotations

import html
import json

import pytest
from django.urls import reverse

from approvals.models import Decision, SignOff
from approvals.services import deploy
from chat import blocks, services
from chat.models import SlackLinkCode
from monitoring.models import CheckStatus
from monitoring.services import results
from releases.models import Status
from releases.services import lifecycle, releases, scope
from tests.builders import make_cast, make_ready, make_release
from tests.chat.helpers import button_payload, interact, reason, submission_payload, verdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(release, cast, linked):
    lifecycle.lock_scope(release, by=cast.rita)
    release.refresh_from_db()
    return release


@pytest.fixture
def press(client, cast, django_capture_on_commit_callbacks):
    """Send one signed interaction, with everything it queues for after the commit done."""

    def send(payload):
        with django_capture_on_commit_callbacks(execute=True):
            response = interact(client, cast.project, payload)
        assert response.status_code == 200, response.content
        return response

    return send


def said(slack, user) -> str:
    """The last private answer Slack showed this person."""
    answers = [c.args for c in slack.called("chat.postEphemeral")]
    mine = [a for a in answers if a["user"] == "U" + user.get_username().upper()]
    assert mine, f"nothing said to {user}: {answers}"
    return mine[-1]["text"]


def page_says(client, user, url, data) -> tuple[int, str]:
    client.force_login(user)
    response = client.post(url, data)
    client.logout()
    return response.status_code, html.unescape(response.content.decode())


def button(release, action_id, user, **extra):
    value = blocks.value(release, blocks.content_version(release), **extra)
    return button_payload(user, action_id, value)


def opened_modal(slack) -> dict:
    return slack.called("views.open")[-1].args["view"]


# --- Go and No-go -------------------------------------------------------------------------------


def test_it_records_pauls_go_from_a_button(cast, frozen, slack, press):
    press(button(frozen, blocks.GO, cast.paul, role="product"))

    sign_off = SignOff.objects.current().get(release=frozen, role="product")
    assert (sign_off.user, sign_off.decision) == (cast.paul, "go")
    assert said(slack, cast.paul) == f"Your Go as Product on {frozen} is recorded."


def test_it_refuses_devin_signing_for_product_with_the_pages_sentence(
    client, cast, frozen, slack, press
):
    press(button(frozen, blocks.GO, cast.devin, role="product"))

    sentence = "You are not assigned as Product on this release, so you cannot sign for that role."
    assert said(slack, cast.devin) == sentence
    status, page = page_says(
        client,
        cast.devin,
        reverse("sign_off", args=[frozen.pk]),
        {"role": "product", "decision": "go"},
    )
    assert status == 403
    assert sentence in page
    assert not SignOff.objects.filter(user=cast.devin).exists()


def test_it_refuses_a_second_role_under_separation_of_duties_like_the_page(
    client, cast, frozen, slack, press
):
    deploy.assign_role(frozen, cast.paul, "qa", by=cast.rita)
    press(button(frozen, blocks.GO, cast.paul, role="product"))

    press(button(frozen, blocks.GO, cast.paul, role="qa"))

    sentence = (
        "You already signed as Product; one person gives at most one role's sign-off on a release."
    )
    assert said(slack, cast.paul) == sentence
    status, page = page_says(
        client, cast.paul, reverse("sign_off", args=[frozen.pk]), {"role": "qa", "decision": "go"}
    )
    assert status == 403
    assert sentence in page
    assert not SignOff.objects.filter(user=cast.paul, role="qa").exists()


def test_it_asks_for_the_reason_of_a_no_go_in_a_modal(cast, frozen, slack, press):
    press(button(frozen, blocks.NO_GO, cast.quinn, role="qa"))

    modal = opened_modal(slack)
    assert slack.called("views.open")[-1].args["trigger_id"] == "111.222.valid"
    assert modal["callback_id"] == blocks.NO_GO
    reason_block = next(b for b in modal["blocks"] if b.get("block_id") == blocks.REASON_BLOCK)
    assert reason_block["type"] == "input"
    assert not reason_block.get("optional")
    assert not SignOff.objects.exists()  # nothing is recorded until the reason is given

    response = press(
        submission_payload(
            cast.quinn, blocks.NO_GO, modal["private_metadata"], reason("Checkout fails on Safari")
        )
    )

    assert response.content == b""  # the modal closes
    sign_off = SignOff.objects.current().get(release=frozen, role="qa")
    assert (sign_off.user, sign_off.decision) == (cast.quinn, "no_go")
    assert sign_off.comment == "Checkout fails on Safari"
    assert said(slack, cast.quinn) == f"Your No-go as QA on {frozen} is recorded."


def test_it_keeps_the_modal_open_with_the_services_sentence_for_a_no_go_without_reason(
    cast, frozen, slack, press
):
    press(button(frozen, blocks.NO_GO, cast.quinn, role="qa"))

    response = press(
        submission_payload(
            cast.quinn, blocks.NO_GO, opened_modal(slack)["private_metadata"], reason("  ")
        )
    )

    assert response.json() == {
        "response_action": "errors",
        "errors": {blocks.REASON_BLOCK: "A No-go needs a reason."},
    }
    assert not SignOff.objects.exists()


def test_it_refuses_a_no_go_submitted_by_someone_not_assigned(client, cast, frozen, slack, press):
    press(button(frozen, blocks.NO_GO, cast.quinn, role="qa"))
    metadata = opened_modal(slack)["private_metadata"]

    response = press(submission_payload(cast.vic, blocks.NO_GO, metadata, reason("I object")))

    sentence = "You are not assigned as QA on this release, so you cannot sign for that role."
    assert response.json()["errors"] == {blocks.REASON_BLOCK: sentence}
    assert not SignOff.objects.exists()


# --- Record Go / No-go --------------------------------------------------------------------------


def test_it_records_ritas_go_on_a_ready_release(cast, release, linked, slack, press):
    make_ready(release, cast)

    press(button(release, blocks.RECORD_GO, cast.rita, s=Status.FROZEN))

    release.refresh_from_db()
    assert release.status == Status.APPROVED
    decision = Decision.objects.get(release=release)
    assert (decision.outcome, decision.decided_by) == ("go", cast.rita)
    assert said(slack, cast.rita) == f"Go recorded on {release}."


def test_it_refuses_paul_recording_the_go_with_the_pages_sentence(
    client, cast, release, linked, slack, press
):
    make_ready(release, cast)

    press(button(release, blocks.RECORD_GO, cast.paul, s=Status.FROZEN))

    sentence = "Only the release manager records the go/no-go."
    assert said(slack, cast.paul) == sentence
    status, page = page_says(
        client, cast.paul, reverse("decision_record", args=[release.pk]), {"outcome": "go"}
    )
    assert status == 403
    assert sentence in page
    assert not Decision.objects.exists()


def test_it_refuses_a_go_on_a_release_that_is_not_ready_like_the_page(
    client, cast, frozen, slack, press
):
    press(button(frozen, blocks.RECORD_GO, cast.rita, s=Status.FROZEN))

    answer = said(slack, cast.rita)
    assert answer.startswith("Not ready: ")
    assert answer.endswith("A Go now needs an override with a reason.")
    status, page = page_says(
        client, cast.rita, reverse("decision_record", args=[frozen.pk]), {"outcome": "go"}
    )
    assert status == 409
    assert answer in page
    frozen.refresh_from_db()
    assert frozen.status == Status.FROZEN
    assert not Decision.objects.exists()


def test_it_records_a_no_go_with_its_reasons_from_a_modal(cast, frozen, slack, press):
    press(button(frozen, blocks.RECORD_NO_GO, cast.rita, s=Status.FROZEN))
    modal = opened_modal(slack)
    assert modal["callback_id"] == blocks.RECORD_NO_GO

    press(
        submission_payload(
            cast.rita, blocks.RECORD_NO_GO, modal["private_metadata"], reason("Payments down")
        )
    )

    decision = Decision.objects.get(release=frozen)
    assert (decision.outcome, decision.notes) == ("no_go", "Payments down")


# --- Judge --------------------------------------------------------------------------------------


@pytest.fixture
def undecided(frozen):
    check = frozen.checks.get(name="CI green")
    results.record_check_result(check, status="needs_judgement", value="skipped", source="api")
    check.refresh_from_db()
    assert check.status == CheckStatus.NEEDS_JUDGEMENT
    return check


def test_it_lets_quinn_judge_a_check_through_a_modal(cast, frozen, undecided, slack, press):
    press(button(frozen, blocks.JUDGE, cast.quinn, c=undecided.pk))
    modal = opened_modal(slack)
    assert modal["callback_id"] == blocks.JUDGE

    values = {**verdict("pass"), **reason("Flaky runner; rerun green by hand")}
    press(submission_payload(cast.quinn, blocks.JUDGE, modal["private_metadata"], values))

    undecided.refresh_from_db()
    assert undecided.status == CheckStatus.PASSING
    assert undecided.last_detail == "Flaky runner; rerun green by hand"
    assert said(slack, cast.quinn) == "Judgement recorded for “CI green”."


def test_it_refuses_vic_judging_with_the_rules_sentence(
    client, cast, frozen, undecided, slack, press
):
    press(button(frozen, blocks.JUDGE, cast.vic, c=undecided.pk))
    metadata = opened_modal(slack)["private_metadata"]

    response = press(
        submission_payload(cast.vic, blocks.JUDGE, metadata, {**verdict("pass"), **reason("fine")})
    )

    sentence = "Only the release manager, DevOps and QA judge checks."
    assert response.json()["errors"] == {blocks.REASON_BLOCK: sentence}
    client.force_login(cast.vic)
    page = client.post(
        reverse("release_check_judgement", args=[frozen.pk, undecided.pk]),
        {"passed": "1", "reason": "fine"},
    )
    assert page.status_code == 403
    undecided.refresh_from_db()
    assert undecided.status == CheckStatus.NEEDS_JUDGEMENT


# --- stale buttons and strangers ----------------------------------------------------------------


def test_it_refuses_a_go_from_a_message_older_than_a_new_commit(cast, frozen, slack, press):
    old = button(frozen, blocks.GO, cast.paul, role="product")
    releases.update_release(frozen, by=cast.rita, commit_sha="b" * 40)

    press(old)

    assert said(slack, cast.paul) == services.STALE_BUTTON
    assert not SignOff.objects.exists()
    # The button of the message as it is now works.
    frozen.refresh_from_db()
    press(button(frozen, blocks.GO, cast.paul, role="product"))
    assert SignOff.objects.current().get(role="product").user == cast.paul


def test_it_refuses_a_no_go_modal_from_a_message_older_than_a_scope_change(
    cast, frozen, slack, press
):
    old = button(frozen, blocks.NO_GO, cast.quinn, role="qa")
    request = scope.request_scope_change(
        frozen, by=cast.devin, action="add", reason="Customer bug", proposal={"title": "Late fix"}
    )
    scope.approve_change_request(request, by=cast.paul, as_role="product")
    scope.approve_change_request(request, by=cast.rita, as_role="release_manager")

    press(old)

    assert said(slack, cast.quinn) == services.STALE_BUTTON
    assert not slack.called("views.open")


def test_it_refuses_a_modal_submitted_after_the_commit_changed(cast, frozen, slack, press):
    press(button(frozen, blocks.NO_GO, cast.quinn, role="qa"))
    metadata = opened_modal(slack)["private_metadata"]
    releases.update_release(frozen, by=cast.rita, commit_sha="c" * 40)

    response = press(submission_payload(cast.quinn, blocks.NO_GO, metadata, reason("Broken")))

    assert response.json()["errors"] == {blocks.REASON_BLOCK: services.STALE_BUTTON}
    assert not SignOff.objects.exists()


def test_it_refuses_record_go_from_a_message_of_another_status(cast, release, linked, slack, press):
    make_ready(release, cast)
    stale = button(release, blocks.RECORD_GO, cast.rita, s=Status.PLANNING)

    press(stale)

    assert said(slack, cast.rita) == services.STALE_BUTTON
    assert not Decision.objects.exists()


def test_it_sends_an_unknown_slack_user_a_one_time_link(cast, frozen, slack, press):
    press(button(frozen, blocks.GO, cast.otto, role="product"))

    answer = said(slack, cast.otto)
    assert answer.startswith(services.NOT_LINKED)
    assert "/slack/link/" in answer
    assert SlackLinkCode.objects.get().slack_user_id == "UOTTO"
    assert not SignOff.objects.exists()


def test_it_refuses_a_button_for_another_projects_release(cast, frozen, slack, press):
    other = make_release(make_cast("billing"))
    payload = button_payload(
        cast.paul,
        blocks.GO,
        json.dumps({"r": other.pk, "v": blocks.content_version(other), "role": "product"}),
    )

    press(payload)

    assert said(slack, cast.paul) == "This release is not there, or not yours to see."
    assert not SignOff.objects.exists()


def test_it_answers_in_words_slack_does_not_read_as_mentions(cast, frozen, slack, press):
    frozen.checklist_items.filter(title="Critical flows pass").update(title="Tell <!channel>")

    press(button(frozen, blocks.RECORD_GO, cast.rita, s=Status.FROZEN))

    answer = said(slack, cast.rita)
    assert "Tell &lt;!channel&gt;" in answer
    assert "<!channel>" not in answer
