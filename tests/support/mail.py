"""Reading mail the way a person would: an SMTP server on loopback, or the outbox, then the link."""
from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import Mail

_LINK = re.compile(r"https?://\S+")


def link_in(body: str) -> str:
    """The one link a mail carries, as the reader would copy it."""
    links = _LINK.findall(body)
    assert len(links) == 1, f"expected one link in the mail, found {links}"
    return links[0]


def local_path(link: str, base_url: str) -> str:
    """The path and query of a mailed link, after checking it points at the configured site."""
    assert link.startswith(base_url.rstrip("/") + "/"), f"{link} is not under {base_url}"
    parts = urlsplit(link)
    return parts.path + ("?" + parts.query if parts.query else "")


def outbox_mails(app, to: str) -> list[Mail]:
    with app.app_context():
        mails = db.session.scalars(select(Mail).where(Mail.to_address == to).order_by(Mail.id)).all()
        db.session.expunge_all()
        return list(mails)


def outbox_link(app, to: str) -> str:
    """The path of the link in the newest mail to `to` kept in the outbox."""
    mails = outbox_mails(app, to)
    assert mails, f"no mail to {to} in the outbox"
    return local_path(link_in(mails[-1].body), app.config["BASE_URL"])


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_content()


class _Handler:
    def __init__(self, inbox: "MailCatcher"):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        self.inbox.add(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


class MailCatcher:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.host = "127.0.0.1"
        self.port = _free_port()
        self._messages: list[Received] = []
        self._cond = threading.Condition()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def start(self) -> "MailCatcher":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def add(self, received: Received) -> None:
        with self._cond:
            self._messages.append(received)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()

    def messages_to(self, address: str) -> list[Received]:
        with self._cond:
            return [m for m in self._messages if address in m.recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        """The first `count` mails to `address`, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self._messages if address in m.recipients]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} of {count} mail(s) to {address} arrived within {timeout}s")
                self._cond.wait(left)

    def config(self) -> dict:
        """App settings that send through this server."""
        return {"SMTP_HOST": self.host, "SMTP_PORT": self.port, "SMTP_SECURITY": "none"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- outbox helpers used by the invitation tests

def mails_to(app, address: str) -> list[Mail]:
    return outbox_mails(app, address)


def last_link(app, address: str) -> str:
    """The full link in the newest mail to `address` kept in the outbox."""
    mails = outbox_mails(app, address)
    assert mails, f"no mail to {address}"
    return link_in(mails[-1].body or "")


def token_of(link: str) -> str:
    from urllib.parse import parse_qs

    return parse_qs(urlsplit(link).query)["token"][0]


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return parts.path + "?" + parts.query
