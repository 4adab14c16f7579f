"""Publish, change, end and delete announcements; who sees which; dismissals.

Administration commits with its audit event. Every change that may alter a banner is followed,
after the commit, by `{"type": "announcements:changed"}` on the `announcements` channel: each
open page then re-renders its own banners (audience and dismissals applied per user).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from sanctum import audit, events
from sanctum.announcements import CHANNEL
from sanctum.extensions import db
from sanctum.models import ANNOUNCEMENT_LEVELS, Announcement, AnnouncementDismissal, Notification, Role, User
from sanctum.models.base import utcnow

TITLE_MAX, BODY_MAX = 200, 5000
BANNER_LIMIT = 5  # more at once is noise; the most severe and newest win
ENDED_SHOWN = 50
_SEVERITY = case({"critical": 0, "warning": 1}, value=Announcement.level, else_=2)


class AnnouncementError(ValueError):
    """Refused; the message is safe to show. `field` names the form field at fault."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


def facts(announcement: Announcement) -> dict:
    return {"title": announcement.title, "level": announcement.level,
            "starts_at": announcement.starts_at.isoformat(),
            "ends_at": announcement.ends_at.isoformat() if announcement.ends_at else None,
            "audience": sorted(announcement.audience_roles or []) or "everyone"}


def _changed() -> None:
    events.publish_on_commit(CHANNEL, {"type": "announcements:changed"})


def _validated(*, title: str, body: str, level: str, starts_at: Optional[datetime], ends_at: Optional[datetime],
               roles: list[str]) -> dict:
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise AnnouncementError("Give the announcement a title.", "title")
    if len(title) > TITLE_MAX:
        raise AnnouncementError(f"At most {TITLE_MAX} characters.", "title")
    if len(body) > BODY_MAX:
        raise AnnouncementError(f"At most {BODY_MAX} characters.", "body")
    if level not in ANNOUNCEMENT_LEVELS:
        raise AnnouncementError("Choose info, warning or critical.", "level")
    starts_at = starts_at or utcnow()
    if ends_at is not None and ends_at <= starts_at:
        raise AnnouncementError("The end must come after the start.", "ends_at")
    roles = sorted(set(roles or []))
    known = set(db.session.scalars(select(Role.name).where(Role.name.in_(roles)))) if roles else set()
    unknown = set(roles) - known
    if unknown:
        raise AnnouncementError(f"Unknown role: {', '.join(sorted(unknown))}.", "audience")
    return {"title": title, "body": body, "level": level, "starts_at": starts_at, "ends_at": ends_at,
            "audience_roles": roles}


def create_announcement(*, title: str, body: str, level: str, starts_at: Optional[datetime],
                        ends_at: Optional[datetime], roles: list[str], actor: User) -> Announcement:
    values = _validated(title=title, body=body, level=level, starts_at=starts_at, ends_at=ends_at, roles=roles)
    announcement = Announcement(**values, created_by_id=actor.id)
    db.session.add(announcement)
    db.session.flush()
    audit.record("announcement.created", actor=actor, target=announcement, details={"after": facts(announcement)})
    _notify_if_started(announcement)
    _changed()
    db.session.commit()
    return announcement


def update_announcement(*, announcement: Announcement, title: str, body: str, level: str,
                        starts_at: Optional[datetime], ends_at: Optional[datetime], roles: list[str],
                        actor: User) -> Announcement:
    values = _validated(title=title, body=body, level=level, starts_at=starts_at or announcement.starts_at,
                        ends_at=ends_at, roles=roles)
    before = facts(announcement)
    for key, value in values.items():
        setattr(announcement, key, value)
    announcement.updated_at = utcnow()
    audit.record("announcement.updated", actor=actor, target=announcement,
                 details={"before": before, "after": facts(announcement)})
    _notify_if_started(announcement)
    _changed()
    db.session.commit()
    return announcement


def end_announcement(*, announcement: Announcement, actor: User) -> Announcement:
    now = utcnow()
    if announcement.state(now) == "ended":
        raise AnnouncementError("This announcement has already ended.")
    before = facts(announcement)
    # A scheduled one ended before it began never shows (nor notifies): its window closes now.
    announcement.starts_at = min(announcement.starts_at, now)
    announcement.ends_at = now
    announcement.updated_at = now
    audit.record("announcement.ended", actor=actor, target=announcement,
                 details={"before": before, "after": facts(announcement)})
    _changed()
    db.session.commit()
    return announcement


def delete_announcement(*, announcement: Announcement, actor: User) -> None:
    audit.record("announcement.deleted", actor=actor, target=announcement, details={"before": facts(announcement)})
    db.session.delete(announcement)
    _changed()
    db.session.commit()


# ---------------------------------------------------------------- audience and notifications

def audience_ids(announcement: Announcement) -> list[int]:
    """Active users the announcement is for, in one query."""
    query = select(User.id).where(User.status == "active")
    if announcement.audience_roles:
        query = query.join(Role, Role.id == User.role_id).where(Role.name.in_(announcement.audience_roles))
    return list(db.session.scalars(query.order_by(User.id)))


