"""The users list query: search, filters, sort and keyset pagination that stays fast deep down.

Offsets get slower the deeper they go (the database still walks every skipped row);
a keyset cursor (the last row's sort value and id) makes page 2,000 cost what page 1
costs. Every sort ends on the id, so the order is total and the cursor unambiguous.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import String, and_, func, literal_column, or_, select, text

from sanctum.extensions import db
from sanctum.models import Role, User
from sanctum.models.base import utcnow

PAGE_SIZE = 50
ACTIVE_WITHIN = {"1": ("today", 1), "7": ("this week", 7), "30": ("this month", 30), "90": ("in 90 days", 90)}


@dataclass(frozen=True)
class Sort:
    label: str
    column: Any
    descending: bool
    kind: str  # how cursor values are stored: "int", "str" or "datetime"
    nullable: bool = False  # NULL handling in ORDER BY defeats an index, so only where needed
    unique: bool = False  # a unique key needs no id tie-break: `col > v` is one index range scan


SORTS: dict[str, Sort] = {
    "newest": Sort("Newest first", User.id, True, "int", unique=True),
    "oldest": Sort("Oldest first", User.id, False, "int", unique=True),
    "username": Sort("Username", func.lower(User.username), False, "str", unique=True),
    "last_login": Sort("Last sign-in", User.last_login, True, "datetime", nullable=True),
}


@dataclass
class UserFilter:
    q: str = ""
    role: str = ""
    status: str = ""
    verified: str = ""  # "" | "yes" | "no"
    active: str = ""  # "" | "1" | "7" | "30" | "90" | "never"
    sort: str = "newest"

    @classmethod
    def from_args(cls, args) -> "UserFilter":
        sort = args.get("sort", "newest")
        return cls(q=args.get("q", "").strip()[:100], role=args.get("role", "")[:64], status=args.get("status", "")[:20],
                   verified=args.get("verified", ""), active=args.get("active", ""),
                   sort=sort if sort in SORTS else "newest")

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v and not (k == "sort" and v == "newest")}

    def conditions(self) -> list:
        conditions = []
        if self.q:
            conditions.append(search_condition(self.q))
        if self.role:
            conditions.append(User.role_id == select(Role.id).where(Role.name == self.role).scalar_subquery())
        if self.status:
            conditions.append(User.status == self.status)
        if self.verified == "yes":
            conditions.append(User.email_verified_at.is_not(None))
        elif self.verified == "no":
            conditions.append(User.email_verified_at.is_(None))
        if self.active == "never":
            conditions.append(User.last_login.is_(None))
        elif self.active in ACTIVE_WITHIN:
            conditions.append(User.last_login >= utcnow() - timedelta(days=ACTIVE_WITHIN[self.active][1]))
        return conditions


@dataclass
class Page:
    users: list[User]
    total: int
    next_cursor: Optional[str]
    prev_cursor: Optional[str]
    filters: UserFilter
    first: bool = field(default=True)


def list_users(filters: UserFilter, *, after: Optional[str] = None, before: Optional[str] = None,
               size: int = PAGE_SIZE) -> Page:
    sort = SORTS[filters.sort]
    conditions = filters.conditions()
    base = select(User).where(*conditions)  # User.role is loaded by a join (lazy="joined")
    backwards = before is not None and after is None
    cursor = _decode(before if backwards else after, sort)
    # Walking backwards is walking forwards in the opposite order, then flipping the page.
    descending = sort.descending != backwards
    query = base
    if cursor is not None:
        query = query.where(_beyond(sort, cursor[0], cursor[1], descending))
    query = query.order_by(*_order(sort, descending)).limit(size + 1)
    rows = list(db.session.scalars(query).unique())
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    total = db.session.scalar(select(func.count()).select_from(User).where(*conditions))
    has_before = cursor is not None if not backwards else more
    has_after = more if not backwards else True
    return Page(
        users=rows,
        total=total,
        next_cursor=_encode(rows[-1], sort) if rows and has_after else None,
        prev_cursor=_encode(rows[0], sort) if rows and has_before else None,
        filters=filters,
        first=not has_before,
    )


def _order(sort: Sort, descending: bool) -> list:
    column = sort.column
    if not sort.nullable:
        return [column.desc(), User.id.desc()] if descending else [column.asc(), User.id.asc()]
    if descending:
        return [column.desc().nulls_last(), User.id.desc()]
    return [column.asc().nulls_first(), User.id.asc()]


def _beyond(sort: Sort, value, last_id: int, descending: bool):
    """Rows strictly after (value, last_id) in the given order; NULL sorts lowest."""
    column = sort.column
    if sort.unique:
        return column < value if descending else column > value
    if not sort.nullable:
        if descending:
            return or_(column < value, and_(column == value, User.id < last_id))
        return or_(column > value, and_(column == value, User.id > last_id))
    if descending:  # … values high to low, then NULLs
        if value is None:
            return and_(column.is_(None), User.id < last_id)
        return or_(column < value, and_(column == value, User.id < last_id), column.is_(None))
    if value is None:  # NULLs first, then values low to high
        return or_(and_(column.is_(None), User.id > last_id), column.is_not(None))
    return or_(column > value, and_(column == value, User.id > last_id))


def _sort_value(user: User, sort: Sort):
    if sort.kind == "int":
        return user.id
    if sort.kind == "str":
        return user.username.lower()
    return user.last_login.isoformat() if user.last_login else None


def _encode(user: User, sort: Sort) -> str:
    raw = json.dumps([_sort_value(user, sort), user.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: Optional[str], sort: Sort):
    """A tampered or stale cursor is ignored (first page), never an error page."""
    if not cursor:
        return None
    try:
        value, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        last_id = int(last_id)
        if value is not None:
            if sort.kind == "int":
                value = int(value)
            elif sort.kind == "str":
                value = str(value)
            else:
                value = datetime.fromisoformat(value)
        return value, last_id
    except (ValueError, TypeError, json.JSONDecodeError):
        return None


# Substring search over 100,000 users must not scan them all. The text searched is one
# expression, indexed per database (migration 0004): PostgreSQL by a pg_trgm GIN index on
# the expression itself; SQLite by an FTS5 table with the trigram tokenizer, kept in step by
# triggers. Both accelerate `%term%` for terms of three characters or more.
SEARCH_TEXT = (func.lower(User.username, type_=String) + literal_column("' '", String) + User.email
               + literal_column("' '", String)
               + func.coalesce(func.lower(User.display_name, type_=String), literal_column("''", String)))


def search_condition(term: str):
    term = term.lower()
    if db.session.get_bind().dialect.name == "sqlite":
        matching = select(literal_column("rowid")).select_from(text("users_search")).where(
            literal_column("body").op("GLOB")(f"*{_escape_glob(term)}*"))
        return User.id.in_(matching)
    return SEARCH_TEXT.like(f"%{_escape_like(term)}%", escape="\\")


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _escape_glob(term: str) -> str:
    # GLOB has no escape character: a metacharacter stands for itself inside brackets.
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in term)
