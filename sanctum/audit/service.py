"""Append audit events to a hash chain, and verify it.

`record()` never commits: the event lands or vanishes with the action it
describes. Request facts (ip, user agent, request id) come in as arguments or from
the current request context via `sanctum.web.request_facts`, never by this module
touching `request` itself.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Optional

from sqlalchemy import func, select, update

from sanctum.extensions import db
from sanctum.models import AuditChainHead, AuditEvent
from sanctum.models.base import utcnow

GENESIS_HASH = "0" * 64
OUTCOMES = ("success", "failure", "denied")
PURGE_ACTION = "audit.purged"  # the anchor a retention purge writes (sanctum.audit.retention)
# A key is secret when one of its words is one of these ("refresh_token", "smtp_password"),
# not when a word merely contains one ("tokens_per_day").
_SECRET_WORDS = re.compile(r"(^|_)(password|passwd|token|secret|api_?key|apikey|authorization|cookie|session_id)(_|$)")


def record(
    action: str,
    *,
    actor: Any = None,
    target: Any = None,
    target_type: Optional[str] = None,
    target_id: Any = None,
    outcome: str = "success",
    details: Optional[dict[str, Any]] = None,
    ip: Optional[str] = None,
    user_agent: Optional[str] = None,
    request_id: Optional[str] = None,
) -> AuditEvent:
    """Append one event to the chain inside the current transaction.

    `actor` and `target` may be model instances (their class name and id are used)
    or None. Keys that look like secrets are redacted from `details`.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    from sanctum.web.context import request_facts

    facts = request_facts()
    ip = ip if ip is not None else facts.ip
    user_agent = user_agent if user_agent is not None else facts.user_agent
    request_id = request_id if request_id is not None else facts.request_id
    if target is not None:
        target_type = target_type or _type_name(target)
        target_id = getattr(target, "id", target_id)

    session = db.session
    # Lock the chain head for the rest of this transaction (row lock on PostgreSQL, the
    # database write lock on SQLite), then read where the chain ends.
    seq, prev_hash = session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(last_seq=AuditChainHead.last_seq + 1)
        .returning(AuditChainHead.last_seq, AuditChainHead.last_hash)
    ).one()
    event = AuditEvent(
        seq=seq,
        created_at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor_label=_label(actor),
        action=action[:100],
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:100],
        outcome=outcome,
        ip=(ip or None) and ip[:64],
        user_agent=(user_agent or None) and user_agent[:512],
        request_id=request_id,
        details=redact(details or {}),
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=event.hash))
    return event


def append_many(rows: Iterable[dict[str, Any]], *, batch_size: int = 5000) -> int:
    """Append many events in one transaction, chained exactly as `record()` would: for imports,
    demo data and benchmarks. Each row is a dict of AuditEvent columns (action, created_at, …);
    `seq`, `prev_hash` and `hash` are computed here. The caller commits."""
    session = db.session
    head = session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1)
        .values(last_seq=AuditChainHead.last_seq).returning(AuditChainHead.last_seq, AuditChainHead.last_hash)
    ).one()  # the same lock `record()` takes, held until the caller commits
    seq, prev_hash, count = head.last_seq, head.last_hash, 0
    table = AuditEvent.__table__
    pending: list[dict[str, Any]] = []
    for row in rows:
        seq += 1
        event = SimpleNamespace(**{**_BLANK, **row, "seq": seq, "prev_hash": prev_hash,
                                   "details": redact(row.get("details") or {})})
        event.hash = prev_hash = event_hash(event)
        pending.append(vars(event))
        count += 1
        if len(pending) >= batch_size:
            session.execute(table.insert(), pending)
            pending = []
    if pending:
        session.execute(table.insert(), pending)
    session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(last_seq=seq, last_hash=prev_hash))
    return count


_BLANK: dict[str, Any] = {"actor_id": None, "actor_label": None, "target_type": None, "target_id": None,
                          "outcome": "success", "ip": None, "user_agent": None, "request_id": None}


