"""Passwords, tokens and session ids never reach the logs or the audit trail (SECURITY.md 24)."""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import AuditEvent
from tests.support.accounts import PASSWORD, AuthActions, csrf_token, make_user, session_token
from tests.support.mail import link_in, local_path, outbox_mails

RESET_TO = "a passphrase chosen after reset"
CHANGED_TO = "another passphrase after the change"


def everything_audited(app) -> str:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent)).all()
        return "\n".join(f"{e.action} {e.actor_label} {e.target_id} {e.details} {e.user_agent}" for e in rows)


def test_a_whole_account_lifecycle_leaves_no_secret_in_logs_or_audit(app, client, caplog):
    make_user(app, "rita", email="rita@example.com", verified=False)
    auth = AuthActions(client)
    secrets = [PASSWORD, RESET_TO, CHANGED_TO, "my wrong guess of a password"]
    with caplog.at_level(logging.DEBUG):
        auth.login("rita", "my wrong guess of a password")
        auth.login("rita")
        secrets.append(session_token(app, client))
        auth.post("/verify/resend")
        auth.post("/account/password", {"current_password": PASSWORD, "new_password": CHANGED_TO,
                                        "confirm": CHANGED_TO})
        auth.post("/account/email", {"email": "rita.new@example.com", "password": CHANGED_TO})
        auth.logout()
        client.post("/forgot", data={"email": "rita@example.com", "csrf_token": csrf_token(client, "/forgot")})
        mails = outbox_mails(app, "rita@example.com") + outbox_mails(app, "rita.new@example.com")
        links = [link_in(m.body) for m in mails]
        secrets += [link.split("token=", 1)[1] for link in links]
        [reset] = [local_path(link, app.config["BASE_URL"]) for link in links if "/reset?" in link]
        client.post("/reset", data={"token": reset.split("token=", 1)[1], "new_password": RESET_TO,
                                    "confirm": RESET_TO, "csrf_token": csrf_token(client, reset)})
        auth.login("rita", RESET_TO)
        secrets.append(session_token(app, client))
    assert len(secrets) == 9  # four passwords, two session ids, the verification, email change and reset tokens
    audited = everything_audited(app)
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in audited


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_production_server_access_log_leaves_out_mailed_tokens(app, tmp_path):
    """`sanctum serve` logs each request; the query string (where mailed tokens travel) stays out."""
    from tests.conftest import ROOT, SECRET

    port = free_port()
    env = dict(os.environ, SANCTUM_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SANCTUM_SECRET_KEY=SECRET,
               SANCTUM_REDIS_URL=app.config["REDIS_URL"] or "", SANCTUM_REDIS_PREFIX=app.config["REDIS_PREFIX"],
               SANCTUM_INSTANCE_PATH=str(tmp_path), PYTHONPATH=str(ROOT),
               # the shared test worker's key: a server with another one refuses to start (sanctum.cluster)
               SANCTUM_ENCRYPTION_KEY=app.config["ENCRYPTION_KEY"])
    log = open(tmp_path / "serve.log", "w+")
    server = subprocess.Popen([sys.executable, "-m", "sanctum.cli", "serve", "--no-migrate", "--port", str(port),
                               "--threads", "2"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "sanctum serve did not start"
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
        for path in ("/reset?token=SECRET-RESET-TOKEN", "/verify?token=SECRET-VERIFY-TOKEN"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
            except OSError:
                pass  # an expired link answers 422; the log line is what matters
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert '"GET /reset ' in output and '"GET /verify ' in output, output
    assert "SECRET-RESET-TOKEN" not in output and "SECRET-VERIFY-TOKEN" not in output
