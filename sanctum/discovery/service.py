"""User discovery from Broca databases (seed 002): register files, list the people in them
who have no account here yet, invite them or link them to an existing account.

Each registration, invitation, link and unlink is audited in its own transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sanctum import audit
from sanctum.auth.service import find_user
from sanctum.discovery import broca
from sanctum.extensions import db
from sanctum.invitations import service as invitations
from sanctum.models import BrocaLink, BrocaSource, Invitation, User
from sanctum.models.base import utcnow

VIEWS = ("unlinked", "invited", "linked")
PER_PAGE = 50


class DiscoveryError(ValueError):
    """Refused; the message is safe to show. `field` names the form field at fault."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- sources

def list_sources() -> list[BrocaSource]:
    return list(db.session.scalars(select(BrocaSource).order_by(BrocaSource.name)))


def source_health(source: BrocaSource) -> dict:
    """Opened fresh each time: the file may have moved or broken since it was registered."""
    try:
        facts = broca.inspect(source.path)
    except broca.BrocaError as exc:
        return {"ok": False, "error": str(exc)}
    linked = db.session.scalar(select(func.count()).select_from(BrocaLink).where(
        BrocaLink.source_id == source.id, BrocaLink.user_id.is_not(None)))
    return {"ok": True, "people": facts["people"], "linked": linked, "has_messages": facts["has_messages"]}


def register_source(*, name: str, path: str, actor: User) -> BrocaSource:
    name = (name or "").strip()
    if not name:
        raise DiscoveryError("Give the database a name.", "name")
    try:
        path = broca.check_path(path, tuple(current_app.config.get("BROCA_ALLOWED_DIRS") or ()))
        with broca.connect(path) as conn:
            has_messages = broca.check_schema(conn, path)
    except broca.BrocaError as exc:
        raise DiscoveryError(str(exc), "path") from exc
    if db.session.scalar(select(BrocaSource.id).where(BrocaSource.name == name)) is not None:
        raise DiscoveryError("Another Broca database has that name.", "name")
    if db.session.scalar(select(BrocaSource.id).where(BrocaSource.path == path)) is not None:
        raise DiscoveryError("That file is registered already.", "path")
    source = BrocaSource(name=name, path=path, created_by_id=actor.id)
    db.session.add(source)
    db.session.flush()
    audit.record("discovery.source_registered", actor=actor, target=source,
                 details={"after": {"name": name, "path": path, "message_counts": has_messages}})
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise DiscoveryError("That file or name is registered already.", "path") from exc
    return source


def remove_source(*, source: BrocaSource, actor: User) -> None:
    """Forget the file and the links made from it; nothing in the file itself changes."""
    links = db.session.scalar(select(func.count()).select_from(BrocaLink).where(BrocaLink.source_id == source.id))
    audit.record("discovery.source_removed", actor=actor, target=source,
                 details={"before": {"name": source.name, "path": source.path}, "links_removed": links})
    db.session.delete(source)
    db.session.commit()


# ---------------------------------------------------------------- people

@dataclass
class Entry:
    """One row of the people list: the person as Broca has them now, and our link if any."""

    letta_user_id: int
    person: Optional[broca.Person]  # None when a linked person is gone from the file
    link: Optional[BrocaLink]

    @property
    def label(self) -> str:
        if self.person is not None:
            return self.person.label
        return self.link.label if self.link else f"Broca user {self.letta_user_id}"


@dataclass
class Listing:
    entries: list[Entry]
    total: int
    page: int
    view: str

    @property
    def has_next(self) -> bool:
        return self.page * PER_PAGE < self.total


def _links(source: BrocaSource) -> list[BrocaLink]:
    return list(db.session.scalars(select(BrocaLink).where(BrocaLink.source_id == source.id)).unique())


def browse(source: BrocaSource, *, view: str, q: str = "", page: int = 1) -> Listing:
    """`unlinked` reads the file, leaving out whoever is linked or invited; `invited` and
    `linked` page through our links and read just those people from the file."""
    links = _links(source)
    by_person = {link.letta_user_id: link for link in links}
    if view == "unlinked":
        taken = [link.letta_user_id for link in links if link.state != "unlinked"]
        people, total = broca.people(source.path, q=q, exclude=taken, page=page, per_page=PER_PAGE)
        return Listing([Entry(p.id, p, by_person.get(p.id)) for p in people], total, page, view)
    chosen = sorted((link for link in links if link.state == view and _matches(link, q)),
                    key=lambda link: (link.linked_at or link.created_at), reverse=True)
    window = chosen[(page - 1) * PER_PAGE:page * PER_PAGE]
    people, _total = broca.people(source.path, only=[link.letta_user_id for link in window], per_page=PER_PAGE)
    found = {p.id: p for p in people}
    return Listing([Entry(link.letta_user_id, found.get(link.letta_user_id), link) for link in window],
                   len(chosen), page, view)


