"""Every state-changing account route needs the CSRF token; no GET changes anything (SECURITY.md 17)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sanctum.auth.service import request_password_reset, send_verification
from sanctum.extensions import db
from sanctum.models import AccountToken, AuditEvent, LoginThrottle, Mail, Setting, User, UserSession
from tests.support.accounts import AuthActions, make_user
from tests.support.mail import link_in, local_path, outbox_mails

ACCOUNT_MODULES = ("sanctum.auth.routes", "sanctum.account.routes", "sanctum.admin.users", "sanctum.admin.outbox")
SAMPLE_ARGS = {"session_id": 1, "user_id": 5, "mail_id": 1}


def account_rules(app, method):
    rules = [rule for rule in app.url_map.iter_rules()
             if method in rule.methods and app.view_functions[rule.endpoint].__module__ in ACCOUNT_MODULES]
    assert rules, f"no {method} routes found in {ACCOUNT_MODULES}"
    return rules


def url(rule):
    return rule.build({name: SAMPLE_ARGS[name] for name in rule.arguments})[1]


def state(app) -> dict:
    """What a request could change, leaving out bookkeeping (last_used_at)."""
    with app.app_context():
        session = db.session
        return {
            "users": session.execute(select(User.id, User.status, User.email, User.email_verified_at,
                                            User.password_hash, User.display_name, User.locked_until)
                                     .order_by(User.id)).all(),
            "sessions": session.execute(select(UserSession.id, UserSession.revoked_at).order_by(UserSession.id)).all(),
            "tokens": session.execute(select(AccountToken.id, AccountToken.used_at).order_by(AccountToken.id)).all(),
            "throttles": session.execute(select(LoginThrottle.key, LoginThrottle.failures)).all(),
            "mails": session.scalar(select(func.count()).select_from(Mail)),
            "settings": session.execute(select(Setting.key, Setting.value)).all(),
            "audit": session.scalar(select(func.count()).select_from(AuditEvent)),
        }


@pytest.fixture
def busy_app(app):
    """Something for every route to act on: a pending sign-up, live reset and verify links."""
    make_user(app, "penny", status="pending", email="penny@example.com", verified=False)
    with app.app_context():
        request_password_reset("penny@example.com")
        send_verification(db.session.scalar(select(User).where(User.username == "penny")))
        db.session.commit()
    return app


def test_every_post_without_the_csrf_token_is_refused_and_changes_nothing(busy_app, client):
    AuthActions(client).login("admin")
    client.get("/account/")
    before = state(busy_app)
    for rule in account_rules(busy_app, "POST"):
        response = client.post(url(rule), data={"token": "x", "email": "penny@example.com", "identifier": "admin",
                                                "password": "correct horse battery staple"})
        assert response.status_code == 400, f"{rule.rule} answered {response.status_code}"
    assert state(busy_app) == before


def test_every_post_with_a_token_from_another_browser_is_refused(busy_app, client):
    from tests.support.accounts import csrf_token

    foreign = csrf_token(busy_app.test_client())
    AuthActions(client).login("admin")
    before = state(busy_app)
    for rule in account_rules(busy_app, "POST"):
        response = client.post(url(rule), data={"csrf_token": foreign})
        assert response.status_code == 400, f"{rule.rule} answered {response.status_code}"
    assert state(busy_app) == before


@pytest.mark.parametrize("who", [None, "admin", "ursula"])
def test_no_get_changes_anything(busy_app, who):
    client = busy_app.test_client()
    if who:
        AuthActions(client).login(who)
    client.get("/account/")  # let the sign-in settle before looking
    before = state(busy_app)
    for rule in account_rules(busy_app, "GET"):
        client.get(url(rule))
    for mail in outbox_mails(busy_app, "penny@example.com"):  # the reset and the verification link
        client.get(local_path(link_in(mail.body), busy_app.config["BASE_URL"]))
    after = state(busy_app)
    if who == "ursula":
        # Her refused visits to admin pages are audited as denials, and nothing else happens.
        with busy_app.app_context():
            denials = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                        .where(AuditEvent.action == "access.denied"))
        after["audit"] -= denials
    assert after == before


def test_logout_and_every_revoke_refuse_get(client, auth):
    auth.login("ursula")
    for path in ("/logout", "/account/sessions/1/revoke", "/account/sessions/revoke-others", "/verify/resend",
                 "/account/password", "/account/email", "/account/profile"):
        assert client.get(path).status_code == 405, path
