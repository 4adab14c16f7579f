"""Does the health job check agents and tools, keep a short history, and announce changes?

The job is enqueued through the jobs seam, so in the scaled mode it runs in the RQ
worker subprocess and its event crosses Redis to this process.
"""
from __future__ import annotations

import queue
import time

import pytest
from sqlalchemy import func, select

from sanctum import events, jobs
from sanctum.agents.service import create_agent
from sanctum.events.bus import wait_connected
from sanctum.extensions import db
from sanctum.health import CHANNEL, service
from sanctum.live.hub import authorizer_for
from sanctum.models import Agent, HealthCheck, Tool
from sanctum.tools.service import create_tool
from tests.support.fake_servers import FakeServer


@pytest.fixture
def tool_server():
    server = FakeServer()
    server.answer = 200
    server.route("GET", "/health", lambda h: h.send_json({"ok": server.answer == 200}, status=server.answer))
    yield server
    server.stop()


def run_health_job(app, wait_for_job):
    with app.app_context():
        record = jobs.enqueue("sanctum.health.jobs.check_health", True, description="test")
        db.session.commit()
        record_id = record.id
    finished = wait_for_job(record_id, timeout=30)
    assert finished.status == "succeeded", finished.error
    return finished


def status_of(app, model, subject_id):
    with app.app_context():
        row = db.session.get(model, subject_id)
        return row.status, row.status_message


def test_the_health_job_is_registered_to_run_periodically(app):
    assert app.extensions["sanctum.periodic"]["sanctum.health.jobs.check_health"] == app.config["HEALTH_CHECK_EVERY"]


def test_the_health_job_flips_a_tool_and_announces_each_change(app, wait_for_job, tool_server):
    received: "queue.Queue[dict]" = queue.Queue()
    with app.app_context():
        events.subscribe(CHANNEL, lambda _channel, data: received.put(data))
        assert wait_connected()
        tool_id = create_tool(data={"slug": "crawler", "name": "Crawler", "category": "smcp",
                                    "health_check_url": tool_server.url + "/health"}, actor=None).id

    run_health_job(app, wait_for_job)
    assert status_of(app, Tool, tool_id)[0] == "Healthy"
    event = received.get(timeout=10)
    assert (event["kind"], event["name"], event["previous"], event["status"]) == ("tool", "crawler", "Ready", "Healthy")
    assert f'id="tool-{tool_id}-status"' in event["html"] and 'hx-swap-oob="true"' in event["html"]

    tool_server.answer = 503
    run_health_job(app, wait_for_job)
    status, message = status_of(app, Tool, tool_id)
    assert status == "Down" and "HTTP 503" in message
    assert received.get(timeout=10)["status"] == "Down"

    tool_server.answer = 200
    run_health_job(app, wait_for_job)
    assert status_of(app, Tool, tool_id)[0] == "Healthy"
    with app.app_context():
        history = service.history("tool", tool_id)
        assert [h.status for h in history][:3] == ["Healthy", "Down", "Healthy"]


def test_the_health_job_checks_agents_through_their_providers(app, wait_for_job):
    with app.app_context():
        builtin = create_agent(data={"name": "athena", "provider": "builtin"}, actor=None).id
        remote = create_agent(data={"name": "gone", "provider": "openai", "model": "m",
                                    "base_url": "http://127.0.0.1:9/v1", "connect_timeout": 1}, actor=None).id
        off = create_agent(data={"name": "resting", "provider": "builtin", "is_active": False}, actor=None).id
    run_health_job(app, wait_for_job)
    assert status_of(app, Agent, builtin)[0] == "Healthy"
    status, message = status_of(app, Agent, remote)
    assert status == "Down" and "could not be reached" in message
    assert status_of(app, Agent, off)[0] == "Off"


def test_an_unchanged_status_is_not_announced_again(app, tool_server):
    received: "queue.Queue[dict]" = queue.Queue()
    with app.app_context():
        events.subscribe(CHANNEL, lambda _channel, data: received.put(data))
        assert wait_connected()
        create_tool(data={"slug": "crawler", "name": "Crawler", "category": "smcp",
                          "health_check_url": tool_server.url + "/health"}, actor=None)
        service.run_checks(force=True)
        service.run_checks(force=True)
    assert received.get(timeout=5)["status"] == "Healthy"
    time.sleep(0.3)
    assert received.empty()


def test_only_due_subjects_are_checked_without_force(app, tool_server):
    with app.app_context():
        tool = create_tool(data={"slug": "crawler", "name": "Crawler", "category": "smcp",
                                 "health_check_url": tool_server.url + "/health", "health_check_interval": 3600},
                           actor=None)
        assert service.run_checks()["checked"] == 1  # never checked: due
        assert service.run_checks()["checked"] == 0  # checked a moment ago: not due for an hour
        assert db.session.get(Tool, tool.id).checked_at is not None


def test_the_history_is_kept_short(app, tool_server):
    app.config["HEALTH_HISTORY"] = 3
    with app.app_context():
        tool = create_tool(data={"slug": "crawler", "name": "Crawler", "category": "smcp",
                                 "health_check_url": tool_server.url + "/health"}, actor=None)
        for _ in range(5):
            service.run_checks(force=True)
        count = db.session.scalar(select(func.count(HealthCheck.id)).where(HealthCheck.subject_id == tool.id,
                                                                          HealthCheck.subject_type == "tool"))
    assert count == 3


def test_a_slow_answer_is_degraded(app):
    slow = FakeServer()
    slow.route("GET", "/health", lambda h: (time.sleep(0.3), h.send_json({"ok": True})))
    app.config["HEALTH_SLOW_MS"] = 100
    try:
        with app.app_context():
            tool = create_tool(data={"slug": "slow", "name": "Slow", "category": "smcp",
                                     "health_check_url": slow.url + "/health"}, actor=None)
            service.run_checks(force=True)
            assert db.session.get(Tool, tool.id).status == "Degraded"
    finally:
        slow.stop()


def test_a_tool_without_a_health_check_stays_ready(app):
    with app.app_context():
        tool = create_tool(data={"slug": "plain", "name": "Plain", "category": "master"}, actor=None)
        service.run_checks(force=True)
        assert db.session.get(Tool, tool.id).status == "Ready"


def test_health_events_are_for_those_who_may_see_status_pages(app):
    from sanctum.auth.service import find_user
    from sanctum.rbac import service as rbac

    authorize = authorizer_for(CHANNEL)
    with app.app_context():
        admin = find_user("admin")
        rbac.create_role(name="blind", description="", permissions=["account.manage"], actor=admin)
        vera = find_user("vera")
        assert authorize(vera, CHANNEL) is True
        rbac.change_role(user=vera, role=rbac.role_by_name("blind"), actor=admin)
        rbac.forget_permissions()
        assert authorize(find_user("vera"), CHANNEL) is False
        assert authorize(find_user("admin"), "system:other") is False
