"""Multi-row INSERT for the hot append-only tables (samples, tube results).

Django's ``bulk_create`` prepares every value through its field (about 0.1 ms per row of 24
columns), which is most of a 100-item batch. The rows here are built by our own code from
validated plain values, so only the backend's adaptation of dates and times is needed. Ids come
back through RETURNING (SQLite >= 3.35 and PostgreSQL), in row order, as ``bulk_create`` assumes.
Without ids on PostgreSQL the rows go through COPY.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# SQLite caps the number of bound parameters (32,766 since 3.32); stay well below.
MAX_PARAMS = 30_000


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]],
                returning: bool = True) -> list[int]:
    """Insert ``rows`` (values in ``columns`` order) and return their ids (if ``returning``)."""
    if not rows:
        return []
    ops = connection.ops
    table = ops.quote_name(model._meta.db_table)
    cols = ", ".join(ops.quote_name(c) for c in columns)
    per = max(1, MAX_PARAMS // len(columns))
    ids: list[int] = []
    fields = {f.column: f for f in model._meta.concrete_fields}
    datetime_cols = [i for i, c in enumerate(columns) if isinstance(fields[c], models.DateTimeField)]
    with connection.cursor() as cursor:
        if not returning and connection.vendor == "postgresql":
            # COPY: PostgreSQL parses one huge VALUES list slowly; COPY streams the rows.
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return []
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            params: list[Any] = []
            for row in chunk:
                values = list(row)
                for i in datetime_cols:
                    if isinstance(values[i], dt.datetime):
                        values[i] = ops.adapt_datetimefield_value(values[i])
                params.extend(values)
            one = "(" + ", ".join(["%s"] * len(columns)) + ")"
            sql = f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(chunk))}"  # noqa: S608 (names from the model)
            if returning:
                pk = model._meta.pk
                assert pk is not None
                sql += " RETURNING " + ops.quote_name(pk.column)
                cursor.execute(sql, params)
                ids.extend(r[0] for r in cursor.fetchall())
            else:
                cursor.execute(sql, params)
    return ids

