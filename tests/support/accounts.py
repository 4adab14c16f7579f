"""Accounts every test starts with, and signing in through the real pages."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sanctum.auth.service import create_user
from sanctum.extensions import db

PASSWORD = "correct horse battery staple"
# username → role
ACCOUNTS = {"admin": "admin", "mod": "moderator", "ursula": "user", "vera": "viewer"}


def seed_accounts(app) -> None:
    with app.app_context():
        for username, role in ACCOUNTS.items():
            create_user(username=username, email=f"{username}@example.test", password=PASSWORD, role=role,
                        verified=True, action="test.seeded")
        db.session.commit()


def make_user(app, username: str, *, role: str = "user", password: str = PASSWORD, status: str = "active",
              verified: bool = True, email: str | None = None) -> int:
    with app.app_context():
        user = create_user(username=username, email=email or f"{username}@example.test", password=password,
                           role=role, status=status, verified=verified)
        db.session.commit()
        return user.id


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_token(client, path: str = "/login", **kwargs) -> str:
    """The CSRF token a browser would have, read from a page like a browser reads it."""
    body = client.get(path, **kwargs).get_data(as_text=True)
    match = _CSRF.search(body)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


@dataclass
class AuthActions:
    client: object

    def login(self, identifier: str = "ursula", password: str = PASSWORD, remember: bool = False,
              next: str | None = None, follow: bool = False):
        data = {"identifier": identifier, "password": password, "csrf_token": csrf_token(self.client)}
        if remember:
            data["remember"] = "y"
        if next:
            data["next"] = next
        return self.client.post("/login", data=data, follow_redirects=follow)

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/account/")})

    def post(self, path: str, data: dict | None = None, page: str | None = None, **kwargs):
        """POST as a signed-in browser would: with the CSRF token from a page it has open."""
        payload = dict(data or {}, csrf_token=csrf_token(self.client, page or "/account/"))
        return self.client.post(path, data=payload, **kwargs)


def session_cookie(app, client) -> str | None:
    """The raw value of the browser's session cookie, as a thief would copy it."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return cookie.value if cookie else None


def session_token(app, client) -> str | None:
    """The session id inside the signed cookie (Flask-Login keeps it as `_user_id`)."""
    value = session_cookie(app, client)
    if not value:
        return None
    data = app.session_interface.get_signing_serializer(app).loads(value)
    return data.get("_user_id")


def replay_cookie(app, client, value: str) -> None:
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], value)


def signed_in_user(client) -> str | None:
    """Who the server thinks this browser is: the username on the account page, or None."""
    response = client.get("/account/")
    if response.status_code != 200:
        location = response.headers.get("Location", "")
        assert response.status_code == 302 and location.startswith(("/login", "/setup")), response.status_code
        return None
    match = re.search(r"<dt>Username</dt><dd>([^<]+)</dd>", response.get_data(as_text=True))
    assert match, "the account page shows no username"
    return match.group(1)


def audit_events(app, action: str | None = None) -> list:
    """Audit rows (detached), oldest first, optionally for one action."""
    from sqlalchemy import select

    from sanctum.models import AuditEvent

    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return list(rows)


def can_sign_in(app, identifier: str, password: str = PASSWORD) -> bool:
    """Whether a fresh browser signing in with these gets in."""
    client = app.test_client()
    AuthActions(client).login(identifier, password)
    return signed_in_user(client) == identifier
