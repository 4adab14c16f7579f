"""First run: no default credentials; the first admin comes from /setup or the CLI (SECURITY.md 7)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sanctum.extensions import db
from sanctum.models import User
from tests.support.accounts import PASSWORD, AuthActions, audit_events, csrf_token, signed_in_user

pytestmark = pytest.mark.empty_database

STRONG = "a lighthouse keeper's seventh cat"


def submit_setup(client, password=STRONG, **extra):
    data = {"username": "root", "email": "root@example.com", "password": password, "confirm": password,
            "csrf_token": csrf_token(client, "/setup")}
    data.update(extra)
    return client.post("/setup", data=data)


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def test_a_fresh_database_has_no_accounts_at_all(app):
    assert user_count(app) == 0


@pytest.mark.parametrize("path", ["/", "/login", "/account/", "/account/sessions", "/register", "/forgot"])
def test_every_page_leads_to_setup_while_no_account_exists(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/setup"


def test_a_json_client_is_told_to_set_up_rather_than_redirected(client):
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert "/setup" in response.get_json()["error"]["message"]


def test_health_checks_answer_before_setup(client):
    assert client.get("/healthz").status_code == 200


def test_a_guessed_default_login_finds_nothing_to_sign_into(client):
    token = csrf_token(client, "/setup")
    for identifier, password in [("admin", "admin"), ("admin", "password"), ("root", "root")]:
        response = client.post("/login", data={"identifier": identifier, "password": password, "csrf_token": token})
        assert response.status_code == 302 and response.headers["Location"] == "/setup"
    assert signed_in_user(client) is None


def test_setup_creates_the_first_admin_and_signs_them_in(app, client):
    response = submit_setup(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in_user(client) == "root"
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "root"))
        assert user.role.name == "admin" and user.status == "active" and user.email_verified
        assert user.last_login is not None
    assert [e.target_id for e in audit_events(app, "auth.setup_completed")] == [str(user.id)]


def test_the_setup_page_is_gone_once_an_admin_exists(app, client):
    submit_setup(client)
    stranger = app.test_client()
    assert stranger.get("/setup").status_code == 404
    assert stranger.post("/setup", data={"username": "evil", "email": "evil@example.com",
                                         "password": STRONG, "confirm": STRONG}).status_code in (400, 404)
    assert user_count(app) == 1


def test_setup_refuses_a_common_password(app, client):
    response = submit_setup(client, password="1q2w3e4r5t6y7u8i9o0p")
    assert response.status_code == 422
    assert "most common" in response.get_data(as_text=True)
    assert user_count(app) == 0


def test_setup_refuses_a_password_shorter_than_15_characters(app, client):
    response = submit_setup(client, password="only14chars!!!")
    assert response.status_code == 422
    assert "at least 15" in response.get_data(as_text=True)
    assert user_count(app) == 0


def test_setup_without_the_csrf_token_creates_nothing(app, client):
    client.get("/setup")
    response = client.post("/setup", data={"username": "root", "email": "root@example.com",
                                           "password": STRONG, "confirm": STRONG})
    assert response.status_code == 400
    assert user_count(app) == 0


def test_the_cli_creates_an_admin_from_the_environment_password(app, runner):
    result = runner.invoke(args=["create-admin", "ops", "ops@example.com"],
                           env={"SANCTUM_ADMIN_PASSWORD": STRONG})
    assert result.exit_code == 0, result.output
    assert "administrator ops" in result.output
    assert STRONG not in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "ops"))
        assert user.role.name == "admin"


def test_an_admin_created_by_the_cli_can_sign_in_and_setup_is_gone(app, runner, client):
    runner.invoke(args=["create-admin", "ops", "ops@example.com"], env={"SANCTUM_ADMIN_PASSWORD": STRONG})
    assert client.get("/setup").status_code == 404
    AuthActions(client).login("ops", STRONG)
    assert signed_in_user(client) == "ops"


def test_the_cli_refuses_a_common_password(app, runner):
    result = runner.invoke(args=["create-admin", "ops", "ops@example.com"],
                           env={"SANCTUM_ADMIN_PASSWORD": "1q2w3e4r5t6y7u8i9o0p"})
    assert result.exit_code != 0
    assert "most common" in result.output
    assert user_count(app) == 0


def test_the_cli_without_a_password_and_without_a_terminal_refuses(app, runner):
    result = runner.invoke(args=["create-admin", "ops", "ops@example.com"], env={"SANCTUM_ADMIN_PASSWORD": ""})
    assert result.exit_code != 0
    assert "SANCTUM_ADMIN_PASSWORD" in result.output
    assert user_count(app) == 0


def test_the_seeded_password_is_not_a_default_anywhere(app, client):
    """The test accounts exist only because tests seed them; a fresh install has none."""
    token = csrf_token(client, "/setup")
    client.post("/login", data={"identifier": "admin", "password": PASSWORD, "csrf_token": token})
    assert signed_in_user(client) is None
