"""Does erasing an account remove the person and everything acting for them, while the audit
chain still verifies — and is it refused where it must be?"""
from __future__ import annotations

import json

import pytest
from simple_websocket import Client, ConnectionClosed
from sqlalchemy import func, select

from sanctum import audit
from sanctum.extensions import db
from sanctum.models import (
    AccountToken,
    ApiToken,
    AuditEvent,
    Invitation,
    Mail,
    User,
    UserErasure,
    UserPermission,
    UserSession,
)
from sanctum.privacy.erasure import display_label, pseudonyms_for
from sanctum.settings.service import get_setting
from tests.support.accounts import PASSWORD, AuthActions, make_user


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def erase(auth, uid, confirm):
    return auth.post(f"/admin/privacy/users/{uid}/erase", {"confirm": confirm}, page=f"/admin/privacy/users/{uid}")


@pytest.fixture
def victim(app):
    """ursula with a grant, an API token, a pending reset link and the mail carrying it."""
    with app.app_context():
        from sanctum.auth.service import request_password_reset
        from sanctum.rbac.service import grant_permission
        from sanctum.tokens.service import create_token

        admin = db.session.scalar(select(User).where(User.username == "admin"))
        ursula = db.session.scalar(select(User).where(User.username == "ursula"))
        ursula.display_name = "Ursula K."
        db.session.commit()
        grant_permission(user=ursula, permission="audit.view", expires_at=None, actor=admin)
        _row, raw = create_token(user=ursula, name="ursula's laptop", scopes=["account.manage"], expires_in_days=30)
        with app.test_request_context():
            request_password_reset("ursula@example.test")
        return {"id": ursula.id, "token": raw}


@pytest.fixture
def ursula_client(app):
    """A browser where ursula is signed in."""
    client = app.test_client()
    AuthActions(client).login("ursula")
    return client


def test_erasure_anonymises_the_account(app, auth, victim):
    auth.login("admin")
    response = erase(auth, victim["id"], "ursula")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/privacy"
    with app.app_context():
        user = db.session.get(User, victim["id"])
        assert user.username == f"deleted-{victim['id']}"
        assert user.email == f"deleted-{victim['id']}@erased.invalid"
        assert (user.display_name, user.status, user.email_verified_at) == (None, "inactive", None)
        record = db.session.scalar(select(UserErasure))
        assert (record.pseudonym, record.chats_mode, record.erased_by.username) == \
               (f"deleted-{victim['id']}", "anonymise", "admin")


def test_the_old_password_no_longer_signs_in(app, client, auth, victim):
    auth.login("admin")
    erase(auth, victim["id"], "ursula")
    auth.logout()
    for identifier in ("ursula", "ursula@example.test", f"deleted-{victim['id']}"):
        response = auth.login(identifier, PASSWORD)
        assert response.status_code == 422, identifier


def test_erasure_ends_sessions_tokens_links_and_grants(app, auth, victim, ursula_client):
    assert ursula_client.get("/account/").status_code == 200
    auth.login("admin")
    erase(auth, victim["id"], "ursula")
    response = ursula_client.get("/account/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    bearer = ursula_client.get("/api/v1/me", headers={"Authorization": f"Bearer {victim['token']}"})
    assert bearer.status_code == 401
    with app.app_context():
        uid = victim["id"]
        assert db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == uid)) == 0
        assert db.session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == uid)) == 0
        assert db.session.scalar(select(func.count()).select_from(AccountToken).where(AccountToken.user_id == uid)) == 0
        grants = db.session.scalars(select(UserPermission).where(UserPermission.user_id == uid)).all()
        assert grants and not any(g.is_active for g in grants)


def test_mail_to_the_old_address_is_anonymised(app, auth, victim):
    auth.login("admin")
    erase(auth, victim["id"], "ursula")
    with app.app_context():
        assert db.session.scalar(select(Mail.id).where(Mail.to_address == "ursula@example.test")) is None
        mail = db.session.scalar(select(Mail).where(Mail.to_address.like("deleted-%")))
        assert mail.body is None


