"""Invitations in a person's data export, and what erasing them does to invitations."""
from __future__ import annotations

import re

from sqlalchemy import or_, select, update

from sanctum.extensions import db
from sanctum.models import Invitation, InvitationBatch, InvitationBatchRow, User
from sanctum.privacy.registry import ErasureContext, eraser, exporter, iso


@exporter("invitations", "Invitations to you, and those you sent")
def export_invitations(user: User) -> dict:
    received = db.session.scalars(select(Invitation).where(
        or_(Invitation.email == user.email, Invitation.accepted_user_id == user.id)).order_by(Invitation.id))
    sent = db.session.scalars(select(Invitation).where(Invitation.invited_by_id == user.id).order_by(Invitation.id))
    return {
        "received": [{"email": i.email, "role": i.role.name if i.role else None, "status": i.effective_status,
                      "invited_by": i.invited_by.username if i.invited_by else None,
                      "created_at": iso(i.created_at), "expires_at": iso(i.expires_at),
                      "accepted_at": iso(i.accepted_at)} for i in received],
        # The addresses you invited are those people's data, not yours: counted, not listed.
        "sent": [{"created_at": iso(i.created_at), "status": i.effective_status,
                  "role": i.role.name if i.role else None} for i in sent],
    }


@eraser("invitations")
def erase_invitations(ctx: ErasureContext) -> dict:
    revoked = db.session.execute(
        update(Invitation).where(Invitation.email == ctx.old_email, Invitation.status == "pending")
        .values(status="revoked", revoked_at=ctx.now).execution_options(synchronize_session=False)).rowcount
    anonymised = db.session.execute(
        update(Invitation).where(or_(Invitation.email == ctx.old_email, Invitation.accepted_user_id == ctx.user.id))
        .values(email=ctx.placeholder_email, note=None).execution_options(synchronize_session=False)).rowcount
    rows = db.session.execute(
        update(InvitationBatchRow).where(InvitationBatchRow.email == ctx.old_email)
        .values(email=ctx.placeholder_email).execution_options(synchronize_session=False)).rowcount
    files = 0
    # An unfinished import still holds its file: take the address out of it too.
    pattern = re.compile(re.escape(ctx.old_email), re.IGNORECASE)
    for batch in db.session.scalars(select(InvitationBatch).where(InvitationBatch.content.is_not(None))):
        if pattern.search(batch.content):
            batch.content = pattern.sub(ctx.placeholder_email, batch.content)
            files += 1
    return {"pending_revoked": revoked, "anonymised": anonymised, "import_rows_anonymised": rows,
            "import_files_scrubbed": files}
