"""Are effective permissions the role's plus live grants, and do changes bite on the next request?"""
from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import AuditEvent, User, UserPermission
from sanctum.models.base import utcnow
from sanctum.rbac import service
from sanctum.rbac.service import effective_permissions


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def grant(app, username, permission, expires_at=None):
    with app.app_context():
        return service.grant_permission(user=user(username), permission=permission, expires_at=expires_at,
                                        actor=user("admin"), reason="test").id


def test_a_role_gives_exactly_its_catalog_permissions(app):
    with app.app_context():
        assert "chat.use" in effective_permissions(user("ursula"))
        assert "users.manage" not in effective_permissions(user("ursula"))
        assert effective_permissions(user("vera")) == {"account.manage", "system.view", "agents.view", "tools.view"}


def test_a_direct_grant_adds_a_permission(app):
    grant(app, "vera", "audit.view")
    with app.app_context():
        assert "audit.view" in effective_permissions(user("vera"))


def test_an_expired_grant_stops_working_at_once(app):
    """No job has run yet: the expiry alone takes the permission away."""
    grant(app, "vera", "audit.view", expires_at=utcnow() + timedelta(hours=1))
    with time_machine.travel(utcnow() + timedelta(hours=1, seconds=1)):
        with app.app_context():
            assert "audit.view" not in effective_permissions(user("vera"))


def test_the_periodic_job_deactivates_expired_grants_and_audits_it(app):
    grant_id = grant(app, "vera", "audit.view", expires_at=utcnow() + timedelta(minutes=5))
    with time_machine.travel(utcnow() + timedelta(minutes=6)):
        with app.app_context():
            assert service.deactivate_expired_grants() == 1
            assert db.session.get(UserPermission, grant_id).is_active is False
            event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "grant.expired"))
            assert event.details["permission"] == "audit.view"


def test_the_expiry_job_is_scheduled(app):
    assert app.extensions["sanctum.periodic"]["sanctum.rbac.jobs.expire_grants"] == 60


def test_a_revoked_grant_stops_working(app):
    grant_id = grant(app, "vera", "audit.view")
    with app.app_context():
        service.revoke_grant(user=user("vera"), grant_id=grant_id, actor=user("admin"))
        assert "audit.view" not in effective_permissions(user("vera"))


def test_a_demoted_user_loses_the_privilege_on_the_next_request(app, client, auth):
    auth.login("mod")
    assert client.get("/admin/accounts").status_code == 403  # moderators cannot manage users
    with app.app_context():
        service.change_role(user=user("mod"), role=service.role_by_name("admin"), actor=user("admin"))
    assert client.get("/admin/accounts").status_code == 200  # promoted: on the very next request
    with app.app_context():
        service.change_role(user=user("mod"), role=service.role_by_name("viewer"), actor=user("admin"))
    assert client.get("/admin/accounts").status_code == 403


def test_a_privilege_change_gives_the_session_a_new_id(app, client, auth):
    """SECURITY.md 9: the cookie from before the change stops working; the browser gets a new one."""
    auth.login("ursula")
    old_cookie = client.get_cookie("sanctum_session").value
    with app.app_context():
        service.change_role(user=user("ursula"), role=service.role_by_name("moderator"), actor=user("admin"))
    assert client.get("/").status_code == 200
    assert client.get_cookie("sanctum_session").value != old_cookie
    replay = client.application.test_client()
    replay.set_cookie("sanctum_session", old_cookie)
    assert replay.get("/").status_code == 302  # the old id is dead


def test_grants_cannot_be_given_to_oneself(app):
    with app.app_context():
        try:
            service.grant_permission(user=user("admin"), permission="audit.view", expires_at=None, actor=user("admin"))
        except service.RbacError as exc:
            assert "yourself" in str(exc)
        else:
            raise AssertionError("self-grant was accepted")


def test_the_last_admin_cannot_be_demoted(app):
    with app.app_context():
        other = user("mod")
        service.change_role(user=other, role=service.role_by_name("admin"), actor=user("admin"))
        service.change_role(user=user("admin"), role=service.role_by_name("user"), actor=other)
        try:
            service.change_role(user=other, role=service.role_by_name("user"), actor=user("admin"))
        except service.RbacError as exc:
            assert "last administrator" in str(exc)
        else:
            raise AssertionError("the last admin was demoted")