def test_invitations_to_the_person_are_revoked_and_anonymised(app, auth, victim):
    auth.login("admin")
    auth.post("/admin/invitations", {"email": "ursula.private@example.org", "role": "user", "expires": "7"},
              page="/admin/invitations")
    with app.app_context():
        db.session.get(User, victim["id"]).email = "ursula.private@example.org"
        db.session.commit()
    erase(auth, victim["id"], "ursula")
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert invitation.status == "revoked" and invitation.email.endswith("@erased.invalid")


def test_an_unfinished_import_file_loses_the_address(app, auth, victim):
    from sanctum.models import InvitationBatch, Role

    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        batch = InvitationBatch(filename="l.csv", content="email\nother@example.org\nURSULA@example.test\n",
                                role=db.session.scalar(select(Role).where(Role.name == "user")),
                                created_by_id=admin.id, total_rows=2, counts={}, notices=[])
        db.session.add(batch)
        db.session.commit()
    auth.login("admin")
    erase(auth, victim["id"], "ursula")
    with app.app_context():
        content = db.session.scalar(select(InvitationBatch.content))
    assert "ursula" not in content.lower() and "other@example.org" in content
    assert f"deleted-{victim['id']}@erased.invalid" in content


def test_the_audit_chain_still_verifies_and_old_rows_are_kept(app, auth, victim):
    auth.login("admin")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
        first_of_ursula = db.session.scalar(select(AuditEvent).where(AuditEvent.actor_id == victim["id"])
                                            .order_by(AuditEvent.seq))
        kept_hash = first_of_ursula.hash
    erase(auth, victim["id"], "ursula")
    with app.app_context():
        report = audit.verify_chain()
        assert report.ok, report
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) > before
        assert db.session.get(AuditEvent, first_of_ursula.id).hash == kept_hash


def test_the_erasure_event_holds_no_trace_of_the_old_identity(app, auth, victim, ursula_client):
    auth.login("admin")
    erase(auth, victim["id"], "ursula")
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.erased"))
        text = json.dumps(event.details)
        assert "ursula" not in text.lower() and "Ursula K." not in text
        assert (event.actor_label, event.target_type, event.target_id) == ("admin", "user", str(victim["id"]))
        assert event.details["before"]["status"] == "active"
        assert event.details["after"]["username"] == f"deleted-{victim['id']}"
        assert event.details["summary"]["sessions_ended"] >= 1
        assert event.details["summary"]["api_credentials_deleted"] == 1


def test_old_audit_rows_show_the_pseudonym(app, auth, victim):
    auth.login("admin")
    erase(auth, victim["id"], "ursula")
    with app.app_context():
        old = db.session.scalar(select(AuditEvent).where(AuditEvent.actor_id == victim["id"]).order_by(AuditEvent.seq))
        assert old.actor_label == "ursula"  # the stored row is untouched…
        assert display_label(old.actor_id, old.actor_label) == f"deleted-{victim['id']}"  # …and shown pseudonymous
        admin_id = user_id(app, "admin")
        assert display_label(admin_id, "admin") == "admin"
        assert pseudonyms_for([admin_id, victim["id"], None]) == {victim["id"]: f"deleted-{victim['id']}"}


def test_the_cli_verifier_passes_after_an_erasure(app, runner, auth, victim):
    auth.login("admin")
    erase(auth, victim["id"], "ursula")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "audit chain intact" in result.output


def test_the_username_must_be_typed_exactly(app, auth, victim):
    auth.login("admin")
    for wrong in ("", "Ursula", "ursul"):
        response = erase(auth, victim["id"], wrong)
        assert response.status_code == 422
    assert "That is not the username of this account." in erase(auth, victim["id"], "Ursula").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, victim["id"]).username == "ursula"