def _matches(link: BrocaLink, q: str) -> bool:
    q = (q or "").strip().lower()
    if not q:
        return True
    haystack = [link.label] + [str(p.get(k) or "") for p in link.profiles for k in ("username", "display_name")]
    if link.user is not None:
        haystack += [link.user.username, link.user.email]
    return any(q in value.lower() for value in haystack)


def view_counts(source: BrocaSource) -> dict[str, int]:
    counts = {view: 0 for view in VIEWS if view != "unlinked"}
    for link in _links(source):
        if link.state in counts:
            counts[link.state] += 1
    return counts


def find_person(source: BrocaSource, letta_user_id: int) -> tuple[Optional[broca.Person], Optional[BrocaLink]]:
    link = db.session.scalar(select(BrocaLink).where(BrocaLink.source_id == source.id,
                                                     BrocaLink.letta_user_id == letta_user_id))
    return broca.person(source.path, letta_user_id), link


def _link_row(source: BrocaSource, person: broca.Person, link: Optional[BrocaLink], actor: User) -> BrocaLink:
    if link is None:
        link = BrocaLink(source_id=source.id, letta_user_id=person.id, created_at=utcnow())
        db.session.add(link)
    link.label = person.label[:255]
    link.profiles = [p.as_dict() for p in person.profiles]
    link.linked_by_id = actor.id
    return link


def invite_person(*, source: BrocaSource, letta_user_id: int, email: str, role: str, days, actor: User) -> Invitation:
    person, link = find_person(source, letta_user_id)
    if person is None:
        raise DiscoveryError("That person is not in this Broca database any more.")
    if link is not None and link.state != "unlinked":
        raise DiscoveryError(f"{person.label} is already {link.state}.")
    accounts = ", ".join(f"{p.platform} {p.username or p.platform_user_id}" for p in person.profiles)
    try:
        invitation = invitations.new_invitation(
            email=email, role=role, days=days, actor=actor,
            note=f"Found in Broca “{source.name}”: {accounts or person.label}"[:500])
    except invitations.InvitationError as exc:
        raise DiscoveryError(str(exc), exc.field) from exc
    before = link.state if link else "unlinked"
    link = _link_row(source, person, link, actor)
    link.invitation_id, link.user_id = invitation.id, None
    db.session.flush()
    audit.record("discovery.invited", actor=actor, target=link, details={
        "source_id": source.id, "letta_user_id": person.id, "invitation_id": invitation.id,
        "email": invitation.email, "before": before, "after": "invited"})
    try:
        invitations.commit_or_duplicate()
    except invitations.InvitationError as exc:
        raise DiscoveryError(str(exc), exc.field) from exc
    return invitation


def link_person(*, source: BrocaSource, letta_user_id: int, identifier: str, actor: User) -> BrocaLink:
    person, link = find_person(source, letta_user_id)
    if person is None:
        raise DiscoveryError("That person is not in this Broca database any more.")
    user = find_user(identifier)
    if user is None:
        raise DiscoveryError("No account has that username or email address.", "user")
    if link is not None and link.user_id is not None:
        raise DiscoveryError(f"{person.label} is already linked to {link.user.username}.")
    before = link.state if link else "unlinked"
    link = _link_row(source, person, link, actor)
    link.user_id, link.linked_at = user.id, utcnow()
    db.session.flush()
    audit.record("discovery.linked", actor=actor, target=link, details={
        "source_id": source.id, "letta_user_id": person.id, "user_id": user.id, "label": link.label,
        "before": before, "after": "linked"})
    db.session.commit()
    return link


def unlink(*, link: BrocaLink, actor: User) -> None:
    audit.record("discovery.unlinked", actor=actor, target=link, details={
        "source_id": link.source_id, "letta_user_id": link.letta_user_id,
        "before": {"state": link.state, "user_id": link.user_id, "invitation_id": link.invitation_id},
        "after": "unlinked"})
    db.session.delete(link)
    db.session.commit()


def _complete_links(invitation: Invitation, user: User) -> None:
    """An invitation made from discovery was accepted: its person is now this account."""
    for link in db.session.scalars(select(BrocaLink).where(BrocaLink.invitation_id == invitation.id,
                                                           BrocaLink.user_id.is_(None))):
        link.user_id, link.linked_at = user.id, utcnow()
        audit.record("discovery.linked", actor=user, target=link, details={
            "source_id": link.source_id, "letta_user_id": link.letta_user_id, "user_id": user.id,
            "via": "invitation", "invitation_id": invitation.id, "before": "invited", "after": "linked"})


invitations.ACCEPT_HOOKS.append(_complete_links)
