"""Create, list and mark notifications. `notify*` never commit: the rows land or vanish with the
change they describe, and the live update goes out only after the commit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from sqlalchemy import func, select, update

from sanctum import events
from sanctum.extensions import db
from sanctum.models import Notification, User
from sanctum.models.base import utcnow

PAGE_SIZE = 20
TITLE_MAX, KIND_MAX, LINK_MAX = 200, 50, 500


def channel_for(user_id: int) -> str:
    return f"notifications:{user_id}"


def _safe_link(link: Optional[str]) -> Optional[str]:
    """Only same-site paths: a notification must never send anyone elsewhere (SECURITY.md 22)."""
    from sanctum.web.access import safe_next

    link = safe_next(link)
    return link if link is not None and len(link) <= LINK_MAX else None


def notify(user_ids: Iterable[int], kind: str, title: str, *, body: Optional[str] = None,
           link: Optional[str] = None) -> None:
    """Add one notification per user to the session (the caller commits) and update each user's
    bell once the commit lands. Duplicate and None ids are ignored."""
    ids = sorted({int(user_id) for user_id in user_ids if user_id is not None})
    if not ids:
        return
    kind, title = (kind or "notice").strip()[:KIND_MAX], (title or "").strip()[:TITLE_MAX] or "Notification"
    link, now = _safe_link(link), utcnow()
    db.session.add_all([Notification(user_id=user_id, kind=kind, title=title, body=body or None, link=link,
                                     created_at=now) for user_id in ids])
    for user_id in ids:
        events.publish_on_commit(channel_for(user_id), {"type": "notification:created", "kind": kind})


def notify_permission(permission: str, kind: str, title: str, *, body: Optional[str] = None,
                      link: Optional[str] = None) -> None:
    """Notify every active user who holds `permission` (by role or grant), found in one query."""
    from sanctum.rbac.service import user_ids_holding

    notify(user_ids_holding(permission), kind, title, body=body, link=link)


def unread_count(user_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


@dataclass
class NotificationPage:
    rows: list[Notification]
    total: int
    unread: int
    page: int
    size: int = PAGE_SIZE

    @property
    def has_next(self) -> bool:
        return self.page * self.size < self.total


def list_notifications(*, user: User, page: int = 1, unread_only: bool = False) -> NotificationPage:
    mine = [Notification.user_id == user.id]
    if unread_only:
        mine.append(Notification.read_at.is_(None))
    rows = db.session.scalars(select(Notification).where(*mine).order_by(Notification.id.desc())
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    total = db.session.scalar(select(func.count()).select_from(Notification).where(*mine)) or 0
    unread = total if unread_only else unread_count(user.id)
    return NotificationPage(rows=list(rows), total=total, unread=unread, page=page)


def own_notification(*, user: User, notification_id: int) -> Notification:
    """The user's own notification; anyone else's is as absent as a missing one (SECURITY.md 15)."""
    row = db.session.scalar(select(Notification).where(Notification.id == notification_id,
                                                       Notification.user_id == user.id))
    if row is None:
        raise LookupError(notification_id)
    return row


def mark_read(*, user: User, notification_id: int) -> Notification:
    """Commits. Other tabs of the same user hear of it and update their bell."""
    row = own_notification(user=user, notification_id=notification_id)
    if row.read_at is None:
        row.read_at = utcnow()
        events.publish_on_commit(channel_for(user.id), {"type": "notification:read"})
        db.session.commit()
    return row


def mark_all_read(*, user: User) -> int:
    """Commits; returns how many were unread."""
    changed = db.session.execute(
        update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if changed:
        events.publish_on_commit(channel_for(user.id), {"type": "notification:read"})
    db.session.commit()
    return changed
