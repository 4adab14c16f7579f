"""Can an admin act on one user — status, sign-out, reset mail, sessions — safely and audited?"""
from __future__ import annotations

from sqlalchemy import select

from sanctum.auth.sessions import active_sessions
from sanctum.extensions import db
from sanctum.models import AuditEvent, Mail, User
from tests.support.accounts import AuthActions


def uid(app, username):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def status_of(app, username):
    with app.app_context():
        return db.session.scalar(select(User.status).where(User.username == username))


def last_event(app, action):
    with app.app_context():
        return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc()))


def test_the_page_shows_profile_sessions_and_recent_activity(app, client, auth):
    other = app.test_client()
    AuthActions(other).login("vera")
    auth.login("admin")
    body = client.get(f"/admin/users/{uid(app, 'vera')}").get_data(as_text=True)
    assert "vera@example.test" in body and "Sessions" in body and "auth.login_succeeded" in body


def test_deactivating_ends_the_users_sessions_at_once(app, client, auth):
    victim = app.test_client()
    AuthActions(victim).login("vera")
    assert victim.get("/account/").status_code == 200
    auth.login("admin")
    auth.post(f"/admin/users/{uid(app, 'vera')}/status/deactivate", page=f"/admin/users/{uid(app, 'vera')}")
    assert status_of(app, "vera") == "inactive"
    assert victim.get("/account/").status_code == 302
    event = last_event(app, "user.deactivated")
    assert event.details["before"] == {"status": "active"} and event.details["sessions_ended"] == 1
    auth.post(f"/admin/users/{uid(app, 'vera')}/status/activate", page=f"/admin/users/{uid(app, 'vera')}")
    assert status_of(app, "vera") == "active"


def test_locking_and_unlocking_an_account(app, client, auth):
    auth.login("admin")
    vera = uid(app, "vera")
    auth.post(f"/admin/users/{vera}/status/lock", page=f"/admin/users/{vera}")
    assert status_of(app, "vera") == "locked"
    assert AuthActions(app.test_client()).login("vera").status_code == 422
    auth.post(f"/admin/users/{vera}/status/unlock", page=f"/admin/users/{vera}")
    assert status_of(app, "vera") == "active"


def test_an_admin_cannot_deactivate_themselves(app, client, auth):
    auth.login("admin")
    me = uid(app, "admin")
    response = auth.post(f"/admin/users/{me}/status/deactivate", page=f"/admin/users/{me}", follow_redirects=True)
    assert "cannot deactivate your own account" in response.get_data(as_text=True)
    assert status_of(app, "admin") == "active"


def test_the_last_admin_cannot_be_locked_by_another_path(app):
    from sanctum.users import service

    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        mod = db.session.scalar(select(User).where(User.username == "mod"))
        try:
            service.change_status(user=admin, action="lock", actor=mod)
        except service.UserAdminError as exc:
            assert "last active administrator" in str(exc)
        else:
            raise AssertionError("the last admin was locked")


def test_an_unknown_status_action_is_404(app, client, auth):
    auth.login("admin")
    vera = uid(app, "vera")
    assert auth.post(f"/admin/users/{vera}/status/explode", page=f"/admin/users/{vera}").status_code == 404


def test_force_sign_out_ends_every_session(app, client, auth):
    for _ in range(2):
        AuthActions(app.test_client()).login("ursula")
    auth.login("admin")
    ursula = uid(app, "ursula")
    response = auth.post(f"/admin/users/{ursula}/sign-out", page=f"/admin/users/{ursula}", follow_redirects=True)
    assert "2 session(s) ended" in response.get_data(as_text=True)
    with app.app_context():
        assert active_sessions(ursula) == []


def test_sending_a_reset_mail(app, client, auth):
    auth.login("admin")
    vera = uid(app, "vera")
    auth.post(f"/admin/users/{vera}/password-reset", page=f"/admin/users/{vera}")
    with app.app_context():
        mail = db.session.scalar(select(Mail).order_by(Mail.id.desc()))
        assert mail.to_address == "vera@example.test" and "/reset?token=" in mail.body


def test_approving_a_pending_sign_up(app, client, auth):
    from tests.support.accounts import make_user

    pending = make_user(app, "newcomer", status="pending")
    auth.login("admin")
    auth.post(f"/admin/users/{pending}/approve", page=f"/admin/users/{pending}")
    assert status_of(app, "newcomer") == "active"


def test_revoking_one_session_of_a_user(app, client, auth):
    AuthActions(app.test_client()).login("vera")
    auth.login("admin")
    vera = uid(app, "vera")
    with app.app_context():
        session_id = active_sessions(vera)[0].id
    auth.post(f"/admin/users/{vera}/sessions/{session_id}/revoke", page=f"/admin/users/{vera}")
    with app.app_context():
        assert active_sessions(vera) == []
    # a session id of another user is not found through this user
    with app.app_context():
        admins = active_sessions(uid(app, "admin"))
    assert auth.post(f"/admin/users/{vera}/sessions/{admins[0].id}/revoke", page=f"/admin/users/{vera}").status_code == 404


def test_editing_the_display_name_is_audited(app, client, auth):
    auth.login("admin")
    vera = uid(app, "vera")
    auth.post(f"/admin/users/{vera}/profile", {"display_name": "Vera V."}, page=f"/admin/users/{vera}")
    event = last_event(app, "user.updated")
    assert event.details == {"before": {"display_name": None}, "after": {"display_name": "Vera V."}}


def test_an_unknown_user_is_404(client, auth):
    auth.login("admin")
    assert client.get("/admin/users/99999").status_code == 404
