"""Can announcement managers publish, change, end and delete banners, audited; and does each
signed-in person see exactly the current ones meant for them, until they dismiss them?"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from sanctum.extensions import db
from sanctum.models import Announcement, AnnouncementDismissal, Notification, User
from tests.announcements.conftest import publish
from tests.conftest import CLOCK_START
from tests.support.accounts import AuthActions, audit_events, csrf_token
from tests.support.queries import count_queries

HX = {"HX-Request": "true"}


def banner_ids(client) -> list[str]:
    import re

    body = client.get("/account/").get_data(as_text=True)
    return re.findall(r'<section class="announcement announcement-\w+" id="announcement-(\d+)"', body)


def stamp(delta: timedelta) -> str:
    return (CLOCK_START + delta).strftime("%Y-%m-%dT%H:%M")


def test_an_admin_publishes_and_everyone_sees_the_banner_rendered_safely(app, client, auth):
    announcement = publish(app, body="Back by **22:00**. <script>alert(1)</script> [x](javascript:alert(1))")
    auth.login("vera")
    body = client.get("/account/").get_data(as_text=True)
    start = body.index(f'id="announcement-{announcement}"')
    banner = body[start:body.index("</section>", start)]
    assert "<strong>22:00</strong>" in banner
    assert "<script" not in banner and 'href="javascript' not in banner
    event = audit_events(app, "announcement.created")[-1]
    assert event.target_id == str(announcement) and event.details["after"]["audience"] == "everyone"


def test_a_moderator_may_manage_announcements_a_user_may_not(app, client, auth):
    publish(app, as_user="mod")
    auth.login("ursula")
    assert client.get("/admin/announcements/").status_code == 403
    assert client.get("/admin/announcements/new").status_code == 403


def test_bad_input_is_refused_with_clear_errors(app, client, auth):
    auth.login("admin")
    page = "/admin/announcements/new"
    empty = auth.post(page, {"title": "", "level": "info"}, page=page)
    assert empty.status_code == 422 and "This field is required." in empty.get_data(as_text=True)
    backwards = auth.post(page, {"title": "T", "level": "info", "starts_at": "2030-01-02T10:00",
                                 "ends_at": "2030-01-01T10:00"}, page=page)
    assert backwards.status_code == 422 and "The end must come after the start." in backwards.get_data(as_text=True)
    assert auth.post(page, {"title": "T", "level": "shouting"}, page=page).status_code == 422
    assert auth.post(page, {"title": "T", "level": "info", "audience": ["nobody"]}, page=page).status_code == 422
    assert auth.post(page, {"title": "T", "level": "info", "starts_at": "tomorrow"}, page=page).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Announcement)) == 0


def test_the_audience_and_the_time_window_decide_who_sees_it(app, clock, client, auth):
    later = publish(app, title="Upgrade", starts_at=stamp(timedelta(hours=1)), ends_at=stamp(timedelta(hours=2)),
                    audience=["user", "moderator"])
    auth.login("ursula")
    assert banner_ids(client) == []  # not yet
    clock.shift(timedelta(hours=1, minutes=1))
    assert banner_ids(client) == [str(later)]
    vera = app.test_client()
    AuthActions(vera).login("vera")
    assert banner_ids(vera) == []  # viewers are not in the audience
    clock.shift(timedelta(hours=1))
    assert banner_ids(client) == []  # over


def test_the_overview_sorts_current_scheduled_and_ended(app, clock, client, auth):
    publish(app, title="Now on")
    publish(app, title="Coming up", starts_at=stamp(timedelta(days=1)))
    publish(app, title="Long gone", starts_at=stamp(-timedelta(days=2)), ends_at=stamp(-timedelta(days=1)))
    auth.login("admin")
    body = client.get("/admin/announcements/").get_data(as_text=True)
    body = body[body.index('id="announcements-overview"'):]  # not the banners above it
    current, scheduled, ended = body.index("Current"), body.index("Scheduled"), body.index("Ended")
    assert current < body.index("Now on") < scheduled < body.index("Coming up") < ended < body.index("Long gone")


def test_editing_changes_the_banner_and_is_audited(app, client, auth):
    announcement = publish(app)
    auth.login("admin")
    page = f"/admin/announcements/{announcement}/edit"
    assert "Maintenance tonight" in client.get(page).get_data(as_text=True)
    response = auth.post(page, {"title": "Maintenance moved", "level": "warning", "body": ""}, page=page)
    assert response.status_code == 302
    assert "Maintenance moved" in client.get("/account/").get_data(as_text=True)
    event = audit_events(app, "announcement.updated")[-1]
    assert event.details["before"]["title"] == "Maintenance tonight"
    assert event.details["after"]["level"] == "warning"


def test_ending_and_deleting(app, client, auth):
    first, second = publish(app, title="First"), publish(app, title="Second")
    auth.login("admin")
    assert auth.post(f"/admin/announcements/{first}/end", page="/admin/announcements/").status_code == 302
    assert auth.post(f"/admin/announcements/{second}/delete", page="/admin/announcements/").status_code == 302
    assert banner_ids(client) == []
    with app.app_context():
        assert db.session.get(Announcement, second) is None
        assert db.session.get(Announcement, first).ends_at is not None
    assert [e.action for e in audit_events(app) if e.action.startswith("announcement.")][-2:] == [
        "announcement.ended", "announcement.deleted"]
    assert auth.post("/admin/announcements/999/end", page="/admin/announcements/").status_code == 404


def test_a_dismissed_banner_stays_dismissed(app, client, auth):
    announcement = publish(app)
    auth.login("ursula")
    assert banner_ids(client) == [str(announcement)]
    token = csrf_token(client, "/account/")
    response = client.post(f"/announcements/{announcement}/dismiss", data={"csrf_token": token}, headers=HX)
    assert response.status_code == 200 and f"announcement-{announcement}" not in response.get_data(as_text=True)
    assert client.post(f"/announcements/{announcement}/dismiss", data={"csrf_token": token}).status_code == 302
    assert banner_ids(client) == []
    other = app.test_client()
    AuthActions(other).login("vera")
    assert banner_ids(other) == [str(announcement)]  # dismissal is per person
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AnnouncementDismissal)) == 1


def test_a_critical_banner_cannot_be_dismissed(app, client, auth):
    announcement = publish(app, level="critical", title="Data centre fire drill")
    auth.login("ursula")
    body = client.get("/account/").get_data(as_text=True)
    assert 'role="alert"' in body and f"/announcements/{announcement}/dismiss" not in body
    token = csrf_token(client, "/account/")
    assert client.post(f"/announcements/{announcement}/dismiss", data={"csrf_token": token}).status_code == 409
    assert banner_ids(client) == [str(announcement)]


def test_an_announcement_not_meant_for_me_cannot_be_dismissed(app, client, auth):
    announcement = publish(app, audience=["moderator"])
    auth.login("ursula")
    token = csrf_token(client, "/account/")
    assert client.post(f"/announcements/{announcement}/dismiss", data={"csrf_token": token}).status_code == 404
    assert client.post("/announcements/999/dismiss", data={"csrf_token": token}).status_code == 404


def test_publishing_notifies_the_audience_once_in_plain_words(app):
    announcement = publish(app, title="For moderators", audience=["moderator", "admin"],
                           body="The queue moved to **/moderation** & [docs](https://example.com).")
    with app.app_context():
        rows = db.session.execute(select(User.username, Notification.body)
                                  .join(Notification, Notification.user_id == User.id)
                                  .where(Notification.kind == "announcement")).all()
    assert rows == [("mod", "The queue moved to /moderation & docs.")]  # the author (admin) is not told
    admin = AuthActions(app.test_client())
    admin.login("admin")
    page = f"/admin/announcements/{announcement}/edit"
    admin.post(page, {"title": "For moderators", "level": "warning", "audience": ["moderator"]}, page=page)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 1  # not again on edit


def test_a_scheduled_announcement_notifies_when_it_starts(app, clock):
    from sanctum.announcements.service import start_due_announcements

    publish(app, title="Tomorrow", starts_at=stamp(timedelta(hours=1)))

    def notified() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(Notification)
                                     .where(Notification.kind == "announcement"))

    with app.app_context():
        assert start_due_announcements()["started"] == 0
    assert notified() == 0
    clock.shift(timedelta(hours=1))
    with app.app_context():
        assert start_due_announcements()["started"] == 1
        assert start_due_announcements()["started"] == 0  # once
    assert notified() == 3  # the seeded accounts but the author


def test_banners_and_the_bell_cost_a_bounded_number_of_queries(app, client, auth):
    """One statement for the bell and the banners together, however many of either there are."""
    auth.login("ursula")
    client.get("/account/")

    def cost() -> int:
        with count_queries(app) as statements:
            assert client.get("/account/").status_code == 200
        return len(statements)

    baseline = cost()
    for n in range(4):
        publish(app, title=f"Notice {n}", level=("info", "warning")[n % 2])
    dismissed = publish(app, title="Dismissed")
    publish(app, title="Not for users", audience=["admin"])
    token = csrf_token(client, "/account/")
    client.post(f"/announcements/{dismissed}/dismiss", data={"csrf_token": token})
    assert len(banner_ids(client)) == 4
    assert cost() == baseline
    with count_queries(app) as statements:
        client.get("/account/")
    header = [s for s in statements if "announcements" in s or "notifications" in s]
    assert len(header) == 1, "bell and banners share one statement"


def test_the_start_job_runs_periodically_through_the_jobs_seam(app, wait_for_job):
    """In the scaled mode the RQ worker (on the real clock) runs it and its notifications reach
    this database."""
    from sanctum import jobs
    from sanctum.models.base import utcnow

    assert app.extensions["sanctum.periodic"]["sanctum.announcements.jobs.start_due_announcements"] == 60
    soon = publish(app, title="Soon", starts_at=(utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    with app.app_context():
        db.session.get(Announcement, soon).starts_at = utcnow() - timedelta(minutes=1)  # as if a day passed
        record = jobs.enqueue("sanctum.announcements.jobs.start_due_announcements", description="test")
        db.session.commit()
        record_id = record.id
    assert wait_for_job(record_id, timeout=30).status == "succeeded"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 3
