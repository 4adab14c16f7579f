"""Is the audit log written in the caller's transaction, chained, and is tampering detected?"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, select, text, update

from sanctum import audit
from sanctum.audit.service import GENESIS_HASH
from sanctum.extensions import db
from sanctum.models import AuditEvent
from tests.support.audit import add_events, tamper

pytestmark = pytest.mark.empty_database  # the chain starts at genesis


class Actor:
    def __init__(self, id, username):
        self.id, self.username = id, username




def test_an_event_is_recorded_with_actor_target_and_request_facts(app):
    with app.test_request_context("/", headers={"User-Agent": "pytest-agent"},
                                  environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        from flask import g

        g.request_id = "req-12345678"
        event = audit.record("user.updated", actor=Actor(7, "ada"), target=Actor(9, "bob"),
                             details={"before": {"role": "user"}, "after": {"role": "admin"}})
        db.session.commit()
        stored = db.session.get(AuditEvent, event.id)
        assert (stored.actor_id, stored.actor_label) == (7, "ada")
        assert (stored.target_type, stored.target_id) == ("actor", "9")
        assert (stored.ip, stored.user_agent, stored.request_id) == ("203.0.113.9", "pytest-agent", "req-12345678")
        assert stored.outcome == "success" and stored.created_at.tzinfo is not None
        assert stored.prev_hash == GENESIS_HASH and stored.seq == 1


def test_an_event_rolls_back_with_its_transaction_and_leaves_no_gap(app):
    with app.app_context():
        audit.record("first")
        db.session.commit()
        audit.record("never happened")
        db.session.rollback()
        audit.record("second")
        db.session.commit()
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [(e.seq, e.action) for e in rows] == [(1, "first"), (2, "second")]
        assert audit.verify_chain().ok


def test_secrets_in_details_are_redacted(app):
    with app.app_context():
        event = audit.record("settings.changed", details={"password": "hunter2", "nested": {"api_key": "sk-1"},
                                                          "name": "kept"})
        db.session.commit()
        assert event.details == {"password": "[redacted]", "nested": {"api_key": "[redacted]"}, "name": "kept"}


def test_an_intact_chain_verifies(app):
    add_events(app, 25)
    with app.app_context():
        report = audit.verify_chain(batch_size=7)
        assert report.ok and report.checked == 25


def test_a_changed_row_is_detected(app):
    add_events(app, 10)
    tamper(app, update(AuditEvent).where(AuditEvent.seq == 4).values(outcome="failure"))
    with app.app_context():
        report = audit.verify_chain()
        assert not report.ok and report.first_bad_seq == 4 and "contents" in report.reason


def test_a_deleted_row_is_detected(app):
    add_events(app, 10)
    tamper(app, delete(AuditEvent).where(AuditEvent.seq == 6))
    with app.app_context():
        report = audit.verify_chain()
        assert not report.ok and report.first_bad_seq == 6


def test_a_rewritten_tail_is_detected(app):
    """Deleting the newest rows leaves a consistent prefix; the chain head still knows."""
    add_events(app, 10)
    tamper(app, delete(AuditEvent).where(AuditEvent.seq > 8))
    with app.app_context():
        report = audit.verify_chain()
        assert not report.ok and report.first_bad_seq == 9


def test_the_verify_command_names_the_broken_row(app, runner):
    add_events(app, 5)
    assert "5 events verified" in runner.invoke(args=["audit", "verify"]).output
    tamper(app, update(AuditEvent).where(AuditEvent.seq == 2).values(action="nothing.to.see"))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at event 2" in result.output


def test_concurrent_writers_keep_one_unbroken_chain(app):
    errors = []

    def writer(n):
        try:
            add_events(app, 10, action=f"writer.{n}")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        report = audit.verify_chain()
        assert report.ok and report.checked == 40
        assert db.session.execute(text("SELECT count(DISTINCT seq) FROM audit_events")).scalar() == 40


def test_an_inserted_row_is_detected(app):
    """A forged row slipped in with a free seq number breaks the chain where it lands."""
    add_events(app, 6)
    with app.app_context():
        row = db.session.scalar(select(AuditEvent).where(AuditEvent.seq == 3))
        forged = {c.name: getattr(row, c.name) for c in AuditEvent.__table__.c if c.name != "id"}
        db.session.rollback()
    forged.update(seq=7, action="user.promoted", details={"role": "admin"})
    tamper(app, AuditEvent.__table__.insert().values(**forged))
    with app.app_context():
        report = audit.verify_chain()
        assert not report.ok and report.first_bad_seq == 7


def test_an_emptied_table_is_detected(app):
    add_events(app, 3)
    tamper(app, delete(AuditEvent))
    with app.app_context():
        report = audit.verify_chain()
        assert not report.ok and report.first_bad_seq == 1 and "every row" in report.reason


def test_the_database_refuses_an_update_or_verify_catches_it(app):
    """PostgreSQL's trigger refuses UPDATE and DELETE outright; SQLite has no such guard, so
    there the change goes through and verification names the row."""
    from sqlalchemy.exc import DBAPIError

    add_events(app, 3)
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        try:
            db.session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(outcome="failure"))
            db.session.commit()
        except DBAPIError as exc:
            db.session.rollback()
            assert postgres and "append-only" in str(exc.orig)
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
            db.session.rollback()
            assert audit.verify_chain().ok
        else:
            assert not postgres, "PostgreSQL let an UPDATE of audit_events through"
            report = audit.verify_chain()
            assert not report.ok and report.first_bad_seq == 2


def test_rows_appended_while_verifying_are_not_tampering(app):
    add_events(app, 12)
    with app.app_context():
        seen = []

        def write_more(checked):
            if not seen:
                seen.append(checked)
                add_events(app, 3, action="test.meanwhile")

        report = audit.verify_chain(batch_size=5, progress=write_more)
        assert report.ok and report.last_seq == 12
        assert audit.verify_chain().last_seq == 15


def test_row_ids_next_to_secret_words_are_kept(app):
    with app.app_context():
        event = audit.record("token.revoked", details={"token_id": 12, "session_id": 7, "token": "sct_pat_x"})
        db.session.commit()
        assert event.details == {"token_id": 12, "session_id": 7, "token": "[redacted]"}
