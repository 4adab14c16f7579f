"""Reading a Broca database (sanctumos/broca `database/models.py`), strictly read-only.

Broca keeps one `letta_users` row per person and one `platform_profiles` row per platform
account of theirs (Telegram, Discord, …), with their messages in `messages`. The file
belongs to a running Broca: Sanctum opens it with `mode=ro`, never writes, never creates it,
and bounds each read so a huge or locked file cannot hang a page.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Optional
from urllib.parse import quote

SQLITE_HEADER = b"SQLite format 3\x00"
REQUIRED = {
    "letta_users": {"id", "last_active"},
    "platform_profiles": {"letta_user_id", "platform", "platform_user_id", "username", "display_name",
                          "last_active"},
}
READ_SECONDS = 10


class BrocaError(ValueError):
    """The file cannot be used; the message says which file and why."""


@dataclass
class Profile:
    platform: str
    platform_user_id: str
    username: str
    display_name: str
    last_active: Optional[str]

    def as_dict(self) -> dict:
        return {"platform": self.platform, "platform_user_id": self.platform_user_id, "username": self.username,
                "display_name": self.display_name, "last_active": self.last_active}


@dataclass
class Person:
    id: int
    last_active: Optional[str]
    is_active: bool
    profiles: list[Profile] = field(default_factory=list)
    message_count: Optional[int] = None  # None when the file has no messages table

    @property
    def label(self) -> str:
        for profile in self.profiles:
            if profile.display_name:
                return profile.display_name
        for profile in self.profiles:
            if profile.username:
                return profile.username
        return f"Broca user {self.id}"


# ---------------------------------------------------------------- opening

def check_path(path: str, allowed_dirs: tuple[str, ...] = ()) -> str:
    """Validate a path an admin typed; returns it normalised. Raises BrocaError."""
    path = (path or "").strip()
    if not path or "\x00" in path:
        raise BrocaError("Give the path of the Broca database file.")
    if not os.path.isabs(path):
        raise BrocaError(f"“{path}” is not an absolute path: give the full path, starting with /.")
    path = os.path.normpath(path)
    real = os.path.realpath(path)
    if allowed_dirs and not any(_inside(real, d) for d in allowed_dirs):
        raise BrocaError(f"“{path}” is outside the folders Broca databases may be read from "
                         f"({', '.join(allowed_dirs)}).")
    _check_file(path)
    return path


def _inside(path: str, folder: str) -> bool:
    folder = os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise BrocaError(f"There is no file at “{path}”.")
    if not os.path.isfile(path):
        raise BrocaError(f"“{path}” is not a regular file.")
    if not os.access(path, os.R_OK):
        raise BrocaError(f"Sanctum may not read “{path}”: check the file's permissions.")
    with open(path, "rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise BrocaError(f"“{path}” is not an SQLite database.")


@contextmanager
def connect(path: str) -> Iterator[sqlite3.Connection]:
    """A read-only connection whose statements give up after READ_SECONDS."""
    _check_file(path)
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise BrocaError(f"“{path}” cannot be opened: {exc}.") from exc
    deadline = time.monotonic() + READ_SECONDS
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise BrocaError(f"Reading “{path}” took longer than {READ_SECONDS} seconds.") from exc
        raise BrocaError(f"“{path}” could not be read: {exc}.") from exc
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        raise BrocaError(f"“{path}” is damaged or not a database: {exc}.") from exc
    finally:
        conn.close()


def check_schema(conn: sqlite3.Connection, path: str) -> bool:
    """Raise unless the Broca tables are there; True when message counts are available."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, needed in REQUIRED.items():
        if table not in tables:
            raise BrocaError(f"“{path}” does not look like a Broca database: it has no “{table}” table.")
        columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
        missing = sorted(needed - columns)
        if missing:
            raise BrocaError(f"“{path}” does not look like a Broca database: table “{table}” lacks "
                             f"{', '.join(missing)}.")
    if "messages" not in tables:
        return False
    return "letta_user_id" in {row[1] for row in conn.execute('PRAGMA table_info("messages")')}


