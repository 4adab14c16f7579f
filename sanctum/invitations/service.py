"""Invitations: invite, send again, revoke, accept, expire. Each change is audited with
before/after in the transaction that makes it.

The mailed token is 256 random bits; only its SHA-256 is stored. It travels in the query
string of the accept page, never in the path (which request logs, metrics and error reports
name), and that page sends no Referer onward. It works once: accepting flips the row from
`pending` in a single conditional UPDATE, so two racing submissions cannot both create an
account.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Optional
from urllib.parse import urljoin

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from sanctum import audit
from sanctum.auth.service import AccountError, create_user
from sanctum.auth.sessions import hash_token
from sanctum.extensions import db
from sanctum.mail.service import queue_mail
from sanctum.models import Invitation, Role, User
from sanctum.models.base import utcnow
from sanctum.notifications import notify
from sanctum.rbac.service import effective_permissions

EXPIRY_CHOICES = {"1": "1 day", "3": "3 days", "7": "7 days", "14": "14 days", "30": "30 days"}
STATUS_FILTERS = ("pending", "accepted", "revoked", "expired")
PAGE_SIZE = 50
DEAD_LINK = "This invitation link has expired, was revoked or was already used. Ask for a new invitation."

# Called as hook(invitation, user) inside the accepting transaction (discovery links use it).
ACCEPT_HOOKS: list[Callable[[Invitation, User], None]] = []


class InvitationError(ValueError):
    """Refused; the message is safe to show. `field` names the form field at fault."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- rules shared with the import

def normalise_email(raw: str) -> str:
    raw = (raw or "").strip()
    if not raw:
        raise InvitationError("Give an email address.", "email")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvitationError(f"That is not a valid email address: {exc}", "email") from exc
    email = result.normalized.lower()
    if len(email) > 254:
        raise InvitationError("That email address is too long.", "email")
    return email


def invitable_roles(actor: User) -> list[Role]:
    """Roles `actor` may invite people into: none granting more than the actor holds, so
    `invitations.manage` alone is not a way to mint an administrator."""
    mine = effective_permissions(actor, ignore_credential=True)
    roles = db.session.scalars(select(Role).options(selectinload(Role.permissions))
                               .order_by(Role.is_builtin.desc(), Role.name)).all()
    return [role for role in roles if {p.name for p in role.permissions} <= mine]


def role_for(name: str, actor: User, allowed: Optional[list[Role]] = None) -> Role:
    allowed = invitable_roles(actor) if allowed is None else allowed
    for role in allowed:
        if role.name == (name or "").strip().lower():
            return role
    if db.session.scalar(select(Role.id).where(Role.name == (name or "").strip().lower())) is None:
        raise InvitationError(f"There is no role called “{name}”.", "role")
    raise InvitationError(f"You cannot invite people as “{name}”: it grants more than you hold.", "role")


def valid_days(raw) -> int:
    if str(raw) not in EXPIRY_CHOICES:
        raise InvitationError("Choose how long the invitation stays valid.", "expires")
    return int(raw)


def accept_link(token: str) -> str:
    """Built from BASE_URL, never the request's Host header, and usable from a job."""
    # Only the path is built here; the host comes from BASE_URL below.
    path = current_app.url_map.bind("localhost").build("invitations.invitations_accept", {"token": token})
    return urljoin(current_app.config["BASE_URL"].rstrip("/") + "/", path.lstrip("/"))


def expire_stale(emails: list[str]) -> None:
    """Mark pending invitations whose time is up as expired, before a new one takes the address."""
    stale = db.session.scalars(select(Invitation).where(
        Invitation.email.in_(emails), Invitation.status == "pending", Invitation.expires_at <= utcnow())).all()
    for invitation in stale:
        _expire(invitation)


def issue(*, email: str, role: Role, days: int, note: Optional[str], actor: User) -> Invitation:
    """Insert, mail and audit one invitation; the caller has checked the rules and commits."""
    invitation, token = prepare(email=email, role=role, days=days, note=note, actor=actor)
    db.session.add(invitation)
    db.session.flush()
    send(invitation, token, actor)
    audit.record("invitation.created", actor=actor, target=invitation, details={"after": facts(invitation)})
    return invitation


