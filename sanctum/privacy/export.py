"""The export document and the sections about the account itself.

Features add their own sections through `sanctum.privacy.registry` (invitations, Broca
links here; chats and flags when those features exist). Secrets never leave: no password
hash, no token hashes, no mail bodies (they carry single-use links).
"""
from __future__ import annotations

from typing import Callable, Optional

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from sanctum.extensions import db
from sanctum.models import ApiToken, AuditEvent, Mail, User, UserPermission, UserSession
from sanctum.models.base import utcnow
from sanctum.privacy.registry import exporter, exporters, iso

FORMAT = "sanctum-export"
VERSION = 1
AUDIT_BATCH = 1000


@exporter("profile", "Profile and role", position=10)
def export_profile(user: User) -> dict:
    return {
        "id": user.id, "username": user.username, "email": user.email, "display_name": user.display_name,
        "role": user.role.name, "role_permissions": sorted(p.name for p in user.role.permissions),
        "status": user.status, "email_verified_at": iso(user.email_verified_at),
        "created_at": iso(user.created_at), "updated_at": iso(user.updated_at), "last_login": iso(user.last_login),
        "password_changed_at": iso(user.password_changed_at),
    }


@exporter("sessions", "Sessions (where you signed in)", position=20)
def export_sessions(user: User) -> list[dict]:
    rows = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                              .order_by(UserSession.created_at))
    return [{"id": s.id, "kind": s.kind, "ip": s.ip, "user_agent": s.user_agent, "remember": s.remember,
             "created_at": iso(s.created_at), "last_used_at": iso(s.last_used_at), "expires_at": iso(s.expires_at),
             "revoked_at": iso(s.revoked_at), "revoked_reason": s.revoked_reason} for s in rows]


@exporter("grants", "Permissions granted to you directly", position=30)
def export_grants(user: User) -> list[dict]:
    rows = db.session.scalars(select(UserPermission).options(joinedload(UserPermission.permission))
                              .where(UserPermission.user_id == user.id).order_by(UserPermission.granted_at)).all()
    granters = _usernames({g.granted_by_user_id for g in rows if g.granted_by_user_id})
    return [{"permission": g.permission.name, "granted_at": iso(g.granted_at), "expires_at": iso(g.expires_at),
             "granted_by": granters.get(g.granted_by_user_id), "granted_by_event": g.granted_by_event,
             "active": g.is_active, "revoked_at": iso(g.revoked_at)} for g in rows]


@exporter("api_tokens", "Personal API tokens", position=40)
def export_api_tokens(user: User) -> list[dict]:
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at))
    return [{"name": t.name, "prefix": t.prefix, "scopes": t.scopes, "created_at": iso(t.created_at),
             "expires_at": iso(t.expires_at), "last_used_at": iso(t.last_used_at), "last_used_ip": t.last_used_ip,
             "revoked_at": iso(t.revoked_at)} for t in rows]


@exporter("audit_events", "Audit events by you or about you", position=900)
def export_audit_events(user: User) -> list[dict]:
    about = or_(AuditEvent.actor_id == user.id,
                (AuditEvent.target_type == "user") & (AuditEvent.target_id == str(user.id)))
    events, last_seq = [], 0
    while True:  # in batches: a long-lived account has many sign-ins
        batch = db.session.scalars(select(AuditEvent).where(about, AuditEvent.seq > last_seq)
                                   .order_by(AuditEvent.seq).limit(AUDIT_BATCH)).all()
        for e in batch:
            events.append({"seq": e.seq, "created_at": iso(e.created_at), "action": e.action, "outcome": e.outcome,
                           "actor": e.actor_label, "target_type": e.target_type, "target_id": e.target_id,
                           "ip": e.ip, "user_agent": e.user_agent, "request_id": e.request_id,
                           "details": e.details})
        if len(batch) < AUDIT_BATCH:
            return events
        last_seq = batch[-1].seq
        db.session.expunge_all()


@exporter("mails", "Mail sent to you", position=60)
def export_mails(user: User) -> list[dict]:
    rows = db.session.scalars(select(Mail).where(Mail.to_address == user.email).order_by(Mail.created_at))
    return [{"subject": m.subject, "status": m.status, "created_at": iso(m.created_at), "sent_at": iso(m.sent_at)}
            for m in rows]


def _usernames(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def section_labels() -> list[str]:
    return [label for _name, label, _fn in exporters()]


def build_document(user_id: int, requested_by_id: int,
                   progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """Every registered section, in order; `progress(done, total)` after each."""
    sections = {}
    registered = exporters()
    for done, (name, _label, fn) in enumerate(registered, start=1):
        user = db.session.get(User, user_id)  # reloaded: a section may clear the session
        sections[name] = fn(user)
        if progress:
            progress(done, len(registered))
    requester = db.session.get(User, requested_by_id)
    return {
        "format": FORMAT, "version": VERSION, "generated_at": iso(utcnow()),
        "user_id": user_id, "requested_by": requester.username if requester else None,
        "sections": sections,
    }