def test_no_one_can_erase_their_own_account(app, auth):
    auth.login("admin")
    uid = user_id(app, "admin")
    assert "You cannot erase your own account" in auth.client.get(f"/admin/privacy/users/{uid}").get_data(as_text=True)
    response = erase(auth, uid, "admin")
    assert response.status_code == 422
    assert user_id(app, "admin") == uid


def test_the_last_administrator_cannot_be_erased(app, auth):
    """A user manager who is not an admin tries to erase the only admin."""
    with app.app_context():
        from sanctum.rbac.service import create_role

        admin = db.session.scalar(select(User).where(User.username == "admin"))
        create_role(name="manager", description="", permissions=["account.manage", "system.view", "users.manage"],
                    actor=admin)
    make_user(app, "manny", role="manager")
    auth.login("manny")
    uid = user_id(app, "admin")
    assert "last active administrator" in auth.client.get(f"/admin/privacy/users/{uid}").get_data(as_text=True)
    response = erase(auth, uid, "admin")
    assert response.status_code == 422
    assert "last active administrator" in response.get_data(as_text=True)
    assert user_id(app, "admin") == uid


def test_an_administrator_who_is_not_the_last_can_be_erased(app, auth):
    other = make_user(app, "boss2", role="admin")
    auth.login("admin")
    assert erase(auth, other, "boss2").status_code == 302


def test_an_erased_account_cannot_be_erased_again(app, auth, victim):
    auth.login("admin")
    erase(auth, victim["id"], "ursula")
    page = auth.client.get(f"/admin/privacy/users/{victim['id']}").get_data(as_text=True)
    assert "This account was erased" in page
    response = erase(auth, victim["id"], f"deleted-{victim['id']}")
    assert response.status_code == 422 and "already erased" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["mod", "ursula", "vera"])
def test_erasing_needs_users_manage(app, auth, username):
    uid = user_id(app, "vera" if username != "vera" else "mod")
    auth.login(username)
    assert erase(auth, uid, "vera").status_code == 403


def test_a_taken_pseudonym_does_not_break_erasure(app, auth, victim):
    make_user(app, f"deleted-{victim['id']}", email="squatter@example.org")
    auth.login("admin")
    assert erase(auth, victim["id"], "ursula").status_code == 302
    with app.app_context():
        assert db.session.get(User, victim["id"]).username.startswith(f"deleted-{victim['id']}-")


def test_the_chats_setting_is_recorded_and_changed_by_settings_managers_only(app, auth, victim):
    auth.login("admin")
    response = auth.post("/admin/privacy/settings", {"chats": "delete"}, page="/admin/privacy")
    assert response.status_code == 302
    with app.app_context():
        assert get_setting("erasure_chats") == "delete"
        changed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "settings.changed"))
        assert changed.details == {"before": "anonymise", "after": "delete"}
    erase(auth, victim["id"], "ursula")
    with app.app_context():
        assert db.session.scalar(select(UserErasure.chats_mode)) == "delete"
    auth.logout()
    auth.login("mod")
    assert auth.post("/admin/privacy/settings", {"chats": "anonymise"}).status_code == 403


def test_erasure_closes_the_persons_open_websockets(app, live_server, victim):
    """SECURITY.md 12: the socket closes at once, not at its next half-minute check."""
    client = app.test_client()
    AuthActions(client).login("ursula")
    cookie = f"sanctum_session={client.get_cookie('sanctum_session').value}"
    ws = Client.connect(live_server.ws_url + "/ws", headers={"Origin": "http://127.0.0.1", "Cookie": cookie})
    try:
        assert json.loads(ws.receive(timeout=5))["type"] == "hello"
        admin = AuthActions(app.test_client())
        admin.login("admin")
        assert erase(admin, victim["id"], "ursula").status_code == 302
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(5):
                ws.receive(timeout=2)
        assert closed.value.reason == 1008
    finally:
        if ws.connected:
            ws.close()
