"""Does the periodic job mark invitations whose time is up, and only those?"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from sanctum import jobs
from sanctum.extensions import db
from sanctum.models import AuditEvent, Invitation, Role, User
from sanctum.models.base import utcnow


def seed(app) -> dict[str, int]:
    with app.app_context():
        role = db.session.scalar(select(Role).where(Role.name == "user"))
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        now = utcnow()
        rows = {
            "late": Invitation(email="late@example.org", role=role, token_hash="1" * 64, invited_by_id=admin.id,
                               expires_at=now - timedelta(minutes=5)),
            "live": Invitation(email="live@example.org", role=role, token_hash="2" * 64, invited_by_id=admin.id,
                               expires_at=now + timedelta(days=1)),
            "gone": Invitation(email="gone@example.org", role=role, token_hash="3" * 64, invited_by_id=admin.id,
                               status="revoked", expires_at=now - timedelta(days=1)),
        }
        db.session.add_all(rows.values())
        db.session.commit()
        return {k: v.id for k, v in rows.items()}


def statuses(app, ids):
    with app.app_context():
        return {k: db.session.get(Invitation, v).status for k, v in ids.items()}


def test_the_expiry_job_marks_pending_invitations_past_their_time(app, wait_for_job):
    ids = seed(app)
    with app.app_context():
        record = jobs.enqueue("sanctum.invitations.jobs.expire_invitations")
        db.session.commit()
        record_id = record.id
    assert wait_for_job(record_id).status == "succeeded"
    assert statuses(app, ids) == {"late": "expired", "live": "pending", "gone": "revoked"}


def test_each_expiry_is_audited(app):
    ids = seed(app)
    from sanctum.invitations.service import expire_invitations

    with app.app_context():
        assert expire_invitations() == 1
        assert expire_invitations() == 0  # nothing left to do the second time
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.expired")).all()
        assert (event.target_type, event.target_id) == ("invitation", str(ids["late"]))
        assert event.details["before"] == {"status": "pending"} and event.details["after"] == {"status": "expired"}


def test_the_expiry_job_is_scheduled(app):
    assert app.extensions["sanctum.periodic"]["sanctum.invitations.jobs.expire_invitations"] == 60
