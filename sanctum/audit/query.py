"""Reading the audit log: one filter, keyset pages, statistics and export rows.

Every read is ordered by `seq`, the chain position, and paged by it (keyset), so a page
stays the same while new events arrive: they only ever get higher numbers. Each filter
has an index ending in `seq` (sanctum.models.audit), so a filtered page is an index range
read backwards, not a sort.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterator, Optional

from sqlalchemy import String, Text, and_, cast, false, func, literal_column, or_, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from sanctum.dashboard.charts import count_per_day
from sanctum.database import is_postgresql
from sanctum.extensions import db
from sanctum.models import AuditEvent, User

PAGE_SIZE = 50
STATS_DAYS = 30
EXPORT_BATCH = 5000
EXPORT_COLUMNS = ("seq", "created_at", "actor_id", "actor_label", "action", "target_type", "target_id", "outcome",
                  "ip", "user_agent", "request_id", "details", "prev_hash", "hash")
_PREFIX_MARKS = ("*", ".", ":")


@dataclass
class AuditFilter:
    """What the viewer asked for, as typed. Empty strings mean "any"."""

    actor: str = ""  # a username or email, or "system" for events no person caused
    action: str = ""  # exact ("auth.login_failed") or a prefix ending in "." or "*" ("auth.")
    target: str = ""  # "user" or "user:12"
    outcome: str = ""
    ip: str = ""  # exact, or a prefix ending in ".", ":" or "*"
    since: Optional[date] = None  # whole UTC days, inclusive
    until: Optional[date] = None
    q: str = ""  # free text over the JSON details
    involving: Optional[int] = field(default=None, repr=False)  # "my activity": actor or target

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> "AuditFilter":
        """From a plain dict (a job's arguments); the viewer builds it from its validated form."""
        values = {f.name: args.get(f.name) for f in fields(cls) if f.name != "involving" and args.get(f.name)}
        for name in ("since", "until"):
            if isinstance(values.get(name), str):
                values[name] = date.fromisoformat(values[name])
        return cls(**{k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()})

    def to_args(self) -> dict[str, str]:
        """The non-empty filters, as strings: for URLs, job arguments and the export's audit row."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "involving" and value:
                out[f.name] = value.isoformat() if isinstance(value, date) else str(value)
        return out

    @property
    def active(self) -> bool:
        return bool(self.to_args())


# ---------------------------------------------------------------- conditions

def conditions(f: AuditFilter) -> list[ColumnElement]:
    e = AuditEvent
    where: list[ColumnElement] = []
    if f.involving is not None:
        where.append(or_(e.actor_id == f.involving,
                         and_(e.target_type == "user", e.target_id == str(f.involving))))
    if f.actor:
        where.append(_actor_condition(f.actor))
    if f.action:
        where.append(_text_match(e.action, f.action))
    if f.target:
        kind, _, ident = f.target.partition(":")
        where.append(e.target_type == kind.strip().lower())
        if ident.strip():
            where.append(e.target_id == ident.strip())
    if f.outcome:
        where.append(e.outcome == f.outcome)
    if f.ip:
        where.append(_text_match(e.ip, f.ip))
    if f.since:
        where.append(e.created_at >= _start_of(f.since))
    if f.until:
        where.append(e.created_at < _start_of(f.until + timedelta(days=1)))
    if f.q:
        where.append(cast(e.details, Text).ilike(f"%{_escape_like(f.q)}%", escape="\\"))
    return where


def _actor_condition(actor: str) -> ColumnElement:
    if actor.lower() == "system":
        return AuditEvent.actor_id.is_(None)
    from sanctum.auth.service import find_user

    user = find_user(actor)
    if user is not None:
        return AuditEvent.actor_id == user.id
    if actor.startswith("#") and actor[1:].isdigit():
        return AuditEvent.actor_id == int(actor[1:])  # a removed account, by its old id
    return false()


def _text_match(column, value: str) -> ColumnElement:
    """Exact, or a prefix when the value ends in a separator or `*`."""
    if not value.endswith(_PREFIX_MARKS):
        return column == value
    prefix = value.rstrip("*")
    if not prefix:
        return column.is_not(None)
    if is_postgresql():
        return column.like(_escape_like(prefix) + "%", escape="\\")  # served by varchar_pattern_ops
    # SQLite compares bytes: the prefix's range is [prefix, prefix with its last char bumped).
    # A prefix usually matches many rows; read through that index they would all be sorted by
    # seq for one page. SQLite's planner, unlike PostgreSQL's, does not see that, so the range
    # is kept off the index ("+column") and the page is read in seq order, filtered.
    column = _not_indexed(column)
    return and_(column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1))


def _not_indexed(column):
    """SQLite's unary `+` keeps a term from choosing an index; the comparison is unchanged."""
    return type_coerce(literal_column(f"+{column.table.name}.{column.name}"), column.type)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


# ---------------------------------------------------------------- pages

@dataclass
class Page:
    events: list[AuditEvent]
    newer: Optional[int] = None  # pass as `after=` for the page above
    older: Optional[int] = None  # pass as `before=` for the page below


def page(f: AuditFilter, *, before: Optional[int] = None, after: Optional[int] = None,
         size: int = PAGE_SIZE) -> Page:
    """Newest first. `before`/`after` are seq cursors from a previous page's links."""
    where = conditions(f)
    query = select(AuditEvent).where(*where)
    if after is not None:
        rows = list(db.session.scalars(query.where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(size + 1)))
        more_above = len(rows) > size
        events = list(reversed(rows[:size]))
        result = Page(events, newer=events[0].seq if more_above and events else None)
        result.older = events[-1].seq if events else after + 1
        return result
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    rows = list(db.session.scalars(query.order_by(AuditEvent.seq.desc()).limit(size + 1)))
    events = rows[:size]
    result = Page(events, older=events[-1].seq if len(rows) > size else None)
    if before is not None:
        # Coming from an older page there is, by construction, something above.
        result.newer = events[0].seq if events else before - 1
    return result


def get_event(seq: int, *, involving: Optional[int] = None) -> Optional[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.seq == seq)
    if involving is not None:
        query = query.where(*conditions(AuditFilter(involving=involving)))
    return db.session.scalar(query)


# ---------------------------------------------------------------- statistics

@dataclass
class Stats:
    since: date
    until: date
    total: int
    by_action: list[tuple[str, int]]
    by_day: list[tuple[date, int]]  # every day of the window, zeros included


def stats(f: AuditFilter, *, days: int = STATS_DAYS, today: Optional[date] = None) -> Stats:
    """Counts per action (top 12) and per day for the filter, over its dates or the last `days`."""
    today = today or datetime.now(timezone.utc).date()
    until = min(f.until or today, today)
    since = f.since or (until - timedelta(days=days - 1))
    since = max(since, until - timedelta(days=365))  # a chart of more than a year says little
    windowed = replace(f, since=since, until=until)
    where = conditions(windowed)
    count = func.count().label("n")
    by_action = [(a, n) for a, n in db.session.execute(
        select(AuditEvent.action, count).where(*where).group_by(AuditEvent.action)
        .order_by(count.desc(), AuditEvent.action).limit(12))]
    by_day = count_per_day(AuditEvent.created_at, since, until, *conditions(replace(windowed, since=None, until=None)))
    return Stats(since, until, sum(n for _, n in by_day), by_action, by_day)


# ---------------------------------------------------------------- export

def head_seq() -> int:
    return db.session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))


