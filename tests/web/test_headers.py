"""Are the security headers and request ids on every response?"""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/", "/login", "/healthz", "/no-such-page", "/static/css/sanctum.css"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


def test_pages_are_not_cached_but_static_files_are(client, auth):
    auth.login()
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/css/sanctum.css").headers.get("Cache-Control", "")


def test_pages_carry_no_inline_script(client, auth):
    auth.login()
    body = client.get("/").get_data(as_text=True)
    assert "<script>" not in body and "onclick=" not in body
    assert 'src="/static/vendor/htmx/htmx.min.js"' in body


def test_a_sane_incoming_request_id_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "req-from-proxy-1234"})
    assert response.headers["X-Request-ID"] == "req-from-proxy-1234"


@pytest.mark.parametrize("bad", ["short", "x" * 200, "evil\r\nSet-Cookie: a=b", "<script>"])
def test_an_insane_incoming_request_id_is_replaced(client, bad):
    response = client.get("/healthz", headers={"X-Request-ID": bad.replace("\r\n", " ")})
    assert response.headers["X-Request-ID"] != bad
    assert len(response.headers["X-Request-ID"]) == 32


def test_each_request_gets_its_own_id(client):
    assert client.get("/healthz").headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]


def test_htmx_partial_and_page_share_a_url_and_vary(client, auth):
    auth.login()
    page = client.get("/")
    partial = client.get("/", headers={"HX-Request": "true"})
    boosted = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<!doctype html>" in page.get_data(as_text=True)
    assert "<!doctype html>" not in partial.get_data(as_text=True)
    assert 'id="system-status"' in partial.get_data(as_text=True)
    assert "<!doctype html>" in boosted.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"]
