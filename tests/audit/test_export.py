"""Can an auditor export what the filter shows — streamed, audited, and only to themselves?"""
from __future__ import annotations

import csv
import io
import json
import re
import tracemalloc
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from sanctum import audit
from sanctum.audit import query
from sanctum.extensions import db
from sanctum.models import JobRecord, User
from tests.support.accounts import AuthActions, make_user
from tests.support.audit import add_events, last_event


def bulk(app, count, action="test.bulk", **columns):
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    with app.app_context():
        audit.service.append_many({"action": action, "created_at": start + timedelta(milliseconds=n),
                                   "details": {"n": n}, **columns} for n in range(count))
        db.session.commit()


def start_export(auth, fmt="csv", **filters):
    response = auth.post("/audit/exports", {"format": fmt, **filters}, page="/audit/")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(re.search(r"/jobs/(\d+)/progress", response.headers["Location"]).group(1))


def test_a_csv_export_holds_exactly_the_filtered_rows(app, client, auth, wait_for_job):
    add_events(app, 3, action="test.keep", outcome="failure")
    add_events(app, 2, action="test.skip")
    auth.login("admin")
    job_id = start_export(auth, action="test.keep")
    assert wait_for_job(job_id).status == "succeeded"
    page = client.get(f"/jobs/{job_id}/progress").get_data(as_text=True)
    assert "Download 3 events" in page
    response = client.get(f"/audit/exports/{job_id}/download")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["test.keep"] * 3
    assert [json.loads(r["details"]) for r in rows] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert rows[0]["seq"] == "5" and rows[0]["outcome"] == "failure" and len(rows[0]["hash"]) == 64


def test_the_export_is_audited_and_leaves_itself_out(app, client, auth, wait_for_job):
    auth.login("admin")
    job_id = start_export(auth, "jsonl", action="audit.")
    event = last_event(app, "audit.exported")
    assert event.actor_label == "admin" and event.target_id == str(job_id)
    assert event.details["filters"] == {"action": "audit."} and event.details["format"] == "jsonl"
    wait_for_job(job_id)
    body = client.get(f"/audit/exports/{job_id}/download").get_data(as_text=True)
    assert body == ""  # the log held no audit.* event until this export's own


def test_json_lines_keep_the_details_as_objects(app, client, auth, wait_for_job):
    add_events(app, 2, action="test.json")
    auth.login("admin")
    job_id = start_export(auth, "jsonl", action="test.json")
    wait_for_job(job_id)
    lines = client.get(f"/audit/exports/{job_id}/download").get_data(as_text=True).splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["details"] for e in events] == [{"n": 0}, {"n": 1}]
    assert events[0]["created_at"].endswith("+00:00")


def test_only_whoever_asked_may_download(app, client, auth, wait_for_job):
    make_user(app, "ada", role="admin")
    auth.login("admin")
    job_id = start_export(auth)
    wait_for_job(job_id)
    other = app.test_client()
    AuthActions(other).login("ada")
    assert other.get(f"/audit/exports/{job_id}/download").status_code == 404
    assert other.get(f"/jobs/{job_id}/progress").status_code == 200  # ada may see every job, not the file
    auditor = app.test_client()
    make_user(app, "olga", role="viewer")
    AuthActions(auditor).login("olga")
    assert auditor.get(f"/jobs/{job_id}/progress").status_code == 404


def test_an_expired_export_says_so(app, client, auth, wait_for_job):
    auth.login("admin")
    job_id = start_export(auth)
    wait_for_job(job_id)
    with app.app_context():
        from sanctum.audit.jobs import export_path

        export_path(job_id, "csv").unlink()
    response = client.get(f"/audit/exports/{job_id}/download")
    assert response.status_code == 404 and "expired" in response.get_data(as_text=True)


def test_a_bad_format_is_refused(app, client, auth):
    auth.login("admin")
    response = auth.post("/audit/exports", {"format": "xlsx"}, page="/audit/")
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(JobRecord.id)) is None


def test_spreadsheet_formulas_are_defused_in_csv(app):
    with app.app_context():
        audit.record("test.formula", ip="=HYPERLINK(\"http://evil\")", details={"x": 1})
        db.session.commit()
        chunks = "".join(text for text, _ in query.export_chunks(query.AuditFilter(action="test.formula"), "csv",
                                                                  upto_seq=query.head_seq()))
    row = list(csv.DictReader(io.StringIO(chunks)))[0]
    assert row["ip"].startswith("'=")


def _peak_while_exporting(app, action) -> tuple[int, int]:
    with app.app_context():
        selected = query.AuditFilter(action=action)
        upto = query.head_seq()
        tracemalloc.start()
        rows = 0
        for _text, n in query.export_chunks(selected, "jsonl", upto_seq=upto, batch=1000):
            rows += n
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return rows, peak


def test_exporting_more_rows_does_not_take_more_memory(app):
    bulk(app, 4_000, action="test.small")
    bulk(app, 24_000, action="test.large")
    small_rows, small_peak = _peak_while_exporting(app, "test.small")
    large_rows, large_peak = _peak_while_exporting(app, "test.large")
    assert (small_rows, large_rows) == (4_000, 24_000)
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


def test_scripts_stream_an_export_with_a_token(app, client):
    from sanctum.tokens.service import create_token

    add_events(app, 5, action="test.stream")
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        _token, raw = create_token(user=admin, name="siem", scopes=["audit.export"], expires_in_days=None)
    response = client.get("/api/v1/audit/export?format=jsonl&action=test.stream",
                          headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200 and response.is_streamed
    assert len(response.get_data(as_text=True).splitlines()) == 5
    assert last_event(app, "audit.exported").details["via"] == "api"
    assert client.get("/api/v1/audit/export?format=pdf", headers={"Authorization": f"Bearer {raw}"}).status_code == 422
