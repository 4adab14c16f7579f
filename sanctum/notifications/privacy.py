"""A person's notifications and announcement dismissals in their data export; erasure deletes them
(they may quote sanction reasons and other personal details)."""
from __future__ import annotations

from sqlalchemy import delete, select

from sanctum.extensions import db
from sanctum.models import AnnouncementDismissal, Notification, User
from sanctum.privacy.registry import ErasureContext, eraser, exporter, iso


@exporter("notifications", "Notifications sent to you")
def export_notifications(user: User) -> dict:
    rows = db.session.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))
    dismissed = db.session.scalars(select(AnnouncementDismissal).where(AnnouncementDismissal.user_id == user.id)
                                   .order_by(AnnouncementDismissal.id))
    return {
        "notifications": [{"kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
                           "created_at": iso(n.created_at), "read_at": iso(n.read_at)} for n in rows],
        "announcements_dismissed": [{"announcement_id": d.announcement_id, "dismissed_at": iso(d.dismissed_at)}
                                    for d in dismissed],
    }


@eraser("notifications")
def erase_notifications(ctx: ErasureContext) -> dict:
    removed = db.session.execute(delete(Notification).where(Notification.user_id == ctx.user.id)
                                 .execution_options(synchronize_session=False)).rowcount
    dismissals = db.session.execute(delete(AnnouncementDismissal).where(AnnouncementDismissal.user_id == ctx.user.id)
                                    .execution_options(synchronize_session=False)).rowcount
    return {"notifications_deleted": removed, "dismissals_deleted": dismissals}
