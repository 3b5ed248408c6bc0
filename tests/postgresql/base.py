"""PostgreSQL for the test suite: Django's own backend, with the tables emptied by DELETE rather
than TRUNCATE between the tests that commit.

After each test that commits (pytest-django's transactional tests: the live server, the
browser, the workers), Django empties every table of the test database. Its TRUNCATE takes an
ACCESS EXCLUSIVE lock on each of the tables and gives each of them and their indexes new files:
about half a second, and a request the test's browser left in flight, reading two of the tables,
deadlocks with it. By then the tables hold a few rows each: deleting them in one transaction,
with the foreign keys checked at its commit (Django declares them DEFERRABLE INITIALLY DEFERRED),
takes a tenth of the time and waits for no reader.

The content types and permissions are kept: they are what the models define, the same for every
test. Django runs its post_migrate handlers after each flush; on emptied tables they made every
content type and permission again (a fifth of a second a test), on kept ones they find them all
and write nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base, operations

# Rows the models define, kept between tests (a snapshot that copies its own back deletes them).
KEPT = ("django_content_type", "auth_permission")


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(
        self, style: Any, tables: Any, *, reset_sequences: bool = False, allow_cascade: bool = False
    ) -> list[str]:
        if reset_sequences or allow_cascade or not tables:
            # Sequences restarted, or rows of tables outside the list: TRUNCATE does both.
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        deletes = " ".join(
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
            if table not in KEPT
        )
        return [f"SET CONSTRAINTS ALL DEFERRED; {deletes}"]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
