"""Database wiring: the engine settings SQLite needs to behave under concurrency."""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Callable

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sanctum.extensions import db, migrate

log = logging.getLogger(__name__)
_AFTER_COMMIT_KEY = "sanctum.after_commit"
MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while one writer writes; NORMAL is durable enough with WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def init_app(app: Flask) -> None:
    from sanctum import models  # noqa: F401  (every model registered before Alembic looks)

    db.init_app(app)
    migrate.init_app(
        app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True, render_item=_render_item,
        include_object=include_object,
    )


# Schema written by hand in migrations for one database only (search indexes, FTS tables):
# autogenerate must not propose to drop what the models cannot describe.
HAND_MADE = ("users_search", "ix_users_search_trgm", "ix_users_last_login_sort")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (name and name.startswith(HAND_MADE))


def _render_item(type_, obj, autogen_context):
    """Write our column types into migrations as plain SQLAlchemy types.

    A migration must not import application code that may change after it is written.
    """
    from sanctum.models.base import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def on_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once the current transaction commits; forget it if it rolls back.

    For side effects that others must not see before the rows they refer to exist:
    dispatching a job, publishing an event.
    """
    session = db.session()
    if session.get_transaction() is None:
        session.begin()  # so a rollback before any statement still discards the callback
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT_KEY, None) or ():
        try:
            callback()
        except Exception:  # noqa: BLE001 - the commit stands; each callback handles its own failure
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_AFTER_COMMIT_KEY, None)


def day_of(column):
    """The UTC calendar day of a UTCDateTime column, for GROUP BY per day on either database."""
    from sqlalchemy import Date, cast, func

    if is_postgresql():
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite stores naive UTC text: its date part is the UTC day
