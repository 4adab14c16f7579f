"""Count the SQL statements a block of code sends (to bound queries per page)."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def count_queries(app_or_engine):
    """`with count_queries(app) as statements:` (an engine works too)."""
    engine = app_or_engine
    if hasattr(app_or_engine, "app_context"):
        from sanctum.extensions import db

        with app_or_engine.app_context():
            engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
