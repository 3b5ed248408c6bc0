"""The demo for the tests that look at it: seeded through ``seed_demo`` once per test process,
then copied back into the database for the next test that needs it.

Seeding six months of history goes through the services step by step and takes seconds; the
rows it leaves are copied out (PostgreSQL's ``COPY``) and written back in a fraction of that.
The tests that use the demo share an ``xdist_group``, so one worker seeds it once for all of
them. ``seed_demo`` then runs again with each test's own arguments, as ``make run`` runs it on
an existing demo: it finds the demo and points the health check at the test's server.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction

_rows: dict[str, bytes] = {}


def _tables() -> list[str]:
    return sorted(connection.introspection.django_table_names(only_existing=True))


def seed_demo(*args: Any) -> None:
    """The demo in the test database, as ``seed_demo`` leaves it, then ``seed_demo *args``.

    The first call in the process seeds it; later calls replace every row of the database with
    the demo's (they are for tests whose database starts empty: a transactional test's)."""
    with transaction.atomic():
        if _rows:
            _write_back()
        else:
            call_command("seed_demo", verbosity=0)
            _copy_out()
    if args:
        call_command("seed_demo", *args, verbosity=0)


def _copy_out() -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table in _tables():
            with raw.copy(f"COPY {connection.ops.quote_name(table)} TO STDOUT") as copy:
                _rows[table] = b"".join(bytes(block) for block in copy)


def _write_back() -> None:
    with connection.cursor() as cursor:
        # What migrate or a flush left (content types, permissions) goes too: the copied rows
        # refer to the ids they had when the demo was seeded.
        for statement in connection.ops.sql_flush(no_style(), list(_rows), allow_cascade=True):
            cursor.execute(statement)
        raw = cursor.cursor
        # Django's foreign keys are checked at the commit: the order of the tables is free.
        for table, rows in _rows.items():
            if rows:
                with raw.copy(f"COPY {connection.ops.quote_name(table)} FROM STDIN") as copy:
                    copy.write(rows)
        # The next row each table makes gets the id after the copied ones.
        for statement in connection.ops.sequence_reset_sql(
            no_style(), apps.get_models(include_auto_created=True)
        ):
            cursor.execute(statement)
    ContentType.objects.clear_cache()
