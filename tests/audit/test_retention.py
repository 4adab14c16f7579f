"""Does the retention purge delete old events in batches and leave a chain that still verifies?"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import delete, func, select, update

from sanctum import audit
from sanctum.audit import retention
from sanctum.audit.service import PURGE_ACTION
from sanctum.extensions import db
from sanctum.models import AuditEvent
from tests.support.audit import add_events, events, last_event, tamper

pytestmark = pytest.mark.empty_database


def aged(app, count, days_ago, action="test.old"):
    with time_machine.travel(datetime.now(timezone.utc) - timedelta(days=days_ago), tick=True):
        add_events(app, count, action=action)


def purge(app, **kwargs):
    with app.app_context():
        return retention.purge_expired(**kwargs)


def verify(app):
    with app.app_context():
        return audit.verify_chain()


def test_old_events_are_purged_and_the_rest_still_verifies(app):
    aged(app, 12, days_ago=400)
    add_events(app, 5, action="test.recent")
    result = purge(app, days=365, batch_size=5)
    assert result.deleted == 12 and result.through_seq == 12
    remaining = events(app)
    assert [e.action for e in remaining] == ["test.recent"] * 5 + [PURGE_ACTION]
    anchor = last_event(app, PURGE_ACTION)
    assert anchor.details["through_seq"] == 12 and anchor.details["rows"] == 12
    report = verify(app)
    assert report.ok and report.first_seq == 13 and report.checked == 6


def test_nothing_young_enough_is_touched(app):
    aged(app, 3, days_ago=10)
    assert purge(app, days=30).deleted == 0
    assert purge(app, days=0).deleted == 0  # 0 keeps everything forever
    assert len(events(app)) == 3 and last_event(app, PURGE_ACTION) is None


def test_purging_twice_moves_the_anchor_forward(app):
    aged(app, 4, days_ago=100)
    aged(app, 4, days_ago=50)
    add_events(app, 2)
    purge(app, days=90)
    assert verify(app).ok
    purge(app, days=30)
    report = verify(app)
    assert report.ok and report.first_seq == 9
    anchors = events(app, PURGE_ACTION)
    assert [a.details["through_seq"] for a in anchors] == [4, 8]  # the newest one vouches for the start


def test_deleting_a_row_after_the_anchor_is_still_caught(app):
    aged(app, 5, days_ago=400)
    add_events(app, 5)
    purge(app, days=365)
    tamper(app, delete(AuditEvent).where(AuditEvent.seq == 6))  # the first kept row
    report = verify(app)
    assert not report.ok and report.first_bad_seq == 6


def test_deleting_the_anchor_itself_is_caught(app):
    aged(app, 5, days_ago=400)
    add_events(app, 3)
    purge(app, days=365)
    anchor = last_event(app, PURGE_ACTION)
    add_events(app, 2)
    tamper(app, delete(AuditEvent).where(AuditEvent.seq == anchor.seq))
    report = verify(app)
    assert not report.ok and report.first_bad_seq == 1 and "no purge accounts" in report.reason


def test_a_forged_anchor_claim_is_caught(app):
    aged(app, 5, days_ago=400)
    add_events(app, 3)
    purge(app, days=365)
    anchor = last_event(app, PURGE_ACTION)
    tamper(app, update(AuditEvent).where(AuditEvent.seq == anchor.seq)
           .values(details={**anchor.details, "through_seq": 7}))
    assert not verify(app).ok


def test_a_purge_half_way_through_still_verifies(app):
    """Verification may run while the purge deletes its batches."""
    aged(app, 10, days_ago=400)
    add_events(app, 2)
    reports = []

    def check(done, total):
        with app.app_context():
            reports.append((done, audit.verify_chain().ok))

    purge(app, days=365, batch_size=3, progress=check)
    assert [done for done, _ in reports] == [3, 6, 9, 10]
    assert all(ok for _, ok in reports)


def test_the_purge_job_uses_the_setting(app):
    aged(app, 3, days_ago=40)
    add_events(app, 1)
    with app.app_context():
        retention.set_retention_days(30, actor=None)
        from sanctum.audit.jobs import purge_expired

        purge_expired()
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test.old")) == 0
        assert last_event(app, "settings.changed").details == {"before": 365, "after": 30}


def test_old_export_files_go_with_the_purge(app):
    import os
    import time

    with app.app_context():
        from sanctum.audit.jobs import export_dir, remove_old_exports

        old, fresh = export_dir() / "audit-export-1.csv", export_dir() / "audit-export-2.csv"
        old.write_text("x")
        fresh.write_text("y")
        two_days_ago = time.time() - 48 * 3600
        os.utime(old, (two_days_ago, two_days_ago))
        assert remove_old_exports() == 1
        assert not old.exists() and fresh.exists()
        fresh.unlink()


def test_the_purge_command_reports_what_it_did(app, runner):
    aged(app, 4, days_ago=100)
    add_events(app, 1)
    result = runner.invoke(args=["audit", "purge", "--days", "30"])
    assert result.exit_code == 0 and "purged 4 events up to #4; anchor is event #6" in result.output
    assert "nothing to purge" in runner.invoke(args=["audit", "purge", "--days", "30"]).output
    assert "intact: 2 events" in runner.invoke(args=["audit", "verify"]).output