def count(f: AuditFilter, *, upto_seq: Optional[int] = None) -> int:
    where = conditions(f)
    if upto_seq is not None:
        where.append(AuditEvent.seq <= upto_seq)
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(*where))


def iter_rows(f: AuditFilter, *, upto_seq: int, batch: int = EXPORT_BATCH) -> Iterator[list]:
    """Matching rows in chain order, in batches of plain tuples: memory stays flat however many.

    `details` comes back as its stored JSON text and, on SQLite, `created_at` as its stored
    text: an export copies them out rather than parsing and re-serialising a million values.
    """
    table = AuditEvent.__table__
    if is_postgresql():  # the database formats: faster than a million datetimes through Python
        stamp = func.to_char(func.timezone("UTC", table.c.created_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        raw = {"details": cast(table.c.details, Text), "created_at": stamp}
    else:
        raw = {"details": type_coerce(table.c.details, Text), "created_at": type_coerce(table.c.created_at, String)}
    columns = [raw[name].label(name) if name in raw else table.c[name] for name in EXPORT_COLUMNS]
    where = conditions(f)
    last = 0
    while True:
        rows = db.session.execute(
            select(*columns).where(*where, table.c.seq > last, table.c.seq <= upto_seq)
            .order_by(table.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].seq
        db.session.rollback()  # nothing accumulates in the session between batches


_CREATED, _DETAILS = EXPORT_COLUMNS.index("created_at"), EXPORT_COLUMNS.index("details")
# Columns whose text can come from outside (names, addresses, user agents): a spreadsheet must
# not run them as formulas. action, outcome, details ("{…}") and the hashes cannot start so.
_UNTRUSTED = [EXPORT_COLUMNS.index(n) for n in ("actor_label", "target_type", "target_id", "ip", "user_agent",
                                                "request_id")]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_chunks(f: AuditFilter, fmt: str, *, upto_seq: int, batch: int = EXPORT_BATCH) -> Iterator[tuple[str, int]]:
    """(text, rows in it) per batch: CSV with a header row, or JSON lines."""
    if fmt == "csv":
        yield _csv_line(EXPORT_COLUMNS), 0
    for rows in iter_rows(f, upto_seq=upto_seq, batch=batch):
        if fmt == "csv":
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(map(_csv_row, rows))
            yield buffer.getvalue(), len(rows)
        else:
            yield "".join(map(_json_line, rows)), len(rows)


def _timestamp(value) -> str:
    if isinstance(value, str):
        if value[10] == "T":
            return value  # formatted by PostgreSQL
        return value.replace(" ", "T", 1) + "+00:00"  # SQLite's stored text: "YYYY-MM-DD HH:MM:SS.ffffff", UTC
    return value.isoformat(timespec="microseconds")


def _csv_row(row) -> list:
    values = list(row)
    values[_CREATED] = _timestamp(values[_CREATED])
    for i in _UNTRUSTED:
        value = values[i]
        if value and value[0] in _FORMULA_START:
            values[i] = "'" + value
    return values


def _json_line(row) -> str:
    values = list(row)
    details = values[_DETAILS] or "{}"
    values[_CREATED] = _timestamp(values[_CREATED])
    values[_DETAILS] = None
    text = json.dumps(dict(zip(EXPORT_COLUMNS, values)), ensure_ascii=False)
    # The stored details are already JSON: splice them in instead of parsing and dumping again.
    return text.replace('"details": null', '"details": ' + details, 1) + "\n"


def as_row(event: AuditEvent) -> list:
    """An ORM event as the export's plain values (for the JSON API)."""
    values = [getattr(event, name) for name in EXPORT_COLUMNS]
    values[_CREATED] = _timestamp(values[_CREATED])
    return values


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def users_by_id(ids) -> dict[int, User]:
    """The accounts behind a page's actor and target ids, in one query (for links)."""
    ids = {int(i) for i in ids if i is not None and str(i).isdigit()}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
