"""Accounts needing an admin: approval of sign-ups, unlocking, revoking sessions (SECURITY.md 6, 13, 23)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from sanctum.auth import service
from sanctum.extensions import db
from sanctum.models import LoginThrottle, User
from tests.support.accounts import AuthActions, audit_events, can_sign_in, csrf_token, make_user, signed_in_user


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def status_of(app, username):
    with app.app_context():
        return db.session.scalar(select(User.status).where(User.username == username))


def act(client, path):
    return client.post(path, data={"csrf_token": csrf_token(client, "/account/")})


@pytest.fixture
def admin(client, auth):
    auth.login("admin")
    return client


def lock_out(app, username="ursula"):
    for n in range(5):
        client = app.test_client()
        token = csrf_token(client)
        client.post("/login", data={"identifier": username, "password": "wrong wrong wrong wrong", "csrf_token": token},
                    environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"})


def test_the_page_lists_pending_sign_ups_and_locked_accounts(app, clock, admin):
    make_user(app, "penny", status="pending")
    lock_out(app, "ursula")
    body = admin.get("/admin/accounts").get_data(as_text=True)
    assert f'id="user-{user_id(app, "penny")}"' in body
    assert f'id="locked-user-{user_id(app, "ursula")}"' in body
    assert "Approve penny" in body and "Unlock ursula" in body


@pytest.mark.parametrize("username", ["mod", "ursula", "vera"])
def test_only_admins_see_the_page(app, client, auth, username):
    auth.login(username)
    assert client.get("/admin/accounts").status_code == 403


def test_an_admin_approves_a_pending_account_which_can_then_sign_in(app, admin):
    make_user(app, "penny", status="pending")
    assert not can_sign_in(app, "penny")
    response = act(admin, f"/admin/accounts/{user_id(app, 'penny')}/approve")
    assert response.status_code == 302
    assert status_of(app, "penny") == "active" and can_sign_in(app, "penny")
    [event] = audit_events(app, "user.approved")
    assert event.actor_label == "admin" and event.details == {"before": "pending", "after": "active"}


def test_an_account_that_is_not_pending_cannot_be_approved(app, admin):
    make_user(app, "sam", status="inactive")
    response = act(admin, f"/admin/accounts/{user_id(app, 'sam')}/approve")
    assert response.status_code == 302
    assert status_of(app, "sam") == "inactive"
    assert "Only accounts waiting for approval" in admin.get("/admin/accounts").get_data(as_text=True)


def test_an_admin_rejects_a_pending_sign_up(app, admin):
    make_user(app, "spam", status="pending")
    spam_id = user_id(app, "spam")
    act(admin, f"/admin/accounts/{spam_id}/reject")
    assert user_id(app, "spam") is None
    [event] = audit_events(app, "user.rejected")
    assert event.target_id == str(spam_id) and event.details["username"] == "spam"


def test_a_moderator_cannot_approve(app, client, auth):
    make_user(app, "penny", status="pending")
    auth.login("mod")
    assert act(client, f"/admin/accounts/{user_id(app, 'penny')}/approve").status_code == 403
    assert status_of(app, "penny") == "pending"


def test_approving_without_the_csrf_token_is_refused(app, admin):
    make_user(app, "penny", status="pending")
    assert admin.post(f"/admin/accounts/{user_id(app, 'penny')}/approve").status_code == 400
    assert status_of(app, "penny") == "pending"


def test_an_unknown_account_is_not_found(admin):
    assert act(admin, "/admin/accounts/9999/approve").status_code == 404


def test_an_admin_unlocks_a_locked_out_account_at_once(app, clock, admin):
    lock_out(app, "ursula")
    assert not can_sign_in(app, "ursula")
    act(admin, f"/admin/accounts/{user_id(app, 'ursula')}/unlock")
    assert can_sign_in(app, "ursula")
    [event] = audit_events(app, "user.unlocked")
    assert event.actor_label == "admin" and event.target_id == str(user_id(app, "ursula"))


def test_unlocking_forgets_the_failures_and_the_growing_wait(app, clock, admin):
    lock_out(app, "ursula")
    act(admin, f"/admin/accounts/{user_id(app, 'ursula')}/unlock")
    with app.app_context():
        assert db.session.get(LoginThrottle, f"user:{user_id(app, 'ursula')}") is None
        user = db.session.get(User, user_id(app, "ursula"))
        assert (user.failed_login_attempts, user.locked_until) == (0, None)


def test_an_admin_ends_all_of_one_users_sessions(app):
    laptop, phone = app.test_client(), app.test_client()
    AuthActions(laptop).login("ursula")
    AuthActions(phone).login("ursula")
    with app.app_context():
        ursula = db.session.get(User, user_id(app, "ursula"))
        admin = db.session.get(User, user_id(app, "admin"))
        assert service.revoke_other_sessions(user=ursula, actor=admin, reason="revoked_by_admin") == 2
    assert signed_in_user(laptop) is None and signed_in_user(phone) is None
    [event] = audit_events(app, "session.revoked_all")
    assert event.actor_label == "admin" and event.details["reason"] == "revoked_by_admin"


def test_an_admin_ends_everyones_sessions(app):
    clients = {name: app.test_client() for name in ("admin", "mod", "ursula")}
    for name, client in clients.items():
        AuthActions(client).login(name)
    with app.app_context():
        admin = db.session.get(User, user_id(app, "admin"))
        assert service.revoke_everyones_sessions(actor=admin) == 3
    assert all(signed_in_user(client) is None for client in clients.values())
    [event] = audit_events(app, "session.revoked_everyone")
    assert event.actor_label == "admin" and event.details == {"count": 3}
