"""Server-side sessions: random ids stored hashed, cookie flags, rotation, server-side end and
expiry (SECURITY.md 8-11)."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from sanctum import create_app
from sanctum.config import ConfigError
from sanctum.extensions import db
from sanctum.models import AuditEvent, User, UserSession
from sanctum.models.base import utcnow
from tests.conftest import CLOCK_START
from tests.support.accounts import (
    AuthActions, csrf_token, replay_cookie, session_cookie, session_token, signed_in_user,
)

START = CLOCK_START  # the `clock` fixture's frozen now


def sessions_of(app, username="ursula") -> list[UserSession]:
    with app.app_context():
        rows = db.session.scalars(select(UserSession).join(User).where(User.username == username)
                                  .order_by(UserSession.id)).all()
        db.session.expunge_all()
        return list(rows)


def login_cookie_header(response) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("sanctum_session=")]
    return header


def keep_busy(client):
    """A request that changes the session (a flash), so the browser gets a freshly signed cookie."""
    client.post("/account/profile", data={"display_name": "U", "csrf_token": csrf_token(client, "/account/")})


# ---------------------------------------------------------------- ids and cookies (8)

def test_the_session_id_carries_at_least_128_random_bits(app, client, auth):
    auth.login("ursula")
    token = session_token(app, client)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128


def test_each_sign_in_gets_a_different_session_id(app, client, auth):
    tokens = set()
    for _ in range(5):
        auth.login("ursula")
        tokens.add(session_token(app, client))
        auth.logout()
    assert len(tokens) == 5


def test_only_the_hash_of_the_session_id_is_stored(app, client, auth):
    auth.login("ursula")
    token = session_token(app, client)
    [row] = sessions_of(app)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = " ".join(str(getattr(row, column.key)) for column in UserSession.__table__.columns)
    assert token not in stored


def test_the_session_id_never_reaches_the_audit_log(app, client, auth):
    auth.login("ursula")
    token = session_token(app, client)
    auth.logout()
    with app.app_context():
        dumped = [repr(e.details) + (e.user_agent or "") for e in db.session.scalars(select(AuditEvent))]
    assert not any(token in text for text in dumped)


def test_the_session_cookie_is_httponly_and_samesite_lax(auth):
    header = login_cookie_header(auth.login("ursula"))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header


def test_the_session_cookie_is_not_marked_secure_over_plain_http(auth):
    assert "Secure" not in login_cookie_header(auth.login("ursula"))


def test_the_session_cookie_is_secure_when_served_over_tls(app):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    token = csrf_token(client)
    response = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                           data={"identifier": "ursula", "password": "correct horse battery staple",
                                 "csrf_token": token})
    assert response.status_code == 302
    assert "Secure" in login_cookie_header(response)


def test_the_session_id_is_only_in_the_cookie_never_in_a_page_or_address(app, client, auth):
    response = auth.login("ursula")
    token = session_token(app, client)
    assert token not in response.headers["Location"]
    for path in ("/", "/account/", "/account/sessions"):
        assert token not in client.get(path).get_data(as_text=True)


# ---------------------------------------------------------------- new ids (9)

def test_a_cookie_planted_before_sign_in_is_useless_afterwards(app, client, auth):
    attacker = app.test_client()
    attacker.get("/login")
    planted = session_cookie(app, attacker)
    replay_cookie(app, client, planted)  # the victim's browser now carries the attacker's cookie
    auth.login("ursula")
    assert session_cookie(app, client) != planted
    assert signed_in_user(attacker) is None
    replay_cookie(app, attacker, planted)
    assert signed_in_user(attacker) is None


def test_a_csrf_token_from_before_sign_in_does_not_work_after_it(app, client, auth):
    """Nothing from before sign-in survives it, not even the CSRF token a planted cookie carried."""
    before = csrf_token(client)
    auth.login("ursula")
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert signed_in_user(client) == "ursula"


def test_a_well_signed_cookie_with_a_made_up_session_id_is_not_signed_in(app, client):
    forged = app.session_interface.get_signing_serializer(app).dumps({"_user_id": "A" * 43, "_fresh": True})
    replay_cookie(app, client, forged)
    assert signed_in_user(client) is None


def test_signing_in_again_replaces_the_previous_session_id(app, client, auth):
    auth.login("ursula")
    first = session_cookie(app, client)
    auth.logout()
    auth.login("ursula")
    thief = app.test_client()
    replay_cookie(app, thief, first)
    assert signed_in_user(thief) is None


def bump_privileges(app, username="ursula"):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        user.privileges_changed_at = utcnow()
        db.session.commit()


def test_a_privilege_change_gives_the_session_a_new_id(app, client, auth):
    auth.login("ursula")
    before = session_token(app, client)
    bump_privileges(app)
    assert signed_in_user(client) == "ursula"
    after = session_token(app, client)
    assert after != before
    rows = sessions_of(app)
    assert [r.revoked_reason for r in rows] == ["rotated", None]
    assert rows[1].token_hash == hashlib.sha256(after.encode()).hexdigest()


def test_the_id_from_before_a_privilege_change_stops_working(app, client, auth):
    auth.login("ursula")
    old = session_cookie(app, client)
    bump_privileges(app)
    client.get("/account/")  # the next request rotates
    thief = app.test_client()
    replay_cookie(app, thief, old)
    assert signed_in_user(thief) is None


def test_a_rotated_session_keeps_its_original_expiry(app, client, auth, clock):
    auth.login("ursula")
    [original] = sessions_of(app)
    clock.shift(timedelta(minutes=5))
    bump_privileges(app)
    clock.shift(timedelta(minutes=1))
    client.get("/account/")
    assert sessions_of(app)[-1].expires_at == original.expires_at


# ---------------------------------------------------------------- server-side end (10)

def test_a_replayed_cookie_after_logout_gets_the_login_page(app, client, auth):
    auth.login("ursula")
    stolen = session_cookie(app, client)
    auth.logout()
    replay_cookie(app, client, stolen)
    response = client.get("/account/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_logout_marks_the_session_row_ended(app, auth):
    auth.login("ursula")
    auth.logout()
    [row] = sessions_of(app)
    assert row.revoked_reason == "logout" and row.revoked_at is not None


def test_a_session_revoked_in_the_database_is_signed_out_on_its_next_request(app, client, auth):
    auth.login("ursula")
    with app.app_context():
        from sanctum.auth.service import revoke_other_sessions

        user = db.session.scalar(select(User).where(User.username == "ursula"))
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        revoke_other_sessions(user=user, actor=admin, reason="revoked_by_admin")
    assert signed_in_user(client) is None


def test_a_deactivated_account_is_signed_out_on_its_next_request(app, client, auth):
    auth.login("ursula")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "ursula"))
        user.status = "inactive"
        db.session.commit()
    assert signed_in_user(client) is None


# ---------------------------------------------------------------- expiry (11)

def test_a_session_idle_for_longer_than_the_limit_gets_the_login_page(app, client, auth, clock):
    auth.login("ursula")
    clock.shift(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"], seconds=1))
    assert signed_in_user(client) is None
    assert sessions_of(app)[0].revoked_reason == "idle"


def test_a_session_used_within_the_idle_limit_stays_signed_in(app, client, auth, clock):
    auth.login("ursula")
    for _ in range(3):
        clock.shift(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 1))
        assert signed_in_user(client) == "ursula"


def test_an_active_session_ends_at_its_absolute_lifetime(app, client, auth, clock):
    auth.login("ursula")
    hours = app.config["SESSION_ABSOLUTE_HOURS"]
    for _ in range(hours - 1):
        clock.shift(timedelta(hours=1))
        assert signed_in_user(client) == "ursula"
    clock.shift(timedelta(minutes=59))
    assert signed_in_user(client) == "ursula"
    clock.shift(timedelta(minutes=1, seconds=1))
    assert signed_in_user(client) is None
    assert sessions_of(app)[0].revoked_reason == "expired"


def test_the_idle_limit_is_configurable(app_config):
    app_config["SESSION_IDLE_MINUTES"] = 5
    app = create_app(app_config)
    from tests.conftest import shutdown
    from tests.support.accounts import seed_accounts

    seed_accounts(app)
    client = app.test_client()
    try:
        with time_machine.travel(START, tick=False) as clock:
            AuthActions(client).login("ursula")
            clock.shift(timedelta(minutes=4))
            assert signed_in_user(client) == "ursula"
            clock.shift(timedelta(minutes=5, seconds=1))
            assert signed_in_user(client) is None
    finally:
        shutdown(app)


def test_a_remembered_session_outlives_the_ordinary_idle_limit_and_lifetime(app, client, auth, clock):
    auth.login("ursula", remember=True)
    clock.shift(timedelta(hours=3))  # past the 2 h idle limit
    assert signed_in_user(client) == "ursula"
    clock.shift(timedelta(hours=11))  # past the 12 h lifetime
    assert signed_in_user(client) == "ursula"


def test_a_remembered_session_still_has_an_idle_limit(app, client, auth, clock):
    auth.login("ursula", remember=True)
    clock.shift(timedelta(days=app.config["SESSION_REMEMBER_IDLE_DAYS"], seconds=1))
    assert signed_in_user(client) is None
    assert sessions_of(app)[0].revoked_reason == "idle"


def test_a_remembered_session_ends_at_its_lifetime_even_when_in_use(app, client, auth, clock):
    """The server decides, even when the browser holds a freshly signed cookie."""
    auth.login("ursula", remember=True)
    lifetime = timedelta(days=app.config["SESSION_REMEMBER_DAYS"])
    while datetime.now(timezone.utc) + timedelta(days=5) < START + lifetime:
        clock.shift(timedelta(days=5))  # within the 7-day idle limit
        keep_busy(client)
        assert signed_in_user(client) == "ursula"
    clock.move_to(START + lifetime - timedelta(minutes=1))
    assert signed_in_user(client) == "ursula"
    clock.shift(timedelta(minutes=2))
    assert signed_in_user(client) is None
    assert sessions_of(app)[0].revoked_reason == "expired"


def test_a_remembered_session_survives_closing_the_browser(auth):
    header = login_cookie_header(auth.login("ursula", remember=True))
    assert "Expires=" in header


def test_an_ordinary_session_cookie_ends_with_the_browser(auth):
    header = login_cookie_header(auth.login("ursula"))
    assert "Expires=" not in header and "Max-Age" not in header


def test_remember_me_within_the_documented_bounds_is_the_default():
    from sanctum.config import DEFAULTS

    assert 1 <= DEFAULTS["SESSION_REMEMBER_IDLE_DAYS"] <= DEFAULTS["SESSION_REMEMBER_DAYS"] <= 90


@pytest.mark.parametrize(("key", "value"), [("SESSION_REMEMBER_DAYS", 91), ("SESSION_REMEMBER_IDLE_DAYS", 0),
                                            ("SESSION_REMEMBER_IDLE_DAYS", 120)])
def test_remember_me_beyond_the_documented_bounds_is_refused_at_start(app_config, key, value):
    app_config[key] = value
    with pytest.raises(ConfigError, match=key):
        create_app(app_config)


# ---------------------------------------------------------------- bookkeeping

def test_last_use_ip_and_device_are_kept_with_throttled_writes(app, client, auth, clock):
    client.get("/login")
    token = csrf_token(client)
    client.post("/login", data={"identifier": "ursula", "password": "correct horse battery staple",
                                "csrf_token": token},
                headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"},
                environ_base={"REMOTE_ADDR": "198.51.100.1"})
    [row] = sessions_of(app)
    assert (row.ip, row.last_used_at) == ("198.51.100.1", START)
    assert "Firefox" in row.user_agent
    clock.shift(timedelta(seconds=30))
    client.get("/account/", environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert sessions_of(app)[0].last_used_at == START  # not written again so soon
    clock.shift(timedelta(seconds=31))
    client.get("/account/", environ_base={"REMOTE_ADDR": "198.51.100.2"})
    [row] = sessions_of(app)
    assert (row.ip, row.last_used_at) == ("198.51.100.2", START + timedelta(seconds=61))
