"""Querysets whose SQL is built and compiled once per process.

Building and compiling a queryset with joins and a few sub-selects costs Django milliseconds a
request, often more than the database takes to answer it. Where a page runs the same query for
every request but for one id (a release, the signed-in person), the queryset is built once for
``STAND_IN``, an id no row has, and compiled; each request runs that SQL with its own id, and
its own page of rows where the query is paged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Expression, QuerySet

# The id a precompiled queryset is built for; each run puts its own id where this one went.
STAND_IN = -7_654_321


@dataclass(frozen=True)
class Precompiled:
    """A ``values()`` or ``values_list()`` queryset as SQL and parameters, its columns' names,
    and where its id goes."""

    sql: str
    params: tuple[Any, ...]
    # Where the id goes in ``params``; None for a query that names no id.
    at: int | None
    names: tuple[str, ...]
    # The selected expressions, whose database converters each row goes through, as Django
    # would (dates stored as text by SQLite, for instance).
    columns: tuple[Expression, ...]
    count_sql: str
    count_params: tuple[Any, ...]
    count_at: int | None

    @classmethod
    def of(cls, queryset: QuerySet[Any, Any]) -> Precompiled:
        """``queryset``, built for ``STAND_IN`` (or for no id at all), compiled."""
        compiler = queryset.query.get_compiler(queryset.db)
        sql, params = compiler.as_sql()
        query = queryset.query
        # As ``values()`` names a row's columns.
        names = (
            tuple(query.selected)
            if query.selected
            else (*query.extra_select, *query.values_select, *query.annotation_select)
        )
        columns = tuple(expression for expression, _sql, _alias in compiler.select)
        assert len(names) == len(columns), "a values() queryset: one name a column"
        counted = queryset.order_by().values("pk").query
        count_sql, count_params = counted.get_compiler(queryset.db).as_sql()
        return cls(
            sql=sql,
            params=tuple(params),
            at=_stand_in(params),
            names=names,
            columns=columns,
            count_sql=f"SELECT COUNT(*) FROM ({count_sql}) counted",
            count_params=tuple(count_params),
            count_at=_stand_in(count_params),
        )

    def rows(
        self, pk: int | None = None, *, offset: int = 0, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows for ``pk``, from ``offset`` on, at most ``limit`` of them."""
        sql, params = self.sql, _put(self.params, self.at, pk)
        if limit is not None:
            sql, params = f"{sql} LIMIT %s OFFSET %s", (*params, limit, offset)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        return [tuple(row) for row in self._converted(found)]

    def dicts(
        self, pk: int | None = None, *, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """``rows`` as ``values()`` gives them: one dict a row."""
        rows = self.rows(pk, offset=offset, limit=limit)
        return [dict(zip(self.names, row, strict=True)) for row in rows]

    def count(self, pk: int | None = None) -> int:
        with connection.cursor() as cursor:
            cursor.execute(self.count_sql, _put(self.count_params, self.count_at, pk))
            (total,) = cursor.fetchone()
        return int(total)

    def _converted(self, found: list[Any]) -> list[list[Any]]:
        converters = [
            (index, converters, column)
            for index, column in enumerate(self.columns)
            if (
                converters := [
                    *connection.ops.get_db_converters(column),
                    *column.get_db_converters(connection),
                ]
            )
        ]
        rows = [list(row) for row in found]
        for row in rows:
            for index, functions, column in converters:
                for convert in functions:
                    row[index] = convert(row[index], column, connection)
        return rows


def _stand_in(params: tuple[Any, ...] | list[Any]) -> int | None:
    at = [n for n, value in enumerate(params) if value == STAND_IN]
    assert len(at) <= 1, "the query names its id once"
    return at[0] if at else None


def _put(params: tuple[Any, ...], at: int | None, pk: int | None) -> tuple[Any, ...]:
    if at is None:
        return params
    assert pk is not None, "a query built for an id runs with one"
    return (*params[:at], pk, *params[at + 1 :])