def event_hash(event: AuditEvent) -> str:
    body = {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "outcome": event.outcome,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: Optional[int] = None
    reason: Optional[str] = None
    first_seq: Optional[int] = None  # where the kept chain starts (after a purge, past 1)
    last_seq: int = 0
    last_hash: str = GENESIS_HASH

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Anchor:
    """What the newest retention purge vouched for: rows up to `through_seq` may be gone,
    and the row after them must link to `through_hash`."""

    seq: int
    through_seq: int
    through_hash: str


def latest_anchor() -> Optional[Anchor]:
    row = db.session.execute(
        select(AuditEvent.seq, AuditEvent.details)
        .where(AuditEvent.action == PURGE_ACTION, AuditEvent.outcome == "success")
        .order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    if row is None or not isinstance(row.details, dict):
        return None
    try:
        return Anchor(row.seq, int(row.details["through_seq"]), str(row.details["through_hash"]))
    except (KeyError, TypeError, ValueError):
        return None


def verify_chain(batch_size: int = 5000, progress: Optional[Callable[[int], None]] = None) -> ChainReport:
    """Walk the chain in order; name the first row whose hash, link or place does not hold.

    The walk stops at the chain head as read at the start, so events appended meanwhile do
    not count as tampering. It rolls the session back as it goes: call it outside a unit
    of work (a job, the CLI). A chain that starts past row 1 is accepted only where the newest
    purge anchor (an `audit.purged` event, itself chained) says rows were purged.
    """
    head = db.session.get(AuditChainHead, 1, populate_existing=True)
    end_seq, end_hash = (head.last_seq, head.last_hash) if head is not None else (0, GENESIS_HASH)
    db.session.rollback()  # read the rows as they are now, not in the head's snapshot
    anchor = latest_anchor()
    columns = AuditEvent.__table__.c
    expected_prev, expected_seq = GENESIS_HASH, 1
    checked, last_seq, first_seq = 0, 0, None

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(False, checked, seq, reason, first_seq, end_seq, end_hash)

    while last_seq < end_seq:
        rows = db.session.execute(
            select(AuditEvent.__table__)
            .where(columns.seq > last_seq, columns.seq <= end_seq).order_by(columns.seq).limit(batch_size)
        ).all()
        if not rows:
            break
        for event in rows:
            if first_seq is None:
                first_seq = event.seq
                problem = _start_problem(event, anchor)
                if problem:
                    anchor = latest_anchor()  # a purge may have begun since we looked
                    problem = _start_problem(event, anchor)
                if problem:
                    return broken(*problem)
            elif event.seq != expected_seq:
                return broken(expected_seq, f"row {expected_seq} is missing")
            elif event.prev_hash != expected_prev:
                return broken(event.seq, "its link to the previous row does not match")
            if event_hash(event) != event.hash:
                return broken(event.seq, "its contents do not match its hash")
            if anchor is not None and event.seq == anchor.through_seq and event.hash != anchor.through_hash:
                return broken(event.seq, f"it does not match the purge record at event {anchor.seq}")
            expected_prev, expected_seq, last_seq = event.hash, event.seq + 1, event.seq
            checked += 1
        if progress is not None:
            progress(checked)
        db.session.rollback()  # keep no snapshot or identity map growing over a long walk
    if last_seq != end_seq or (end_seq and expected_prev != end_hash):
        start = last_seq + 1 if last_seq else (anchor.through_seq + 1 if anchor else 1)
        if not checked:
            return broken(start, "every row was removed")
        return broken(start, "rows after this one were removed")
    # A row past the head was not written by `record()`, which moves the head in the same
    # transaction. Read the rows first: any the head covers were committed with it.
    highest = db.session.scalar(select(func.max(AuditEvent.seq)))
    head_now = db.session.get(AuditChainHead, 1, populate_existing=True)
    if highest is not None and head_now is not None and highest > head_now.last_seq:
        beyond = db.session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.seq > head_now.last_seq))
        return broken(beyond, "it lies beyond the chain head: it was inserted by hand")
    db.session.rollback()
    return ChainReport(True, checked, None, None, first_seq, end_seq, end_hash)


def _start_problem(event, anchor: Optional[Anchor]) -> Optional[tuple[int, str]]:
    if anchor is None:
        if event.seq != 1:
            return 1, f"rows 1 to {event.seq - 1} are missing and no purge accounts for them"
        if event.prev_hash != GENESIS_HASH:
            return event.seq, "its link to the previous row does not match"
        return None
    if event.seq > anchor.through_seq + 1:
        return anchor.through_seq + 1, f"row {anchor.through_seq + 1} is missing"
    if event.seq == anchor.through_seq + 1 and event.prev_hash != anchor.through_hash:
        return event.seq, f"its link does not match the purge record at event {anchor.seq}"
    return None  # a purge is deleting up to through_seq right now: this row starts the chain


def redact(details: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in details.items():
        # Row ids are not secrets ("token_id": 12 says which token, not what it is).
        if _SECRET_WORDS.search(key.lower()) and not _is_row_id(value):
            clean[key] = "[redacted]"
        elif isinstance(value, dict):
            clean[key] = redact(value)
        else:
            clean[key] = value
    return clean


def _is_row_id(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _type_name(obj: Any) -> str:
    return type(obj).__name__.lower()


def _label(actor: Any) -> Optional[str]:
    if actor is None:
        return None
    for attr in ("username", "name", "email"):
        value = getattr(actor, attr, None)
        if value:
            return str(value)[:255]
    return str(actor)[:255]
