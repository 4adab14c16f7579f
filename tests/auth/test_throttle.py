"""Temporary lockouts with growing waits, counted per account from any address, and per-address
limits (SECURITY.md 6, 23)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from sanctum.extensions import db
from sanctum.models import User
from tests.conftest import CLOCK_START
from tests.support.accounts import PASSWORD, audit_events, csrf_token, signed_in_user

WRONG = "this is not the password"
_addresses = count(1)


def attempt(client, identifier, password=WRONG, ip=None):
    """One sign-in attempt, each from a new address unless told otherwise."""
    ip = ip or f"203.0.113.{next(_addresses) % 250 + 1}"
    data = {"identifier": identifier, "password": password, "csrf_token": csrf_token(client)}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": ip})


def lockout_waits(app) -> list[int]:
    return [e.details["seconds"] for e in audit_events(app, "auth.lockout")]


def test_five_failures_from_five_addresses_lock_the_account_for_a_minute(app, client, clock):
    for _ in range(5):
        attempt(client, "ursula")
    response = attempt(client, "ursula", PASSWORD)
    assert response.status_code == 422
    assert "Too many failed attempts. Try again in 1 minute." in response.get_data(as_text=True)
    assert signed_in_user(client) is None


def test_the_fifth_failure_itself_says_how_long_to_wait(client, clock):
    for _ in range(4):
        attempt(client, "ursula")
    assert "Try again in 1 minute." in attempt(client, "ursula").get_data(as_text=True)


def test_four_failures_do_not_lock(client, clock):
    for _ in range(4):
        attempt(client, "ursula")
    attempt(client, "ursula", PASSWORD)
    assert signed_in_user(client) == "ursula"


def test_the_lock_lifts_by_itself_after_the_wait(client, clock):
    for _ in range(5):
        attempt(client, "ursula")
    clock.shift(timedelta(seconds=59))
    attempt(client, "ursula", PASSWORD)
    assert signed_in_user(client) is None
    clock.shift(timedelta(seconds=2))
    attempt(client, "ursula", PASSWORD)
    assert signed_in_user(client) == "ursula"


def test_each_lockout_doubles_the_wait_up_to_15_minutes(app, client, clock):
    for _ in range(7):
        for _ in range(5):
            attempt(client, "ursula")
        clock.shift(timedelta(seconds=lockout_waits(app)[-1] + 1))
    assert lockout_waits(app) == [60, 120, 240, 480, 900, 900, 900]


def test_a_lockout_in_progress_tells_the_remaining_wait_in_minutes(client, clock):
    for _ in range(5):
        attempt(client, "ursula")
    clock.shift(timedelta(seconds=61))
    for _ in range(5):
        attempt(client, "ursula")  # second lockout: two minutes
    clock.shift(timedelta(seconds=30))
    assert "Try again in 2 minutes." in attempt(client, "ursula", PASSWORD).get_data(as_text=True)


def test_attempts_while_locked_do_not_check_the_password_or_extend_the_lock(app, client, clock):
    for _ in range(5):
        attempt(client, "ursula")
    for _ in range(20):
        attempt(client, "ursula")
    assert lockout_waits(app) == [60]
    clock.shift(timedelta(seconds=61))
    attempt(client, "ursula", PASSWORD)
    assert signed_in_user(client) == "ursula"


def test_an_attacker_gets_well_under_100_password_checks_per_hour_on_one_account(app, client, clock):
    """Guessing as fast as the lockout allows, from a new address each time (SECURITY.md 6)."""
    end = CLOCK_START + timedelta(hours=1)
    while datetime.now(timezone.utc) < end:
        body = attempt(client, "ursula").get_data(as_text=True)
        if "Too many failed attempts" in body:
            clock.shift(timedelta(seconds=lockout_waits(app)[-1]))
    # Attempts while locked are refused before the password is looked at: count real guesses.
    guesses = [e for e in audit_events(app, "auth.login_failed") if e.details["reason"] == "bad_password"]
    assert len(guesses) < 60


def test_a_correct_sign_in_resets_the_count(client, clock):
    for _ in range(4):
        attempt(client, "ursula")
    attempt(client, "ursula", PASSWORD)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    for _ in range(4):
        attempt(client, "ursula")
    attempt(client, "ursula", PASSWORD)
    assert signed_in_user(client) == "ursula"


def test_an_unknown_name_is_locked_out_exactly_like_a_real_one(client, clock):
    """A lockout must not reveal that an account exists."""
    for _ in range(5):
        attempt(client, "ursula")
        attempt(client, "nobody-here")
    real = attempt(client, "ursula").get_data(as_text=True)
    unknown = attempt(client, "nobody-here").get_data(as_text=True)
    assert "Try again in 1 minute." in real
    assert real.replace("ursula", "NAME") == unknown.replace("nobody-here", "NAME")


def test_email_and_username_count_towards_the_same_lock(client, clock):
    for identifier in ("ursula", "ursula@example.test", "URSULA", "ursula", "Ursula@example.test"):
        attempt(client, identifier)
    assert "Try again in" in attempt(client, "ursula", PASSWORD).get_data(as_text=True)


def test_a_lockout_is_audited_and_mirrored_on_the_account(app, client, clock):
    for _ in range(5):
        attempt(client, "ursula")
    [event] = audit_events(app, "auth.lockout")
    assert event.outcome == "denied" and event.actor_label == "ursula" and event.details["seconds"] == 60
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "ursula"))
        assert user.failed_login_attempts == 5
        assert user.locked_until == CLOCK_START + timedelta(minutes=1)


def test_an_attempt_during_a_lockout_is_audited_as_denied(app, client, clock):
    for _ in range(5):
        attempt(client, "ursula")
    attempt(client, "ursula", PASSWORD)
    last = audit_events(app, "auth.login_failed")[-1]
    assert (last.outcome, last.details["reason"]) == ("denied", "locked")


# The wait left in the per-address window: up to a minute, said in words.
WAIT_WORDS = re.compile(r"Too many sign-in attempts from your address\. Try again in (1 minute|[1-5]?[0-9] seconds?)\.")


def test_one_address_making_too_many_attempts_gets_429_with_the_wait(client):
    for n in range(10):
        assert attempt(client, f"name-{n}", ip="192.0.2.50").status_code == 422
    response = attempt(client, "name-10", ip="192.0.2.50")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert WAIT_WORDS.search(response.get_data(as_text=True))


def test_a_blocked_address_does_not_block_another(client):
    for n in range(11):
        attempt(client, f"name-{n}", ip="192.0.2.50")
    attempt(client, "ursula", PASSWORD, ip="192.0.2.51")
    assert signed_in_user(client) == "ursula"


def test_the_429_answers_json_clients_in_json(client):
    for n in range(10):
        attempt(client, f"name-{n}", ip="192.0.2.50")
    response = client.post("/login", data={"identifier": "x", "password": WRONG, "csrf_token": csrf_token(client)},
                           headers={"Accept": "application/json"}, environ_base={"REMOTE_ADDR": "192.0.2.50"})
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited" and WAIT_WORDS.fullmatch(error["message"])


@pytest.mark.parametrize(("seconds", "words"), [(1, "1 second"), (59, "59 seconds"), (60, "1 minute"),
                                                (61, "2 minutes"), (900, "15 minutes")])
def test_waits_are_said_in_words_rounded_up_to_the_minute(seconds, words):
    from sanctum.auth.throttle import Lock

    assert Lock(seconds).wait_words == words


@pytest.mark.parametrize(("path", "words"), [
    ("/register", "Too many sign-up attempts from your address."),
    ("/forgot", "Too many reset requests from your address."),
    ("/reset", "Too many password changes from your address."),
    ("/verify", "Too many confirmation attempts from your address."),
])
def test_account_forms_are_limited_per_address(client, path, words):
    token = csrf_token(client)
    for n in range(5):
        response = client.post(path, data={"csrf_token": token, "email": f"n{n}@example.com", "token": "x"},
                               environ_base={"REMOTE_ADDR": "192.0.2.77"})
        assert response.status_code != 429, n
    response = client.post(path, data={"csrf_token": token, "email": "n9@example.com", "token": "x"},
                           environ_base={"REMOTE_ADDR": "192.0.2.77"})
    assert response.status_code == 429
    assert words in response.get_data(as_text=True)


def test_email_change_mails_are_limited_per_account(app, client, auth):
    auth.login("ursula")
    for n in range(3):
        response = auth.post("/account/email", {"email": f"victim{n}@example.com", "password": PASSWORD})
        assert response.status_code == 302, n
    response = auth.post("/account/email", {"email": "victim9@example.com", "password": PASSWORD},
                         environ_base={"REMOTE_ADDR": "192.0.2.200"})
    assert response.status_code == 429
    assert "Too many confirmation mails for your account." in response.get_data(as_text=True)
