"""Route × role matrix (SECURITY.md 14): every rule in app.url_map is classified, and each of
anonymous, viewer, user, moderator and admin gets the answer its permissions call for.

New routes join automatically: the rules are read from the app at collection time.
"""
from __future__ import annotations

import re

import pytest

from sanctum import create_app
from sanctum.auth.sessions import start_session
from sanctum.extensions import db
from sanctum.models import User
from sanctum.rbac.catalog import BUILTIN_ROLES
from sanctum.web.access import access_of, credential_of, undeclared_endpoints
from tests.conftest import SECRET
from tests.support.accounts import ACCOUNTS

VIEWERS = [None, "vera", "ursula", "mod", "admin"]  # anonymous, viewer, user, moderator, admin
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def _rules():
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": "sqlite://"})
    cases = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.websocket:
            continue
        view = app.view_functions[rule.endpoint]
        access = access_of(view)
        if access == "public" and credential_of(view):
            access = "credential"  # public to sessions, but it checks its own key
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = rule.rule
            for name in rule.arguments:
                path = re.sub(rf"<(?:[a-z]+:)?{name}>", "1", path)
            cases.append(pytest.param(method, path, access, id=f"{method} {rule.rule}"))
    return cases


def test_every_rule_is_classified(app):
    assert undeclared_endpoints(app) == []


def sign_in_directly(app, client, username: str) -> None:
    """A real server-side session, without the sign-in form (which is rate-limited)."""
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one()
        _row, token = start_session(user, remember=False, ip="127.0.0.1", user_agent="matrix")
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = token


def csrf_for(client, signed_in: bool) -> str:
    body = client.get("/account/" if signed_in else "/login").get_data(as_text=True)
    match = _CSRF.search(body)
    return match.group(1) or match.group(2)


def holds(username: str | None, permission: str) -> bool:
    if username is None:
        return False
    return permission in BUILTIN_ROLES[ACCOUNTS[username]][1]


@pytest.mark.parametrize("method,path,access", _rules())
def test_route_answers_each_role_as_declared(app, method, path, access):
    for username in VIEWERS:
        client = app.test_client()
        if username:
            sign_in_directly(app, client, username)
        kwargs = {}
        if method not in ("GET", "HEAD"):
            if path.startswith("/api/"):
                kwargs["json"] = {}
            else:
                kwargs["data"] = {"csrf_token": csrf_for(client, username is not None)}
        response = client.open(path, method=method, **kwargs)
        status, location = response.status_code, response.headers.get("Location", "")
        who = username or "anonymous"
        sent_to_login = status == 302 and location.startswith("/login")
        if access == "public":
            assert status not in (401, 403), f"{who}: public {method} {path} → {status}"
            continue
        if access == "credential":
            assert status == 401, f"{who} without the route's own credential: {method} {path} → {status}"
            continue
        permission = access.split(":", 1)[1]
        if username is None:
            if path.startswith("/api/"):
                assert status == 401, f"anonymous {method} {path} → {status}"
            else:
                assert sent_to_login, f"anonymous {method} {path} → {status} {location}"
        elif holds(username, permission):
            assert status not in (401, 403) and not sent_to_login, f"{who} holds {permission}: {method} {path} → {status}"
        else:
            assert status == 403, f"{who} lacks {permission}: {method} {path} → {status}"
