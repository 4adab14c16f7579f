from __future__ import annotations

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import Announcement
from tests.support.accounts import AuthActions


def publish(app, *, as_user: str = "admin", **fields) -> int:
    """Publish through the admin form as `as_user`; returns the new announcement's id."""
    client = app.test_client()
    auth = AuthActions(client)
    auth.login(as_user)
    data = {"title": "Maintenance tonight", "body": "Back by **22:00**.", "level": "info", "starts_at": "",
            "ends_at": ""}
    data.update(fields)
    response = auth.post("/admin/announcements/new", data, page="/admin/announcements/new")
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        return db.session.scalar(select(Announcement.id).order_by(Announcement.id.desc()))
