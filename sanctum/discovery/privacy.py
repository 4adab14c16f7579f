"""Broca links in a person's data export, and their removal on erasure."""
from __future__ import annotations

from sqlalchemy import delete, or_, select

from sanctum.extensions import db
from sanctum.models import BrocaLink, BrocaSource, Invitation, User
from sanctum.privacy.registry import ErasureContext, eraser, exporter, iso


@exporter("broca_links", "Your accounts found in Broca databases")
def export_links(user: User) -> list[dict]:
    rows = db.session.execute(select(BrocaLink, BrocaSource.name).join(BrocaSource)
                              .where(BrocaLink.user_id == user.id).order_by(BrocaLink.id)).unique().all()
    return [{"broca_database": name, "letta_user_id": link.letta_user_id, "label": link.label,
             "profiles": link.profiles, "linked_at": iso(link.linked_at)} for link, name in rows]


@eraser("broca_links")
def erase_links(ctx: ErasureContext) -> dict:
    invited = select(Invitation.id).where(Invitation.email == ctx.old_email)
    removed = db.session.execute(delete(BrocaLink).where(
        or_(BrocaLink.user_id == ctx.user.id, BrocaLink.invitation_id.in_(invited)))).rowcount
    return {"links_deleted": removed}
