"""Mail kept in the outbox because no SMTP server is configured (development and tests)."""
from __future__ import annotations

from flask import abort, request
from sqlalchemy import func, select

from sanctum.admin import bp
from sanctum.extensions import db
from sanctum.models import Mail
from sanctum.web.access import permission_required
from sanctum.web.render import render

PAGE_SIZE = 25


@bp.get("/outbox")
@permission_required("mail.outbox")
def outbox_index():
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    total = db.session.scalar(select(func.count()).select_from(Mail))
    mails = db.session.scalars(
        select(Mail).order_by(Mail.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return render("admin/outbox/index.html", "admin/outbox/_list.html", mails=mails, page_number=page,
                  has_next=page * PAGE_SIZE < total, total=total)


@bp.get("/outbox/<int:mail_id>")
@permission_required("mail.outbox")
def outbox_show(mail_id: int):
    mail = db.session.get(Mail, mail_id) or abort(404)
    return render("admin/outbox/show.html", "admin/outbox/_mail.html", mail=mail)
