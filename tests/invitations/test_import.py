"""Does a CSV import invite whoever it should, report every row, and cope with the files
people actually have?"""
from __future__ import annotations

import csv
import io
import time

import pytest
from sqlalchemy import func, select

from sanctum import audit
from sanctum.extensions import db
from sanctum.invitations import importer
from sanctum.models import AuditEvent, Invitation, InvitationBatch, InvitationBatchRow, Mail, Role, User
from tests.support.accounts import make_user

PAGE = "/admin/invitations"
IMPORT = "/admin/invitations/import"


def upload(auth, data: bytes, filename="people.csv", role="user", expires="7", note=""):
    return auth.post(IMPORT, {"file": (io.BytesIO(data), filename), "role": role, "expires": expires,
                              "note": note}, page=PAGE)


def run(app, auth, wait_for_job, data: bytes, timeout=90, **options) -> int:
    """Upload, wait for the import job, return the batch id."""
    response = upload(auth, data, **options)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    batch_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        job_id = db.session.get(InvitationBatch, batch_id).job_id
    record = wait_for_job(job_id, timeout=timeout)
    assert record.status == "succeeded", record.error
    return batch_id


def report(app, batch_id) -> list[tuple[int, str, str, str]]:
    with app.app_context():
        return [(r.line, r.email, r.outcome, r.detail or "") for r in db.session.scalars(
            select(InvitationBatchRow).where(InvitationBatchRow.batch_id == batch_id).order_by(InvitationBatchRow.line))]


def batch(app, batch_id) -> InvitationBatch:
    with app.app_context():
        row = db.session.get(InvitationBatch, batch_id)
        db.session.expunge(row)
        return row


@pytest.fixture
def admin(auth):
    auth.login("admin")
    return auth


def test_a_file_with_a_byte_order_mark_and_a_header_is_read(app, admin, wait_for_job):
    data = "\ufeffEmail,Role,Note\nada@example.org,viewer,from the BOM file\n".encode("utf-8")
    batch_id = run(app, admin, wait_for_job, data)
    assert report(app, batch_id) == [(2, "ada@example.org", "created", "")]
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert (invitation.email, invitation.role.name, invitation.note, invitation.batch_id) == \
               ("ada@example.org", "viewer", "from the BOM file", batch_id)
        assert db.session.scalar(select(Mail.to_address)) == "ada@example.org"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolons_and_tabs_separate_columns_too(app, admin, wait_for_job, delimiter):
    data = delimiter.join(["email", "role", "note"]) + "\n" + \
        delimiter.join(["bo@example.org", "viewer", "hello, world"]) + "\n"
    batch_id = run(app, admin, wait_for_job, data.encode())
    assert report(app, batch_id) == [(2, "bo@example.org", "created", "")]
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert (invitation.role.name, invitation.note) == ("viewer", "hello, world")
    assert any("separated by" in n for n in batch(app, batch_id).notices)


def test_a_file_without_a_header_is_read_as_email_role_note(app, admin, wait_for_job):
    batch_id = run(app, admin, wait_for_job, b"one@example.org\ntwo@example.org,viewer\n")
    assert [r[2] for r in report(app, batch_id)] == ["created", "created"]
    assert "no header row" in " ".join(batch(app, batch_id).notices)


def test_bad_addresses_are_reported_invalid_and_the_rest_invited(app, admin, wait_for_job):
    data = b"email\ngood@example.org\nnot-an-address\n@example.org\n,\nspace in@example.org\nok2@example.org\n"
    batch_id = run(app, admin, wait_for_job, data)
    rows = report(app, batch_id)
    assert [(r[0], r[2]) for r in rows] == [(2, "created"), (3, "invalid"), (4, "invalid"), (6, "invalid"),
                                            (7, "created")]
    assert rows[1][3] == "Not a valid email address."
    assert batch(app, batch_id).counts == {"created": 2, "invalid": 3, "duplicate": 0, "already_user": 0}


def test_an_empty_email_cell_next_to_other_cells_is_invalid(app, admin, wait_for_job):
    batch_id = run(app, admin, wait_for_job, b"email,role\n,viewer\n")
    assert report(app, batch_id) == [(2, "", "invalid", "No email address.")]


def test_duplicates_within_the_file_are_reported(app, admin, wait_for_job):
    data = b"email\nsame@example.org\nother@example.org\nSAME@Example.org\n"
    batch_id = run(app, admin, wait_for_job, data)
    assert report(app, batch_id) == [(2, "same@example.org", "created", ""),
                                     (3, "other@example.org", "created", ""),
                                     (4, "same@example.org", "duplicate", "Appears earlier in the file.")]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 2


