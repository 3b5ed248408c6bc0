"""Database states that take seconds to build, built once per test process and copied back.

``Snapshot`` copies every row of the test database out (PostgreSQL's ``COPY``) with each
sequence's position, and writes them back in a fraction of the time the services took to make
them, ids included. ``seed_demo`` uses one for the demo.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction

from tests.postgresql.base import KEPT


class Snapshot:
    """Every row of the database and every sequence's position, as taken."""

    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}
        self.sequences: dict[str, tuple[int, bool]] = {}

    def __bool__(self) -> bool:
        return bool(self.rows)

    def take(self) -> None:
        tables = connection.introspection.django_table_names(only_existing=True)
        with connection.cursor() as cursor:
            raw = cursor.cursor
            for table in sorted(tables):
                with raw.copy(f"COPY {connection.ops.quote_name(table)} TO STDOUT") as copy:
                    self.rows[table] = b"".join(bytes(block) for block in copy)
            for sequence in connection.introspection.sequence_list():
                name = connection.ops.quote_name(sequence["name"])
                cursor.execute(f"SELECT last_value, is_called FROM {name}")
                self.sequences[sequence["name"]] = cursor.fetchone()

    def restore(self) -> None:
        """Replace every row of the database with the snapshot's: what migrate or a flush left
        (content types, permissions) goes too, as the copied rows refer to the ids they had."""
        with transaction.atomic(), connection.cursor() as cursor:
            # Every table is in the snapshot: nothing to cascade to, so the test database's
            # engine deletes the rows instead of truncating (tests/postgresql says why).
            flush = connection.ops.sql_flush(no_style(), list(self.rows))
            for statement in flush:
                cursor.execute(statement)
            # The flush keeps the rows the models define; the snapshot has its own.
            for table in KEPT:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
            raw = cursor.cursor
            # Django's foreign keys are checked at the commit: the order of the tables is free.
            for table, rows in self.rows.items():
                if rows:
                    with raw.copy(f"COPY {connection.ops.quote_name(table)} FROM STDIN") as copy:
                        copy.write(rows)
            for name, (value, called) in self.sequences.items():
                cursor.execute("SELECT setval(%s, %s, %s)", [name, value, called])
        ContentType.objects.clear_cache()


_demo = Snapshot()


def seed_demo(*args: Any) -> None:
    """The demo in the test database, as ``seed_demo`` leaves it, then ``seed_demo *args``.

    Seeding six months of history goes through the services step by step and takes seconds.
    The first call in the process seeds it; later calls, for tests whose database starts empty
    (a transactional test's), copy it back. The tests that use the demo share an
    ``xdist_group``, so one worker seeds it once for all of them. ``seed_demo`` then runs again
    with the test's own arguments, as ``make run`` runs it on an existing demo: it finds the
    demo and points the health check at the test's server.
    """
    if _demo:
        _demo.restore()
    else:
        with transaction.atomic():
            call_command("seed_demo", verbosity=0)
            _demo.take()
    if args:
        call_command("seed_demo", *args, verbosity=0)
