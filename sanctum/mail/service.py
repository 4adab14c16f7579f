"""Queue mail: over SMTP by a job when configured, else kept in the outbox for admins.

Bodies are never logged (they carry single-use links) and are cleared once SMTP
has taken them.
"""
from __future__ import annotations

import logging

from flask import render_template

from sanctum import jobs
from sanctum.extensions import db
from sanctum.models import Mail
from sanctum.settings.service import get_setting

log = logging.getLogger(__name__)


def queue_mail(*, to: str, subject: str, template: str, **context) -> Mail:
    """Record a mail in the caller's transaction; it is sent after commit."""
    body = render_template(template, **context)
    transport = "smtp" if get_setting("smtp_host") else "outbox"
    mail = Mail(to_address=to, subject=subject, body=body, transport=transport,
                status="queued" if transport == "smtp" else "kept")
    db.session.add(mail)
    db.session.flush()
    if transport == "smtp":
        jobs.enqueue("sanctum.mail.jobs.send_mail", mail.id, description=f"mail {mail.id}")
    else:
        log.info("mail %s (%r) kept in the outbox: no SMTP server is configured", mail.id, subject)
    return mail