def test_existing_accounts_and_pending_invitations_are_reported(app, admin, wait_for_job):
    make_user(app, "member", email="member@example.org")
    admin.post(PAGE, {"email": "pending@example.org", "role": "user", "expires": "7"}, page=PAGE)
    data = b"email\nmember@example.org\npending@example.org\nfresh@example.org\n"
    batch_id = run(app, admin, wait_for_job, data)
    assert report(app, batch_id) == [
        (2, "member@example.org", "already_user", "An account already uses this address."),
        (3, "pending@example.org", "duplicate", "Already has a pending invitation."),
        (4, "fresh@example.org", "created", ""),
    ]


def test_a_role_column_is_checked_row_by_row(app, admin, wait_for_job):
    data = b"email,role\na@example.org,\nb@example.org,viewer\nc@example.org,emperor\nd@example.org,admin\n"
    batch_id = run(app, admin, wait_for_job, data, role="viewer")
    rows = report(app, batch_id)
    assert [r[2] for r in rows] == ["created", "created", "invalid", "created"]
    assert "There is no role called “emperor”." in rows[2][3]
    with app.app_context():
        roles = dict(db.session.execute(select(Invitation.email, Role.name).join(Role)).all())
    assert roles == {"a@example.org": "viewer", "b@example.org": "viewer", "d@example.org": "admin"}


def test_extra_columns_are_ignored_and_said_so(app, admin, wait_for_job):
    data = b"name,email,phone\nAda,ada@example.org,555\n"
    batch_id = run(app, admin, wait_for_job, data)
    assert report(app, batch_id) == [(2, "ada@example.org", "created", "")]
    assert "Ignored columns: name, phone." in batch(app, batch_id).notices


def test_a_row_with_more_cells_than_the_header_is_invalid(app, admin, wait_for_job):
    data = b"email,role\nx@example.org,user,stray,cells\ny@example.org,user\n"
    batch_id = run(app, admin, wait_for_job, data)
    rows = report(app, batch_id)
    assert rows[0][2] == "invalid" and "has 4 cells where 2 are expected" in rows[0][3]
    assert rows[1][2] == "created"


def test_a_row_with_fewer_cells_uses_the_defaults(app, admin, wait_for_job):
    batch_id = run(app, admin, wait_for_job, b"email,role,note\nshort@example.org\n", role="viewer", note="batch")
    assert report(app, batch_id)[0][2] == "created"
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert (invitation.role.name, invitation.note) == ("viewer", "batch")


def test_a_header_without_an_email_column_is_refused_at_once(app, admin):
    response = upload(admin, b"name,phone\nAda,555\n")
    assert response.status_code == 422
    assert "none of them is “email”" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(InvitationBatch.id)) is None


@pytest.mark.parametrize("data,filename,message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "photo.png", "Upload a .csv file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "photo.csv", "contains binary data"),
    (b"PK\x03\x04" + bytes(100), "book.csv", "spreadsheet workbook"),
    ("email\nrené@exämple.org\n".encode("latin-1"), "latin.csv", "not UTF-8 text"),
    (b"", "empty.csv", "The file is empty."),
    (b"   \n\n", "blank.csv", "The file is empty."),
    (b"email\n", "header-only.csv", "no addresses under it"),
])
def test_a_file_that_is_not_a_usable_csv_is_a_clear_form_error(app, admin, data, filename, message):
    response = upload(admin, data, filename=filename)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(InvitationBatch.id)) is None


def test_an_oversized_upload_gets_413(app, admin):
    data = b"email\n" + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1024)
    response = upload(admin, data)
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_no_file_at_all_is_a_form_error(admin):
    response = admin.post(IMPORT, {"role": "user", "expires": "7"}, page=PAGE)
    assert response.status_code == 422
    assert "Choose a file." in response.get_data(as_text=True)


def test_more_rows_than_allowed_are_refused_before_anything_is_sent(app, admin):
    app.config["INVITATION_IMPORT_MAX_ROWS"] = 3
    response = upload(admin, b"email\na@x.org\nb@x.org\nc@x.org\nd@x.org\n")
    assert response.status_code == 422
    assert "The file has 4 rows; import at most 3 at a time." in response.get_data(as_text=True)


def test_ten_thousand_rows_are_all_invited_by_the_job(app, admin, wait_for_job):
    lines = ["email,role"] + [f"person{n:05d}@example.org,{'viewer' if n % 2 else 'user'}" for n in range(10_000)]
    started = time.monotonic()
    batch_id = run(app, admin, wait_for_job, ("\n".join(lines) + "\n").encode(), timeout=110)
    elapsed = time.monotonic() - started
    print(f"10,000-row import: {elapsed:.1f} s")
    done = batch(app, batch_id)
    assert (done.status, done.processed_rows, done.total_rows) == ("finished", 10_000, 10_000)
    assert done.counts["created"] == 10_000
    assert done.content is None  # the file does not outlive the import
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 10_000
        assert db.session.scalar(select(func.count()).select_from(Mail)) == 10_000
        logged = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.created")).all()
        assert sum(len(event.details["after"]) for event in logged) == 10_000  # every one, a chunk per event
        assert audit.verify_chain().ok


