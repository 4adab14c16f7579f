"""Do the events this issue wires notify the right people: an accepted invitation its inviter,
an agent or tool going down those who manage it (once per fall, not on every check)?"""
from __future__ import annotations

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.health import service as health
from sanctum.models import Notification, User
from sanctum.tools.service import create_tool
from tests.invitations.test_accept import accept
from tests.support.fake_servers import FakeServer
from tests.support.mail import last_link, path_of


def notices(app, kind: str) -> list[tuple[str, str]]:
    with app.app_context():
        return [(username, title) for username, title in db.session.execute(
            select(User.username, Notification.title).join(User, User.id == Notification.user_id)
            .where(Notification.kind == kind).order_by(Notification.id))]


def test_an_accepted_invitation_notifies_the_inviter(app, client, auth):
    auth.login("admin")
    auth.post("/admin/invitations", {"email": "newbie@example.org", "role": "viewer", "expires": "7"},
              page="/admin/invitations")
    auth.logout()
    accept(client, path_of(last_link(app, "newbie@example.org")))
    assert notices(app, "invitation.accepted") == [("admin", "New Bie accepted your invitation")]


def test_a_tool_going_down_notifies_its_managers_once_per_fall(app):
    server = FakeServer()
    server.answer = 200
    server.route("GET", "/health", lambda h: h.send_json({}, status=server.answer))
    try:
        with app.app_context():
            create_tool(data={"slug": "crawler", "name": "Crawler", "category": "smcp",
                              "health_check_url": server.url + "/health"}, actor=None)
            health.run_checks(force=True)  # Healthy
            server.answer = 503
            health.run_checks(force=True)  # Down: managers hear of it
            health.run_checks(force=True)  # still Down: not again
            assert notices(app, "tool.unhealthy") == [("admin", "Tool Crawler is down")]
            server.answer = 200
            health.run_checks(force=True)  # back up
            server.answer = 503
            health.run_checks(force=True)  # down again: a new fall, a new notification
    finally:
        server.stop()
    assert len(notices(app, "tool.unhealthy")) == 2
    with app.app_context():
        link = db.session.scalar(select(Notification.link).where(Notification.kind == "tool.unhealthy"))
    assert link == "/tools/?category=smcp"


def test_an_agent_going_down_notifies_agent_managers_through_the_health_job(app, wait_for_job):
    """Through the jobs seam: in the scaled mode the RQ worker writes the rows and raises the event."""
    from sanctum.agents.service import create_agent
    from tests.health.test_health import run_health_job

    with app.app_context():
        agent_id = create_agent(data={"name": "gone", "display_name": "Gone Fishing", "provider": "openai",
                                      "model": "m", "base_url": "http://127.0.0.1:9/v1", "connect_timeout": 1},
                                actor=None).id
    run_health_job(app, wait_for_job)
    assert notices(app, "agent.unhealthy") == [("admin", "Agent Gone Fishing is down")]
    run_health_job(app, wait_for_job)
    assert len(notices(app, "agent.unhealthy")) == 1  # still down: not again
    with app.app_context():
        assert db.session.scalar(select(Notification.link).where(Notification.kind == "agent.unhealthy")) \
            == f"/agents/{agent_id}"
