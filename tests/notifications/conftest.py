from __future__ import annotations

from sqlalchemy import func, select

from sanctum.extensions import db
from sanctum.models import Notification, User


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def send(app, username: str, title: str = "Something happened", **kwargs) -> int:
    """Notify one user (committed, as a caller would) and return the new row's id."""
    from sanctum.notifications import notify

    with app.app_context():
        notify([user_id(app, username)], kwargs.pop("kind", "test.notice"), title, **kwargs)
        db.session.commit()
        return db.session.scalar(select(func.max(Notification.id)))


def unread(app, username: str) -> int:
    from sanctum.notifications.service import unread_count

    with app.app_context():
        return unread_count(user_id(app, username))