def test_the_progress_widget_polls_until_the_import_is_done_then_stops_with_286(app, admin):
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.username == "admin"))
        role = db.session.scalar(select(Role).where(Role.name == "user"))
        row = InvitationBatch(filename="queued.csv", content="email\nw@example.org\n", role=role, valid_days=7,
                              created_by_id=owner.id, total_rows=1, counts={}, notices=[])
        db.session.add(row)
        db.session.commit()
        batch_id = row.id
    poll = {"HX-Request": "true", "HX-Trigger": "batch-progress"}
    waiting = admin.client.get(f"{PAGE}/imports/{batch_id}", headers=poll)
    assert waiting.status_code == 200
    assert 'hx-trigger="every 1s"' in waiting.get_data(as_text=True)
    with app.app_context():
        importer.run_import(batch_id)
    finished = admin.client.get(f"{PAGE}/imports/{batch_id}", headers=poll)
    body = finished.get_data(as_text=True)
    assert finished.status_code == 286
    assert "hx-trigger" not in body and "w@example.org" in body
    assert admin.client.get(f"{PAGE}/imports/{batch_id}").status_code == 200  # the page itself


def test_the_report_can_be_filtered_by_outcome(app, admin, wait_for_job):
    batch_id = run(app, admin, wait_for_job, b"email\nok@example.org\nbroken\n")
    body = admin.client.get(f"{PAGE}/imports/{batch_id}?outcome=invalid").get_data(as_text=True)
    assert "<td>broken</td>" in body and "<td>ok@example.org</td>" not in body


def test_the_report_downloads_as_csv_with_formulas_neutralised(app, admin, wait_for_job):
    batch_id = run(app, admin, wait_for_job, b"email\n=cmd@example.org\n+sum\n")
    response = admin.client.get(f"{PAGE}/imports/{batch_id}/report.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["line", "email", "outcome", "detail"]
    assert rows[1][:3] == ["2", "'=cmd@example.org", "created"]
    assert rows[2][:3] == ["3", "'+sum", "invalid"]


def test_a_retried_import_resumes_without_inviting_anyone_twice(app, monkeypatch):
    """A worker dying mid-import: the retry carries on after the last committed chunk."""
    monkeypatch.setattr(importer, "CHUNK", 2)
    real_chunk, calls = importer._import_chunk, []

    def dies_on_second_chunk(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_chunk(*args)

    with app.app_context():
        owner = db.session.scalar(select(User).where(User.username == "admin"))
        role = db.session.scalar(select(Role).where(Role.name == "user"))
        content = "email\n" + "".join(f"r{n}@example.org\n" for n in range(5))
        row = InvitationBatch(filename="r.csv", content=content, role=role, valid_days=7, created_by_id=owner.id,
                              total_rows=5, counts={}, notices=[])
        db.session.add(row)
        db.session.commit()
        batch_id = row.id
        monkeypatch.setattr(importer, "_import_chunk", dies_on_second_chunk)
        with pytest.raises(RuntimeError):
            importer.run_import(batch_id)
        db.session.rollback()
        assert db.session.get(InvitationBatch, batch_id).processed_rows == 2
        importer.run_import(batch_id)
        importer.run_import(batch_id)  # a duplicate delivery of the finished job does nothing
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 5
        assert db.session.scalar(select(func.count()).select_from(InvitationBatchRow)) == 5
        assert db.session.get(InvitationBatch, batch_id).status == "finished"


def test_an_import_is_audited_from_start_to_finish(app, admin, wait_for_job):
    batch_id = run(app, admin, wait_for_job, b"email\nfine@example.org\nnope\n")
    with app.app_context():
        started = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invitation.import_started"))
        finished = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invitation.import_finished"))
    assert started.details == {"filename": "people.csv", "rows": 2, "role": "user", "valid_days": 7}
    assert (started.target_type, started.target_id) == ("invitationbatch", str(batch_id))
    assert finished.details["counts"] == {"created": 1, "invalid": 1, "duplicate": 0, "already_user": 0}


def test_an_import_started_by_someone_who_lost_the_permission_invites_no_one(app):
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.username == "ursula"))
        role = db.session.scalar(select(Role).where(Role.name == "user"))
        row = InvitationBatch(filename="x.csv", content="email\nz@example.org\n", role=role, valid_days=7,
                              created_by_id=owner.id, total_rows=1, counts={}, notices=[])
        db.session.add(row)
        db.session.commit()
        importer.run_import(row.id)
        done = db.session.get(InvitationBatch, row.id)
        assert done.status == "failed" and "may no longer invite" in done.error
        assert db.session.scalar(select(Invitation.id)) is None


@pytest.mark.parametrize("username", ["mod", "ursula", "vera"])
def test_only_inviters_may_import_or_read_reports(app, auth, username):
    auth.login(username)
    assert upload(auth, b"email\na@example.org\n").status_code == 403
    assert auth.client.get(f"{PAGE}/imports/1").status_code == 403
    assert auth.client.get(f"{PAGE}/imports/1/report.csv").status_code == 403
