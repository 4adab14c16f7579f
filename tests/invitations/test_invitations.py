"""Can an admin invite someone, list, resend and revoke invitations — each audited, and only
with the invitations permission?"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from sanctum.extensions import db
from sanctum.models import AuditEvent, Invitation, Role, User
from sanctum.models.base import utcnow
from tests.support.accounts import make_user
from tests.support.mail import last_link, mails_to, token_of

PAGE = "/admin/invitations"


def invite(auth, email, role="user", expires="7", note=""):
    return auth.post(PAGE, {"email": email, "role": role, "expires": expires, "note": note}, page=PAGE)


def invitation(app, email) -> Invitation:
    with app.app_context():
        row = db.session.scalar(select(Invitation).where(Invitation.email == email).order_by(Invitation.id.desc()))
        db.session.expunge(row)
        return row


def events(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.seq)).all()


def test_an_admin_invites_someone_and_the_mail_carries_a_single_use_link(app, client, auth):
    auth.login("admin")
    response = invite(auth, "Newcomer@Example.org", note="pilot group")
    assert response.status_code == 302
    row = invitation(app, "newcomer@example.org")
    assert (row.status, row.role.name, row.note, row.valid_days) == ("pending", "user", "pilot group", 7)
    assert timedelta(days=6, hours=23) < row.expires_at - row.created_at <= timedelta(days=7)
    link = last_link(app, "newcomer@example.org")
    assert link.startswith("http://127.0.0.1:5000/invitations/accept?token=")
    token = token_of(link)
    assert token not in link.split("?")[0]  # never in the path: access logs keep paths
    assert row.token_hash != token and len(row.token_hash) == 64
    assert "pilot group" not in mails_to(app, "newcomer@example.org")[-1].body  # the note is for admins


def test_creating_an_invitation_is_audited_with_its_facts(app, client, auth):
    auth.login("admin")
    invite(auth, "audited@example.org", role="viewer")
    (created,) = events(app, "invitation.created")
    assert created.actor_label == "admin"
    assert created.details["after"]["email"] == "audited@example.org"
    assert created.details["after"]["role"] == "viewer"
    assert created.details["after"]["status"] == "pending"


@pytest.mark.parametrize("username", ["mod", "ursula", "vera"])
def test_people_without_the_permission_cannot_invite(app, client, auth, username):
    auth.login(username)
    assert client.get(PAGE).status_code == 403
    response = auth.post(PAGE, {"email": "x@example.org", "role": "user", "expires": "7"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Invitation.id)) is None


def test_a_bad_address_is_a_form_error(client, auth):
    auth.login("admin")
    response = invite(auth, "not-an-address")
    assert response.status_code == 422
    assert "not a valid email address" in response.get_data(as_text=True)


def test_an_address_with_an_account_is_refused(app, client, auth):
    make_user(app, "existing", email="existing@example.org")
    auth.login("admin")
    response = invite(auth, "Existing@example.org")
    assert response.status_code == 422
    assert "An account already uses that address." in response.get_data(as_text=True)


def test_a_second_pending_invitation_to_one_address_is_refused(app, client, auth):
    auth.login("admin")
    invite(auth, "twice@example.org")
    response = invite(auth, "TWICE@example.org")
    assert response.status_code == 422
    assert "already has a pending invitation" in response.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.scalars(select(Invitation)).all()) == 1


def test_an_expired_invitation_does_not_block_a_new_one(app, client, auth):
    auth.login("admin")
    invite(auth, "again@example.org")
    with app.app_context():
        row = db.session.scalar(select(Invitation))
        row.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert invite(auth, "again@example.org").status_code == 302
    with app.app_context():
        statuses = sorted(r.status for r in db.session.scalars(select(Invitation)))
    assert statuses == ["expired", "pending"]


def test_an_inviter_cannot_hand_out_a_role_stronger_than_their_own(app, client, auth):
    """invitations.manage alone must not be a way to mint administrators."""
    with app.app_context():
        from sanctum.rbac.service import create_role

        admin = db.session.scalar(select(User).where(User.username == "admin"))
        create_role(name="inviter", description="", permissions=["account.manage", "invitations.manage",
                                                                  "system.view"], actor=admin)
        inviter = db.session.scalar(select(User).where(User.username == "ursula"))
        inviter.role = db.session.scalar(select(Role).where(Role.name == "inviter"))
        db.session.commit()
    auth.login("ursula")
    page = client.get(PAGE).get_data(as_text=True)
    assert '<option value="admin"' not in page and '<option value="viewer"' not in page
    response = invite(auth, "escalate@example.org", role="admin")
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Invitation.id)) is None


def test_the_list_filters_by_status(app, client, auth):
    auth.login("admin")
    for email in ("p@example.org", "r@example.org", "e@example.org"):
        invite(auth, email)
    with app.app_context():
        rows = {r.email: r for r in db.session.scalars(select(Invitation))}
        rows["r@example.org"].status = "revoked"
        rows["e@example.org"].expires_at = utcnow() - timedelta(hours=1)  # not yet marked by the job
        db.session.commit()

    def listed(status):
        body = client.get(f"{PAGE}?status={status}", headers={"HX-Request": "true"}).get_data(as_text=True)
        return {e for e in ("p@example.org", "r@example.org", "e@example.org") if f"<td>{e}" in body}
    assert listed("pending") == {"p@example.org"}
    assert listed("revoked") == {"r@example.org"}
    assert listed("expired") == {"e@example.org"}
    assert listed("accepted") == set()
    assert listed("") == {"p@example.org", "r@example.org", "e@example.org"}


def test_the_list_searches_by_email_and_answers_htmx_with_the_partial(client, auth):
    auth.login("admin")
    invite(auth, "alpha@example.org")
    invite(auth, "beta@example.org")
    response = client.get(f"{PAGE}?q=alph", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.startswith('<div id="invitation-list">')
    assert "<td>alpha@example.org" in body and "<td>beta@example.org" not in body
    assert response.headers["Vary"] == "HX-Request" or "HX-Request" in response.headers["Vary"]


def test_a_search_for_percent_signs_matches_literally(client, auth):
    auth.login("admin")
    invite(auth, "plain@example.org")
    body = client.get(f"{PAGE}?q=%25", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<td>plain@example.org" not in body


def test_resending_issues_a_new_link_and_kills_the_old_one(app, client, auth):
    auth.login("admin")
    invite(auth, "resend@example.org")
    old = token_of(last_link(app, "resend@example.org"))
    row = invitation(app, "resend@example.org")
    response = auth.post(f"{PAGE}/{row.id}/resend", {"next": f"{PAGE}?status=pending"}, page=PAGE)
    assert response.status_code == 302 and response.headers["Location"] == f"{PAGE}?status=pending"
    new = token_of(last_link(app, "resend@example.org"))
    assert new != old
    auth.logout()  # the accept page is for people who are not signed in
    assert client.get(f"/invitations/accept?token={old}").status_code == 422
    assert "Join Sanctum" in client.get(f"/invitations/accept?token={new}").get_data(as_text=True)
    (resent,) = events(app, "invitation.resent")
    assert resent.details["before"]["send_count"] == 1 and resent.details["after"]["send_count"] == 2


def test_resending_an_expired_invitation_revives_it(app, client, auth):
    auth.login("admin")
    invite(auth, "late@example.org")
    with app.app_context():
        row = db.session.scalar(select(Invitation))
        row.status, row.expires_at = "expired", utcnow() - timedelta(days=1)
        db.session.commit()
        invitation_id = row.id
    auth.post(f"{PAGE}/{invitation_id}/resend", page=PAGE)
    row = invitation(app, "late@example.org")
    assert row.status == "pending" and row.expires_at > utcnow() + timedelta(days=6)


def test_revoking_kills_the_link_and_is_audited(app, client, auth):
    auth.login("admin")
    invite(auth, "revoke@example.org")
    token = token_of(last_link(app, "revoke@example.org"))
    row = invitation(app, "revoke@example.org")
    assert auth.post(f"{PAGE}/{row.id}/revoke", page=PAGE).status_code == 302
    assert invitation(app, "revoke@example.org").status == "revoked"
    (revoked,) = events(app, "invitation.revoked")
    assert revoked.details == {"email": "revoke@example.org", "before": {"status": "pending"},
                               "after": {"status": "revoked"}}
    auth.logout()
    assert "expired, was revoked" in client.get(f"/invitations/accept?token={token}").get_data(as_text=True)


def test_a_revoked_invitation_cannot_be_resent_or_revoked_again(app, client, auth):
    auth.login("admin")
    invite(auth, "final@example.org")
    row = invitation(app, "final@example.org")
    auth.post(f"{PAGE}/{row.id}/revoke", page=PAGE)
    page = auth.post(f"{PAGE}/{row.id}/resend", page=PAGE, follow_redirects=True).get_data(as_text=True)
    assert "it cannot be sent again" in page
    page = auth.post(f"{PAGE}/{row.id}/revoke", page=PAGE, follow_redirects=True).get_data(as_text=True)
    assert "already revoked" in page
    assert len(mails_to(app, "final@example.org")) == 1


def test_an_unknown_invitation_id_is_404(client, auth):
    auth.login("admin")
    assert auth.post(f"{PAGE}/999/revoke", page=PAGE).status_code == 404


def test_the_next_field_cannot_send_the_admin_elsewhere(app, client, auth):
    auth.login("admin")
    invite(auth, "nx@example.org")
    row = invitation(app, "nx@example.org")
    response = auth.post(f"{PAGE}/{row.id}/revoke", {"next": "https://evil.example/"}, page=PAGE)
    assert response.headers["Location"] == PAGE


def test_the_list_page_runs_a_bounded_number_of_queries(app, client, auth):
    """No N+1: 60 invitations from 3 inviters cost what 1 does."""
    make_user(app, "boss2", role="admin")
    auth.login("admin")
    with app.app_context():
        role = db.session.scalar(select(Role).where(Role.name == "user"))
        inviters = db.session.scalars(select(User).where(User.username.in_(["admin", "boss2"]))).all()
        for n in range(60):
            db.session.add(Invitation(email=f"n{n}@example.org", role=role, token_hash=f"{n:064d}",
                                      invited_by_id=inviters[n % 2].id, expires_at=utcnow() + timedelta(days=1)))
        db.session.commit()
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(PAGE)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200
    assert len(re.findall(r'id="invitation-\d+"', response.get_data(as_text=True))) == 50
    print(len(statements), "statements")
    assert len(statements) <= 14, statements
