"""Do /healthz and /readyz tell the truth, and do pages survive a dead Redis or database?"""
from __future__ import annotations

from sanctum import create_app
from tests.conftest import SCALED, SECRET, shutdown
from tests.support.accounts import AuthActions, seed_accounts


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_each_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    checks = response.get_json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["jobs"]["mode"] == ("rq" if SCALED else "in-process")
    assert checks["events"]["mode"] == ("redis" if SCALED else "memory")
    if SCALED:
        assert checks["jobs"]["workers"] >= 1


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET,
                      "DATABASE_URL": f"sqlite:///{tmp_path}/missing-dir/x.db"})
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert "database unreachable" in response.get_json()["checks"]["database"]["error"]
    finally:
        shutdown(app)


def test_redis_down_degrades_readyz_but_pages_still_render(database, instance_dir):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": database.fresh_url(),
                      "REDIS_URL": "redis://127.0.0.1:1/0", "BCRYPT_ROUNDS": 4})
    seed_accounts(app)
    try:
        client = app.test_client()
        assert AuthActions(client).login().status_code == 302  # rate limits fall back to memory
        ready = client.get("/readyz")
        assert ready.status_code == 503
        checks = ready.get_json()["checks"]
        assert "Redis unreachable" in checks["jobs"]["error"]
        assert "Redis unreachable" in checks["events"]["error"]
        home = client.get("/")
        assert home.status_code == 200
        assert "Unavailable" in home.get_data(as_text=True)
    finally:
        shutdown(app)


def test_home_page_says_what_sanctum_is(client, auth):
    auth.login("vera")
    body = client.get("/").get_data(as_text=True)
    assert "control panel for AI agents" in body
    assert "System status" in body