def inspect(path: str) -> dict:
    """What the admin sees next to a source: how many people, whether counts are available."""
    with connect(path) as conn:
        has_messages = check_schema(conn, path)
        people = conn.execute("SELECT count(*) FROM letta_users").fetchone()[0]
    return {"people": people, "has_messages": has_messages}


# ---------------------------------------------------------------- reading people

# Broca has no index on platform_profiles.letta_user_id: aggregate the profiles once, joined,
# rather than in a correlated subquery per person.
_LATEST_PROFILE = ("LEFT JOIN (SELECT letta_user_id, MAX(last_active) AS last_active FROM platform_profiles "
                   "GROUP BY letta_user_id) lp ON lp.letta_user_id = u.id")
_LAST_SEEN = "NULLIF(MAX(IFNULL(u.last_active, ''), IFNULL(lp.last_active, '')), '')"


def people(path: str, *, q: str = "", exclude: list[int] = (), only: Optional[list[int]] = None,
           page: int = 1, per_page: int = 50) -> tuple[list[Person], int]:
    """A page of people, most recently active first, with their profiles and message counts.

    `exclude`/`only` are id lists passed as one JSON parameter (json_each), so a Broca with
    thousands of linked people needs no giant IN list.
    """
    where, params = ["u.id NOT IN (SELECT value FROM json_each(?))"], [json.dumps(list(exclude))]
    if only is not None:
        where.append("u.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(only)))
    q = (q or "").strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("u.id IN (SELECT letta_user_id FROM platform_profiles WHERE username LIKE ? ESCAPE '\\' "
                     "OR display_name LIKE ? ESCAPE '\\' OR platform_user_id LIKE ? ESCAPE '\\')")
        params += [pattern, pattern, pattern]
    clause = " AND ".join(where)
    with connect(path) as conn:
        has_messages = check_schema(conn, path)
        total = conn.execute(f"SELECT count(*) FROM letta_users u WHERE {clause}", params).fetchone()[0]
        active = "u.is_active" if _has_is_active(conn) else "1"
        rows = conn.execute(
            f"SELECT u.id, {active} AS is_active, {_LAST_SEEN} AS last_seen FROM letta_users u {_LATEST_PROFILE} "
            f"WHERE {clause} "
            "ORDER BY last_seen DESC, u.id DESC LIMIT ? OFFSET ?", params + [per_page, (page - 1) * per_page],
        ).fetchall()
        found = [Person(id=row["id"], last_active=row["last_seen"], is_active=bool(row["is_active"])) for row in rows]
        _fill(conn, found, has_messages)
    return found, total


def _has_is_active(conn: sqlite3.Connection) -> bool:
    return "is_active" in {row[1] for row in conn.execute('PRAGMA table_info("letta_users")')}


def _fill(conn: sqlite3.Connection, found: list[Person], has_messages: bool) -> None:
    """Profiles and message counts for one page of people: two queries, whatever the page size."""
    if not found:
        return
    ids = json.dumps([p.id for p in found])
    by_id = {p.id: p for p in found}
    for row in conn.execute(
            "SELECT letta_user_id, platform, platform_user_id, username, display_name, last_active "
            "FROM platform_profiles WHERE letta_user_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY last_active DESC", (ids,)):
        by_id[row["letta_user_id"]].profiles.append(Profile(
            platform=str(row["platform"] or ""), platform_user_id=str(row["platform_user_id"] or ""),
            username=str(row["username"] or ""), display_name=str(row["display_name"] or ""),
            last_active=row["last_active"]))
    if has_messages:
        for person in found:
            person.message_count = 0
        for row in conn.execute("SELECT letta_user_id, count(*) FROM messages "
                                "WHERE letta_user_id IN (SELECT value FROM json_each(?)) GROUP BY letta_user_id",
                                (ids,)):
            by_id[row[0]].message_count = row[1]


def person(path: str, letta_user_id: int) -> Optional[Person]:
    found, _total = people(path, only=[letta_user_id], per_page=1)
    return found[0] if found else None
