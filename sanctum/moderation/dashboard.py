"""Moderation on the admin dashboard and in data-rights exports and erasure (registries)."""
from __future__ import annotations

from datetime import date

from flask import url_for
from sqlalchemy import delete, func, select

from sanctum import dashboard
from sanctum.extensions import db
from sanctum.models import Flag, ModerationItem, Sanction
from sanctum.privacy.registry import eraser, exporter


@dashboard.stats("moderation", order=40)
def moderation_numbers(today: date):
    # One statement for both numbers: the dashboard's query budget is small.
    open_items, in_force = db.session.execute(select(
        select(func.count()).select_from(ModerationItem).where(ModerationItem.state == "open").scalar_subquery(),
        select(func.count()).select_from(Sanction).where(Sanction.is_active.is_(True)).scalar_subquery(),
    )).one()
    yield dashboard.Stat("Open moderation items", open_items, url_for("moderation.queue_index"),
                         hint="flags and screening hits waiting for a moderator", tone="warn" if open_items else "")
    yield dashboard.Stat("Sanctions in force", in_force, url_for("moderation.sanctions_index"),
                         hint="bans and restrictions not yet ended")


@exporter("moderation", "Flags you raised and sanctions applied to you", position=170)
def export_moderation(user):
    flags = db.session.scalars(select(Flag).where(Flag.reporter_id == user.id).order_by(Flag.id)).all()
    sanctions = db.session.scalars(select(Sanction).where(Sanction.user_id == user.id).order_by(Sanction.id)).all()
    return {
        "flags": [{"message_id": f.message_id, "reason": f.reason, "note": f.note, "outcome": f.outcome,
                   "created_at": f.created_at.isoformat()} for f in flags],
        "sanctions": [{"type": s.type, "reason": s.reason, "applied_at": s.applied_at.isoformat(),
                       "expires_at": s.expires_at.isoformat() if s.expires_at else None, "is_active": s.is_active,
                       "end_reason": s.end_reason} for s in sanctions],
    }


@eraser("moderation")
def erase_moderation(ctx):
    """The person's flags go; items about their chats keep the moderators' record but lose the
    person (user_id) and the quoted words."""
    flags = db.session.execute(delete(Flag).where(Flag.reporter_id == ctx.user.id)).rowcount
    items = db.session.execute(ModerationItem.__table__.update().where(ModerationItem.user_id == ctx.user.id)
                               .values(user_id=None, excerpt="[erased]")).rowcount
    return {"flags": flags, "items": items}