def prepare(*, email: str, role: Role, days: int, note: Optional[str], actor: User,
            batch_id: Optional[int] = None) -> tuple[Invitation, str]:
    """A new invitation row (not yet added) and its raw token, which exists only until mailed."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    invitation = Invitation(email=email, role=role, token_hash=hash_token(token), status="pending",
                            note=(note or "").strip()[:500] or None, valid_days=days, invited_by_id=actor.id,
                            batch_id=batch_id, created_at=now, updated_at=now, expires_at=now + timedelta(days=days),
                            last_sent_at=now, send_count=1)
    return invitation, token


def send(invitation: Invitation, token: str, actor: User) -> None:
    queue_mail(to=invitation.email, subject="You are invited to Sanctum", template="mail/invitation.txt",
               invitation=invitation, inviter=actor.name, role=invitation.role.name, link=accept_link(token))


def facts(invitation: Invitation) -> dict:
    return {"email": invitation.email, "role": invitation.role.name if invitation.role else None,
            "status": invitation.effective_status, "expires_at": invitation.expires_at.isoformat(),
            "batch_id": invitation.batch_id}


def _expire(invitation: Invitation) -> None:
    invitation.status = "expired"
    audit.record("invitation.expired", target=invitation,
                 details={"before": {"status": "pending"}, "after": {"status": "expired"},
                          "expired_at": invitation.expires_at.isoformat()})


# ---------------------------------------------------------------- single invitations

def create_invitation(*, email: str, role: str, days, note: str, actor: User) -> Invitation:
    invitation = new_invitation(email=email, role=role, days=days, note=note, actor=actor)
    commit_or_duplicate()
    return invitation


def new_invitation(*, email: str, role: str, days, note: str, actor: User) -> Invitation:
    """Check the rules and issue one invitation in the caller's transaction."""
    email = normalise_email(email)
    chosen = role_for(role, actor)
    days = valid_days(days)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise InvitationError("An account already uses that address.", "email")
    expire_stale([email])
    if _pending_for(email) is not None:
        raise InvitationError("That address already has a pending invitation: send it again from the list.",
                              "email")
    return issue(email=email, role=chosen, days=days, note=note, actor=actor)


def _pending_for(email: str, *, other_than: Optional[int] = None) -> Optional[Invitation]:
    query = select(Invitation).where(Invitation.email == email, Invitation.status == "pending")
    if other_than is not None:
        query = query.where(Invitation.id != other_than)
    return db.session.scalar(query)


def commit_or_duplicate() -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:  # another admin invited the same address a moment ago
        db.session.rollback()
        raise InvitationError("That address already has a pending invitation.", "email") from exc


def get_invitation(invitation_id: int) -> Optional[Invitation]:
    return db.session.get(Invitation, invitation_id)


def resend_invitation(*, invitation: Invitation, actor: User) -> Invitation:
    """A new token and a fresh validity period; the token mailed before stops working."""
    if invitation.status not in ("pending", "expired"):
        raise InvitationError(f"This invitation was {invitation.status}; it cannot be sent again.")
    if db.session.scalar(select(User.id).where(User.email == invitation.email)) is not None:
        raise InvitationError("An account already uses that address.")
    if invitation.role is None:
        raise InvitationError("The role of this invitation no longer exists; invite again with another role.")
    role_for(invitation.role.name, actor)
    if _pending_for(invitation.email, other_than=invitation.id) is not None:
        raise InvitationError("That address has another pending invitation.")
    before = {"status": invitation.effective_status, "expires_at": invitation.expires_at.isoformat(),
              "send_count": invitation.send_count}
    token = secrets.token_urlsafe(32)
    now = utcnow()
    invitation.token_hash = hash_token(token)
    invitation.status = "pending"
    invitation.expires_at = now + timedelta(days=invitation.valid_days)
    invitation.last_sent_at = now
    invitation.send_count += 1
    send(invitation, token, actor)
    audit.record("invitation.resent", actor=actor, target=invitation, details={
        "email": invitation.email, "before": before,
        "after": {"status": "pending", "expires_at": invitation.expires_at.isoformat(),
                  "send_count": invitation.send_count}})
    commit_or_duplicate()
    return invitation


def revoke_invitation(*, invitation: Invitation, actor: User) -> Invitation:
    if invitation.status != "pending":
        raise InvitationError(f"This invitation was already {invitation.status}.")
    before = invitation.effective_status
    invitation.status = "revoked"
    invitation.revoked_at = utcnow()
    audit.record("invitation.revoked", actor=actor, target=invitation,
                 details={"email": invitation.email, "before": {"status": before}, "after": {"status": "revoked"}})
    db.session.commit()
    return invitation


