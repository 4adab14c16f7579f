"""Do errors answer as a page, a partial or JSON, always with a request id and never a traceback?"""
from __future__ import annotations

import pytest
from flask import Blueprint, abort, request

from sanctum.web.access import public


@pytest.fixture
def app(app):
    """The app with a few routes that fail on purpose."""
    bp = Blueprint("failing", __name__)

    @bp.get("/boom")
    @public
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    @bp.get("/api/v1/boom")
    @public
    def api_boom():
        raise RuntimeError("secret internals")

    @bp.post("/echo")
    @public
    def echo():
        return {"size": len(request.get_data())}

    @bp.get("/api/v1/conflict")
    @public
    def conflict():
        abort(409, "That name is taken.")

    app.register_blueprint(bp)
    return app


def test_unknown_page_shows_a_404_page_with_the_request_id(client):
    response = client.get("/no-such-page", headers={"X-Request-ID": "abcdef123456"})
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "<!doctype html>" in body and "There is nothing here." in body
    assert "abcdef123456" in body


def test_unknown_api_path_answers_json(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "not_found"
    assert error["request_id"] == response.headers["X-Request-ID"]


def test_htmx_request_gets_the_error_partial_not_the_page(client):
    response = client.get("/no-such-page", headers={"HX-Request": "true"})
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "<!doctype html>" not in body and 'role="alert"' in body


def test_crash_shows_a_generic_500_without_traceback(client, caplog):
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "Traceback" not in body and "hunter2" not in body and "RuntimeError" not in body
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_crash_under_api_answers_json_500(client):
    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "secret" not in response.get_data(as_text=True)


def test_abort_message_is_passed_through(client):
    response = client.get("/api/v1/conflict")
    assert response.status_code == 409
    assert response.get_json()["error"] == {
        "code": "conflict", "message": "That name is taken.", "request_id": response.headers["X-Request-ID"]
    }


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/echo", data={"a": "b"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


def test_oversized_body_is_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    app.config["WTF_CSRF_ENABLED"] = False  # so the size check, not CSRF, answers
    response = client.post("/echo", data="x" * 4096, content_type="application/octet-stream")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_json_clients_get_json_errors_outside_the_api(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