def _notify_if_started(announcement: Announcement) -> bool:
    """Notify the audience once, when the announcement is (or becomes) current."""
    from sanctum.notifications import notify

    now = utcnow()
    if announcement.notified_at is not None or announcement.state(now) != "current":
        return False
    body = plain_text(announcement.body)
    body = body if len(body) <= 500 else body[:499] + "…"
    # The author wrote it and needs no bell for it.
    audience = [user_id for user_id in audience_ids(announcement) if user_id != announcement.created_by_id]
    notify(audience, "announcement", announcement.title, body=body or None)
    announcement.notified_at = now
    return True


def plain_text(markdown: str) -> str:
    """The words of a Markdown body without its markup (notifications are plain text)."""
    import html

    import nh3

    from sanctum.chat.render import render_markdown

    return html.unescape(nh3.clean(str(render_markdown(markdown)), tags=set())).strip()


def start_due_announcements(*, window: timedelta = timedelta(minutes=2)) -> dict[str, int]:
    """The periodic job: scheduled announcements that have begun notify their audience (once),
    and open pages re-render their banners when one began or ended within `window`. Commits."""
    now = utcnow()
    due = db.session.scalars(select(Announcement).where(
        Announcement.notified_at.is_(None), Announcement.starts_at <= now,
        or_(Announcement.ends_at.is_(None), Announcement.ends_at > now)).order_by(Announcement.id)).all()
    started = sum(_notify_if_started(announcement) for announcement in due)
    recently_ended = db.session.scalar(select(Announcement.id).where(
        Announcement.ends_at > now - window, Announcement.ends_at <= now).limit(1)) is not None
    if started or recently_ended:
        _changed()
    db.session.commit()
    return {"started": started, "ended": int(recently_ended)}


# ---------------------------------------------------------------- what a user sees

def _shown_to(user: User):
    """Current and not dismissed by `user`: the condition every banner query uses."""
    now = utcnow()
    dismissed = exists().where(AnnouncementDismissal.announcement_id == Announcement.id,
                               AnnouncementDismissal.user_id == user.id)
    return and_(Announcement.starts_at <= now, or_(Announcement.ends_at.is_(None), Announcement.ends_at > now),
                ~dismissed)


def _for_role(user: User, rows) -> list[Announcement]:
    """The audience is a short list of role names, checked here (the user's role came with the user)."""
    role = user.role.name if user.role is not None else ""
    return [row for row in rows if row is not None and row.reaches(role)][:BANNER_LIMIT]


_ORDER = (_SEVERITY, Announcement.starts_at.desc(), Announcement.id.desc())


def banners_for(user: Optional[User]) -> list[Announcement]:
    """The current announcements this user has not dismissed: one query."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return _for_role(user, db.session.scalars(select(Announcement).where(_shown_to(user)).order_by(*_ORDER)))


@dataclass
class Header:
    unread: int
    banners: list[Announcement]


def header_for(user: User) -> Header:
    """What every full page's header needs, in ONE statement: the bell's unread count, outer-joined
    to the user's banners (a row per banner, or one row with no banner)."""
    unread = select(func.count().label("unread")).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)).subquery()
    rows = db.session.execute(select(unread.c.unread, Announcement).select_from(unread)
                              .outerjoin(Announcement, _shown_to(user)).order_by(*_ORDER)).all()
    return Header(unread=rows[0][0] if rows else 0, banners=_for_role(user, (row[1] for row in rows)))


def visible_announcement(*, user: User, announcement_id: int) -> Announcement:
    """An announcement this user is shown now; any other is as absent as a missing one."""
    announcement = db.session.get(Announcement, announcement_id)
    role = user.role.name if user.role is not None else ""
    if announcement is None or announcement.state(utcnow()) != "current" or not announcement.reaches(role):
        raise LookupError(announcement_id)
    return announcement


def dismiss_announcement(*, user: User, announcement_id: int) -> Announcement:
    """Remember that `user` closed the banner (idempotent). Commits."""
    announcement = visible_announcement(user=user, announcement_id=announcement_id)
    if not announcement.dismissible:
        raise AnnouncementError("Critical announcements stay until they end.")
    already = db.session.scalar(select(AnnouncementDismissal.id).where(
        AnnouncementDismissal.user_id == user.id, AnnouncementDismissal.announcement_id == announcement.id))
    if already is None:
        db.session.add(AnnouncementDismissal(user_id=user.id, announcement_id=announcement.id))
        try:
            db.session.commit()
        except IntegrityError:  # the same user's other tab got there first
            db.session.rollback()
    return announcement


@dataclass
class Overview:
    current: list[Announcement]
    scheduled: list[Announcement]
    ended: list[Announcement]


def overview() -> Overview:
    """The admin list: current and scheduled in full, the most recently ended few."""
    now = utcnow()
    live = db.session.scalars(select(Announcement).options(joinedload(Announcement.created_by)).where(
        or_(Announcement.ends_at.is_(None), Announcement.ends_at > now))
        .order_by(Announcement.starts_at, Announcement.id)).all()
    ended = db.session.scalars(select(Announcement).options(joinedload(Announcement.created_by)).where(
        Announcement.ends_at <= now).order_by(Announcement.ends_at.desc(), Announcement.id.desc())
        .limit(ENDED_SHOWN)).all()
    return Overview(current=[a for a in live if a.starts_at <= now], scheduled=[a for a in live if a.starts_at > now],
                    ended=list(ended))