# ---------------------------------------------------------------- accepting

def live_invitation(token: str) -> Invitation:
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token or "")))
    if invitation is None or invitation.effective_status != "pending":
        raise InvitationError(DEAD_LINK)
    if invitation.role is None:
        raise InvitationError("The role this invitation was for no longer exists. Ask for a new invitation.")
    return invitation


def accept_invitation(*, token: str, username: str, password: str, display_name: Optional[str]) -> User:
    """Create the account; following the mailed link proved the address. Commits."""
    invitation = live_invitation(token)
    now = utcnow()
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.status == "pending",
               Invitation.token_hash == hash_token(token), Invitation.expires_at > now)
        .values(status="accepted", accepted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise InvitationError(DEAD_LINK)
    try:
        user = create_user(username=username, email=invitation.email, password=password,
                           role=invitation.role.name, status="active", display_name=display_name,
                           verified=True, action="user.created_from_invitation")
    except AccountError as exc:
        db.session.rollback()
        if exc.field == "email":
            raise InvitationError("An account already uses this email address. Sign in, or reset its password "
                                  "from the sign-in page.") from exc
        raise InvitationError(str(exc), exc.field) from exc
    invitation.status, invitation.accepted_at, invitation.accepted_user_id = "accepted", now, user.id
    audit.record("invitation.accepted", actor=user, target=invitation, details={
        "email": invitation.email, "before": {"status": "pending"},
        "after": {"status": "accepted", "user_id": user.id, "role": invitation.role.name}})
    notify([invitation.invited_by_id], "invitation.accepted", f"{user.name} accepted your invitation",
           body=f"{invitation.email} joined as {invitation.role.name}.", link=f"/admin/users/{user.id}")
    for hook in ACCEPT_HOOKS:
        hook(invitation, user)
    try:
        db.session.commit()
    except IntegrityError as exc:  # the username was taken between the check and the commit
        db.session.rollback()
        raise InvitationError("That username is taken.", "username") from exc
    return user


# ---------------------------------------------------------------- housekeeping

def expire_invitations(batch: int = 500) -> int:
    """The periodic job: mark invitations whose time is up, each with its audit event."""
    total = 0
    while True:
        rows = db.session.scalars(select(Invitation).where(
            Invitation.status == "pending", Invitation.expires_at <= utcnow()).order_by(Invitation.id).limit(batch)).all()
        for invitation in rows:
            _expire(invitation)
        db.session.commit()
        total += len(rows)
        if len(rows) < batch:
            return total


# ---------------------------------------------------------------- listing

@dataclass
class InvitationPage:
    rows: list[Invitation]
    total: int
    page: int

    @property
    def has_next(self) -> bool:
        return self.page * PAGE_SIZE < self.total


def _status_clause(status: Optional[str]):
    now = utcnow()
    if status == "pending":
        return (Invitation.status == "pending") & (Invitation.expires_at > now)
    if status == "expired":
        return (Invitation.status == "expired") | ((Invitation.status == "pending") & (Invitation.expires_at <= now))
    if status in ("accepted", "revoked"):
        return Invitation.status == status
    return None


def list_invitations(*, status: Optional[str], q: str = "", page: int = 1) -> InvitationPage:
    query = select(Invitation)
    count = select(func.count()).select_from(Invitation)
    clause = _status_clause(status)
    if clause is not None:
        query, count = query.where(clause), count.where(clause)
    q = (q or "").strip().lower()
    if q:
        match = Invitation.email.contains(q, autoescape=True)
        query, count = query.where(match), count.where(match)
    rows = db.session.scalars(query.order_by(Invitation.created_at.desc(), Invitation.id.desc())
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).unique().all()
    return InvitationPage(rows=list(rows), total=db.session.scalar(count), page=page)


def status_counts() -> dict[str, int]:
    """How many invitations each filter tab holds, in one query."""
    effective = case(((Invitation.status == "pending") & (Invitation.expires_at <= utcnow()), "expired"),
                     else_=Invitation.status)
    counts = dict(db.session.execute(select(effective, func.count()).group_by(effective)).all())
    return {status: counts.get(status, 0) for status in STATUS_FILTERS}
