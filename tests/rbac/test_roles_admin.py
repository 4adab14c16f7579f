"""Can an admin manage roles and one user's grants from the browser, with every change audited?"""
from __future__ import annotations

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import AuditEvent, Role, User


def last_event(app, action):
    with app.app_context():
        return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc()))


def role_id(app, name):
    with app.app_context():
        return db.session.scalar(select(Role.id).where(Role.name == name))


def user_id(app, name):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == name))


def test_roles_page_lists_builtins_with_holders(client, auth):
    auth.login("admin")
    body = client.get("/admin/roles").get_data(as_text=True)
    for name in ("admin", "moderator", "user", "viewer"):
        assert f"<strong>{name}</strong>" in body


def test_an_admin_creates_a_custom_role_and_it_is_audited(app, client, auth):
    auth.login("admin")
    response = auth.post("/admin/roles/new", {"name": "auditor", "description": "Reads the log",
                                              "permissions": ["audit.view", "system.view", "account.manage"]})
    assert response.status_code == 302
    with app.app_context():
        role = db.session.scalar(select(Role).where(Role.name == "auditor"))
        assert sorted(p.name for p in role.permissions) == ["account.manage", "audit.view", "system.view"]
    event = last_event(app, "role.created")
    assert event.details["after"]["permissions"] == ["account.manage", "audit.view", "system.view"]


def test_a_bad_role_name_is_a_form_error_not_a_crash(client, auth):
    auth.login("admin")
    response = auth.post("/admin/roles/new", {"name": "Bad Name!", "permissions": ["audit.view"]})
    assert response.status_code == 422
    assert "Lower-case letters" in response.get_data(as_text=True)


def test_a_duplicate_role_name_is_refused(client, auth):
    auth.login("admin")
    response = auth.post("/admin/roles/new", {"name": "moderator", "permissions": ["audit.view"]})
    assert response.status_code == 422
    assert "exists" in response.get_data(as_text=True)


def test_editing_a_role_records_before_and_after(app, client, auth):
    auth.login("admin")
    auth.post("/admin/roles/new", {"name": "helper", "permissions": ["system.view"]})
    rid = role_id(app, "helper")
    auth.post(f"/admin/roles/{rid}", {"name": "helper", "description": "now more",
                                     "permissions": ["system.view", "users.view"]})
    event = last_event(app, "role.updated")
    assert event.details["before"]["permissions"] == ["system.view"]
    assert event.details["after"]["permissions"] == ["system.view", "users.view"]


def test_builtin_roles_cannot_be_changed_or_deleted(app, client, auth):
    auth.login("admin")
    rid = role_id(app, "viewer")
    auth.post(f"/admin/roles/{rid}", {"name": "viewer", "permissions": ["users.manage"]})
    auth.post(f"/admin/roles/{rid}/delete")
    with app.app_context():
        role = db.session.get(Role, rid)
        assert role is not None and "users.manage" not in [p.name for p in role.permissions]


def test_a_role_in_use_cannot_be_deleted_until_unassigned(app, client, auth):
    auth.login("admin")
    auth.post("/admin/roles/new", {"name": "temp", "permissions": ["system.view"]})
    rid = role_id(app, "temp")
    auth.post(f"/admin/users/{user_id(app, 'vera')}/role", {"role": rid})
    response = auth.post(f"/admin/roles/{rid}/delete", follow_redirects=True)
    assert "move them first" in response.get_data(as_text=True)
    assert role_id(app, "temp") == rid
    auth.post(f"/admin/users/{user_id(app, 'vera')}/role", {"role": role_id(app, "viewer")})
    auth.post(f"/admin/roles/{rid}/delete")
    assert role_id(app, "temp") is None
    assert last_event(app, "role.deleted").details["before"]["name"] == "temp"


def test_assigning_a_role_is_audited_with_before_and_after(app, client, auth):
    auth.login("admin")
    auth.post(f"/admin/users/{user_id(app, 'vera')}/role", {"role": role_id(app, "user")})
    event = last_event(app, "role.assigned")
    assert (event.details["before"], event.details["after"]) == ("viewer", "user")


def test_an_admin_grants_until_a_date_and_revokes(app, client, auth):
    auth.login("admin")
    vera = user_id(app, "vera")
    response = auth.post(f"/admin/users/{vera}/grants", {"permission": "audit.view",
                                                         "expires_at": "2099-01-01T12:00", "reason": "on call"})
    assert response.status_code == 302
    page = client.get(f"/admin/users/{vera}/access").get_data(as_text=True)
    assert "audit.view" in page and "2099-01-01 12:00 UTC" in page
    created = last_event(app, "grant.created")
    assert created.details["expires_at"].startswith("2099-01-01T12:00")
    auth.post(f"/admin/users/{vera}/grants/{created.details['grant_id']}/revoke")
    assert last_event(app, "grant.revoked").details["permission"] == "audit.view"


def test_a_grant_in_the_past_is_a_form_error(app, client, auth):
    auth.login("admin")
    response = auth.post(f"/admin/users/{user_id(app, 'vera')}/grants",
                         {"permission": "audit.view", "expires_at": "2001-01-01T00:00"})
    assert response.status_code == 422
    assert "must be in the future" in response.get_data(as_text=True)


def test_another_users_grant_id_is_not_found(app, client, auth):
    auth.login("admin")
    auth.post(f"/admin/users/{user_id(app, 'vera')}/grants", {"permission": "audit.view"})
    grant_id = last_event(app, "grant.created").details["grant_id"]
    response = auth.post(f"/admin/users/{user_id(app, 'ursula')}/grants/{grant_id}/revoke")
    assert response.status_code == 404


def test_user_lookup_opens_the_access_page(app, client, auth):
    auth.login("admin")
    response = client.get("/admin/access?q=vera@example.test")
    assert response.headers["Location"].endswith(f"/admin/users/{user_id(app, 'vera')}/access")


def test_a_denial_is_audited(app, client, auth):
    auth.login("ursula")
    assert client.get("/admin/roles").status_code == 403
    event = last_event(app, "access.denied")
    assert event.actor_label == "ursula" and event.details["permission"] == "roles.manage"
    assert event.outcome == "denied"


def test_navigation_shows_only_what_the_user_may_do(client, auth):
    auth.login("vera")
    body = client.get("/").get_data(as_text=True)
    assert 'href="/admin/roles"' not in body and 'href="/admin/accounts"' not in body
    auth.logout()
    auth.login("admin")
    body = client.get("/").get_data(as_text=True)
    assert 'href="/admin/roles"' in body and 'href="/admin/accounts"' in body
