"""The SMTP sender, run as a job."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

from sanctum.extensions import db
from sanctum.models import Mail
from sanctum.models.base import utcnow


def send_mail(mail_id: int) -> None:
    mail = db.session.get(Mail, mail_id)
    if mail is None or mail.status == "sent":
        return  # idempotent: a retried job does not send twice
    config = smtp_config()
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain="sanctum.local")
    message.set_content(mail.body or "")
    try:
        _deliver(message, config)
    except (smtplib.SMTPException, OSError) as exc:
        mail.error = f"{exc.__class__.__name__}: {exc}"[:1000]
        mail.status = "failed"
        db.session.commit()
        raise  # the job is retried; the last failure stays on the mail row
    mail.status, mail.sent_at, mail.error, mail.body = "sent", utcnow(), None, None
    db.session.commit()


def smtp_config() -> dict:
    """The effective SMTP settings: the settings page's values over the configured defaults."""
    from sanctum.settings.service import get_setting

    return {
        "SMTP_HOST": get_setting("smtp_host"),
        "SMTP_PORT": get_setting("smtp_port"),
        "SMTP_SECURITY": get_setting("smtp_security"),
        "SMTP_USERNAME": get_setting("smtp_username"),
        "SMTP_PASSWORD": get_setting("smtp_password"),
        "SMTP_TIMEOUT": current_app.config["SMTP_TIMEOUT"],
        "MAIL_FROM": get_setting("mail_from"),
    }


def _deliver(message: EmailMessage, config) -> None:
    host, port, timeout = config["SMTP_HOST"], int(config["SMTP_PORT"]), config["SMTP_TIMEOUT"]
    security = config["SMTP_SECURITY"]
    context = ssl.create_default_context()
    if security == "ssl":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if security == "starttls":
            client.starttls(context=context)
        if config["SMTP_USERNAME"]:
            client.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
        client.send_message(message)
