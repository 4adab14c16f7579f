"""Helpers for audit tests: reading events, and tampering the way an attacker with SQL would."""
from __future__ import annotations

from sqlalchemy import select, text

from sanctum import audit
from sanctum.extensions import db
from sanctum.models import AuditEvent

TRIGGER = "audit_events_append_only"


def tamper(app, *statements) -> None:
    """Run raw statements against audit_events. PostgreSQL refuses UPDATE and DELETE there, so
    like an attacker holding the table owner's rights we switch the trigger off around them."""
    with app.app_context():
        with db.engine.begin() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                conn.execute(text(f"ALTER TABLE audit_events DISABLE TRIGGER {TRIGGER}"))
            for statement in statements:
                conn.execute(statement)
            if postgres:
                conn.execute(text(f"ALTER TABLE audit_events ENABLE TRIGGER {TRIGGER}"))


def add_events(app, count, action="test.event", **kwargs) -> None:
    with app.app_context():
        for n in range(count):
            audit.record(action, details={"n": n}, **kwargs)
        db.session.commit()


def events(app, action=None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        return rows


def last_event(app, action) -> AuditEvent | None:
    found = events(app, action)
    return found[-1] if found else None
