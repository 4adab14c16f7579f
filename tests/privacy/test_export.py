"""Can everyone take their data out as JSON, built by a job, downloadable only by whoever asked?"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import AuditEvent, DataExport, User
from sanctum.models.base import utcnow
from sanctum.privacy import service
from tests.support.accounts import PASSWORD


def request_own_export(auth, username="ursula") -> int:
    auth.login(username)
    response = auth.post("/account/data/exports", page="/account/data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def finished(app, wait_for_job, export_id) -> DataExport:
    with app.app_context():
        job_id = db.session.get(DataExport, export_id).job_id
    record = wait_for_job(job_id)
    assert record.status == "succeeded", record.error
    with app.app_context():
        export = db.session.get(DataExport, export_id)
        db.session.expunge(export)
        return export


def download(client, export_id):
    return client.get(f"/account/data/exports/{export_id}/download")


def test_the_data_page_offers_the_export_and_names_every_section(client, auth):
    auth.login("vera")
    body = client.get("/account/data").get_data(as_text=True)
    assert "Export my data" in body
    for label in ("Profile and role", "Sessions", "Audit events by you or about you",
                  "Invitations to you", "Broca databases"):
        assert label in body


def test_a_user_exports_their_data_and_downloads_it(app, client, auth, wait_for_job):
    export_id = request_own_export(auth)
    export = finished(app, wait_for_job, export_id)
    assert export.status == "ready" and export.expires_at > utcnow() + timedelta(hours=47)
    response = download(client, export_id)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="sanctum-export-user')
    document = response.get_json()
    assert document["format"] == "sanctum-export" and document["version"] == 1
    sections = document["sections"]
    assert list(sections)[:5] == ["profile", "sessions", "grants", "api_tokens", "mails"]
    assert list(sections)[-1] == "audit_events"
    assert {"invitations", "broca_links"} <= set(sections)
    assert sections["profile"]["username"] == "ursula"
    assert sections["profile"]["email"] == "ursula@example.test"
    assert "chat.use" in sections["profile"]["role_permissions"]
    assert sections["sessions"] and sections["sessions"][0]["user_agent"] is not None
    actions = [e["action"] for e in sections["audit_events"]]
    assert "auth.login_succeeded" in actions and "privacy.export_requested" in actions


def test_the_export_holds_grants_tokens_and_no_secret(app, client, auth, wait_for_job):
    with app.app_context():
        from sanctum.rbac.service import grant_permission
        from sanctum.tokens.service import create_token

        admin = db.session.scalar(select(User).where(User.username == "admin"))
        ursula = db.session.scalar(select(User).where(User.username == "ursula"))
        grant_permission(user=ursula, permission="audit.view", expires_at=None, actor=admin, reason="on duty")
        _token, raw = create_token(user=ursula, name="backup script", scopes=["account.manage"],
                                   expires_in_days=30)
        password_hash = ursula.password_hash
    export_id = request_own_export(auth)
    finished(app, wait_for_job, export_id)
    text = download(client, export_id).get_data(as_text=True)
    document = json.loads(text)
    assert document["sections"]["grants"][0]["permission"] == "audit.view"
    assert document["sections"]["grants"][0]["granted_by"] == "admin"
    assert document["sections"]["api_tokens"][0]["name"] == "backup script"
    assert raw not in text and raw[12:] not in text
    assert password_hash not in text and "token_hash" not in text and "password" not in document["sections"]["profile"]


def test_the_progress_widget_polls_and_stops_with_286_when_ready(app, client, auth, wait_for_job):
    export_id = request_own_export(auth)
    finished(app, wait_for_job, export_id)
    poll = {"HX-Request": "true", "HX-Trigger": "export-progress"}
    response = client.get(f"/account/data/exports/{export_id}", headers=poll)
    assert response.status_code == 286
    body = response.get_data(as_text=True)
    assert "Download the JSON file" in body and "hx-trigger" not in body


def test_a_queued_export_shows_a_polling_widget(app, client, auth):
    auth.login("ursula")
    with app.app_context():
        ursula = db.session.scalar(select(User).where(User.username == "ursula"))
        export = DataExport(user_id=ursula.id, requested_by_id=ursula.id, status="queued", sections=[])
        db.session.add(export)
        db.session.commit()
        export_id = export.id
    response = client.get(f"/account/data/exports/{export_id}",
                          headers={"HX-Request": "true", "HX-Trigger": "export-progress"})
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in response.get_data(as_text=True)
    assert download(client, export_id).status_code == 410


def test_another_users_export_is_not_found(app, client, auth, wait_for_job):
    export_id = request_own_export(auth, "ursula")
    finished(app, wait_for_job, export_id)
    auth.logout()
    auth.login("vera")
    assert client.get(f"/account/data/exports/{export_id}").status_code == 404
    assert download(client, export_id).status_code == 404
    auth.logout()
    auth.login("admin")  # not even an admin may fetch someone else's download
    assert download(client, export_id).status_code == 404


def test_an_admin_exports_another_account_and_only_the_admin_may_download_it(app, client, auth, wait_for_job):
    with app.app_context():
        vera_id = db.session.scalar(select(User.id).where(User.username == "vera"))
    auth.login("admin")
    response = auth.post(f"/admin/privacy/users/{vera_id}/export", page=f"/admin/privacy/users/{vera_id}")
    export_id = int(response.headers["Location"].rsplit("/", 1)[1])
    finished(app, wait_for_job, export_id)
    document = download(client, export_id).get_json()
    assert document["sections"]["profile"]["username"] == "vera" and document["requested_by"] == "admin"
    auth.logout()
    auth.login("vera")
    assert download(client, export_id).status_code == 404
    with app.app_context():
        requested = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.export_requested"))
        assert (requested.actor_label, requested.target_id, requested.details["by_admin"]) == ("admin", str(vera_id),
                                                                                               True)


@pytest.mark.parametrize("username", ["mod", "ursula", "vera"])
def test_only_user_managers_may_export_someone_else(app, client, auth, username):
    with app.app_context():
        admin_id = db.session.scalar(select(User.id).where(User.username == "admin"))
    auth.login(username)
    assert auth.post(f"/admin/privacy/users/{admin_id}/export").status_code == 403
    assert client.get(f"/admin/privacy/users/{admin_id}").status_code == 403


def test_requesting_and_downloading_are_audited(app, client, auth, wait_for_job):
    export_id = request_own_export(auth)
    finished(app, wait_for_job, export_id)
    download(client, export_id)
    download(client, export_id)
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("privacy.%"))
                                                        .order_by(AuditEvent.seq))]
        assert actions == ["privacy.export_requested", "privacy.export_ready", "privacy.export_downloaded",
                           "privacy.export_downloaded"]
        assert db.session.get(DataExport, export_id).download_count == 2


def test_a_second_export_while_one_is_being_prepared_is_refused(app, client, auth):
    auth.login("ursula")
    with app.app_context():
        ursula = db.session.scalar(select(User).where(User.username == "ursula"))
        db.session.add(DataExport(user_id=ursula.id, requested_by_id=ursula.id, status="running", sections=[]))
        db.session.commit()
    response = auth.post("/account/data/exports", page="/account/data", follow_redirects=True)
    assert "already being prepared" in response.get_data(as_text=True)


def test_an_expired_export_is_gone_and_the_purge_job_drops_the_file(app, client, auth, wait_for_job):
    export_id = request_own_export(auth)
    finished(app, wait_for_job, export_id)
    with app.app_context():
        db.session.get(DataExport, export_id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = download(client, export_id)
    assert response.status_code == 410
    assert "no longer available" in response.get_data(as_text=True)
    with app.app_context():
        assert service.purge_expired_exports() == 1
        export = db.session.get(DataExport, export_id)
        assert (export.status, export.content) == ("expired", None)
    assert "download window has closed" in client.get(f"/account/data/exports/{export_id}").get_data(as_text=True)


def test_an_export_whose_job_gave_up_shows_as_failed(app, client, auth, wait_for_job):
    from sanctum.models import JobRecord

    export_id = request_own_export(auth)
    finished(app, wait_for_job, export_id)
    with app.app_context():
        export = db.session.get(DataExport, export_id)
        export.status = "running"
        db.session.get(JobRecord, export.job_id).status = "failed"
        db.session.commit()
    body = client.get(f"/account/data/exports/{export_id}").get_data(as_text=True)
    assert "Preparing the export failed" in body


def test_expired_exports_are_purged_periodically(app):
    assert app.extensions["sanctum.periodic"]["sanctum.privacy.jobs.purge_expired_exports"] == 300


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/account/data")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_export_works_for_an_account_with_a_long_history(app, monkeypatch):
    """Audit events are read in batches: more than one batch still comes out whole."""
    from sanctum import audit
    from sanctum.privacy import export as export_module

    monkeypatch.setattr(export_module, "AUDIT_BATCH", 7)
    with app.app_context():
        ursula = db.session.scalar(select(User).where(User.username == "ursula"))
        for n in range(30):
            audit.record("test.history", actor=ursula, target=ursula, details={"n": n})
        db.session.commit()
        document = export_module.build_document(ursula.id, ursula.id)
    history = [e["details"]["n"] for e in document["sections"]["audit_events"] if e["action"] == "test.history"]
    assert history == list(range(30))
    assert PASSWORD not in json.dumps(document)
