"""Can Prometheus scrape Sanctum — requests, sockets, jobs, sign-in failures, queue depth — and only
from where it is allowed?"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sanctum import metrics
from sanctum.extensions import db
from sanctum.jobs.service import run_job
from sanctum.models import JobRecord
from tests.conftest import ROOT, SECRET
from tests.support.accounts import AuthActions


def scrape(client, **kwargs) -> dict[str, list]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    return {family.name: family.samples for family in text_string_to_metric_families(response.get_data(as_text=True))}


def value(families, name, sample=None, **labels) -> float:
    for s in families.get(name, []):
        if (sample is None or s.name == sample) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return 0.0


def test_requests_are_counted_by_endpoint_and_status_with_latency(client):
    before = scrape(client)
    client.get("/login")
    client.get("/no/such/page")
    after = scrape(client)
    counted = value(after, "sanctum_http_requests", endpoint="auth.auth_login", method="GET", status="200")
    assert counted == value(before, "sanctum_http_requests", endpoint="auth.auth_login", method="GET", status="200") + 1
    assert value(after, "sanctum_http_requests", endpoint="unmatched", status="404") >= 1
    assert value(after, "sanctum_http_request_duration_seconds", "sanctum_http_request_duration_seconds_count",
                 endpoint="auth.auth_login", method="GET") >= 1
    assert value(after, "sanctum_http_request_duration_seconds", "sanctum_http_request_duration_seconds_bucket",
                 endpoint="auth.auth_login", method="GET", le="+Inf") >= 1


def test_sign_in_failures_are_counted_by_reason(client, auth):
    before = value(scrape(client), "sanctum_signin_failures", reason="bad_password")
    AuthActions(client.application.test_client()).login("ursula", "wrong wrong wrong")
    assert value(scrape(client), "sanctum_signin_failures", reason="bad_password") == before + 1


def test_jobs_are_counted_by_type_and_outcome(app, client):
    name = "tests.jobs.sample_jobs.always_fails"
    before = scrape(client)
    with app.app_context():
        record = JobRecord(name=name, args=[], max_attempts=1)
        db.session.add(record)
        db.session.commit()
        with pytest.raises(Exception, match="never works"):
            run_job(record.id)
    after = scrape(client)
    assert value(after, "sanctum_jobs", job=name, outcome="failed") == value(before, "sanctum_jobs", job=name, outcome="failed") + 1
    assert value(after, "sanctum_job_duration_seconds", "sanctum_job_duration_seconds_count", job=name) >= 1


def test_queue_depth_comes_from_the_job_records(app, client):
    with app.app_context():
        for status in ("queued", "queued", "running", "failed"):
            db.session.add(JobRecord(name="tests.jobs.sample_jobs.note", args=["x"], status=status))
        db.session.commit()
    families = scrape(client)
    assert value(families, "sanctum_jobs_queue_depth", state="queued") == 2
    assert value(families, "sanctum_jobs_queue_depth", state="running") == 1
    assert value(families, "sanctum_jobs_queue_depth", state="failed") == 1


def test_open_websockets_are_counted(app, client, live_server):
    from simple_websocket import Client

    signed_in = app.test_client()
    AuthActions(signed_in).login("ursula")
    cookie = f"sanctum_session={signed_in.get_cookie('sanctum_session').value}"
    before = value(scrape(client), "sanctum_websockets_open")
    ws = Client.connect(live_server.ws_url + "/ws", headers={"Origin": "http://127.0.0.1", "Cookie": cookie})
    ws.receive(timeout=5)
    assert value(scrape(client), "sanctum_websockets_open") == before + 1
    ws.close()
    deadline = time.monotonic() + 5
    while value(scrape(client), "sanctum_websockets_open") != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value(scrape(client), "sanctum_websockets_open") == before


def test_run_metrics_wait_for_agent_runs(client):
    metrics.observe_run(agent="helper", outcome="succeeded", seconds=2.0, first_token=0.4)
    families = scrape(client)
    assert value(families, "sanctum_run_latency_seconds", "sanctum_run_latency_seconds_count",
                 agent="helper", outcome="succeeded") >= 1
    assert value(families, "sanctum_run_time_to_first_token_seconds",
                 "sanctum_run_time_to_first_token_seconds_count", agent="helper") >= 1


@pytest.fixture
def guarded(app_config):
    app_config.update(METRICS_TOKEN="scrape-me-please", METRICS_ALLOW=["10.9.0.0/16"])
    return app_config


def test_only_the_token_or_the_allowed_networks_may_scrape(guarded, app, client):
    assert client.get("/metrics").status_code == 403  # loopback is not in this allow-list
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.9.4.2"}).status_code == 200


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_serves_metrics_from_the_multiprocess_folder(tmp_path):
    """`sanctum serve` sets up prometheus-client's multiprocess mode: counts live in files."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANCTUM_", "PROMETHEUS_"))}
    env.update(SANCTUM_SECRET_KEY=SECRET, SANCTUM_INSTANCE_PATH=str(tmp_path),
               SANCTUM_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}", PYTHONPATH=str(ROOT))
    server = subprocess.Popen([sys.executable, "-m", "sanctum.cli", "serve", "--port", str(port), "--threads", "4"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                fetch(base + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        for _ in range(3):
            fetch(base + "/healthz")
        text = fetch(base + "/metrics")
        families = {f.name: f.samples for f in text_string_to_metric_families(text)}
        assert value(families, "sanctum_http_requests", endpoint="ops.healthz", status="200") >= 4
        folder = Path(tmp_path) / "prometheus"
        assert any(folder.glob("counter_*.db")) and any(folder.glob("histogram_*.db"))
    finally:
        server.terminate()
        server.wait(timeout=15)
