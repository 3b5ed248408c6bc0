"""Releases that the old deploy step called healthy, without a reading to show for it.

Finishing a deploy used to mark the release healthy at once; now its health stays unknown
until the checks that decide it pass on a reading taken after the deploy was done. A release
still in its monitoring window, healthy, whose deciding checks have shown no passing reading
since the deploy finished, goes back to unknown, as the deploy would leave it today; the beat
judges it again from its checks. Nothing else changes and nothing is logged: the health it had
was never earned, so there is no event to tell of.

It lives in ``monitoring`` because the checks and their results are monitoring's; the release's
health is the core's, which ``monitoring`` already builds on.
"""

from django.db import migrations
from django.db.models import Exists, F, OuterRef, Q


def forget_unearned_health(apps, schema_editor):
    Release = apps.get_model("releases", "Release")
    Check = apps.get_model("monitoring", "Check")
    CheckResult = apps.get_model("monitoring", "CheckResult")
    RollbackTrigger = apps.get_model("monitoring", "RollbackTrigger")

    finished = F("release__deploy_finished_at")
    # A passing reading since the deploy: a status change to passing (a result row), or a
    # repeat of passing, which only touches the check's own times.
    passed_since = Exists(
        CheckResult.objects.filter(
            check_ref=OuterRef("pk"),
            status="passing",
            observed_at__gte=OuterRef("release__deploy_finished_at"),
        )
    ) | (
        Q(status="passing")
        & (Q(last_evaluated_at__gte=finished) | Q(last_changed_at__gte=finished))
    )
    # The checks that decide health: post-release, and required or bound to a rollback trigger.
    earned = (
        Check.objects.filter(release=OuterRef("pk"), phase="post_release")
        .filter(Q(required=True) | Exists(RollbackTrigger.objects.filter(check_ref=OuterRef("pk"))))
        .filter(passed_since)
    )
    Release.objects.filter(status="monitoring", health="healthy").exclude(Exists(earned)).update(
        health="unknown"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0010_integration_kinds_of_flags_and_trackers"),
        ("releases", "0014_release_listed_newest_first"),
    ]

    operations = [
        # Going back leaves health as it is: which releases were healthy only by the old step
        # is not known any more, and unknown is the honest answer for them either way.
        migrations.RunPython(forget_unearned_health, migrations.RunPython.noop, elidable=True),
    ]
