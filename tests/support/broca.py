"""Build a Broca database the way Broca does (sanctumos/broca `database/models.py` SCHEMA)."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = [
    """CREATE TABLE letta_users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT DEFAULT CURRENT_TIMESTAMP,
        last_active TEXT,
        letta_identity_id TEXT,
        letta_block_id TEXT,
        agent_preferences TEXT,
        custom_instructions TEXT,
        is_active INTEGER DEFAULT 1)""",
    """CREATE TABLE platform_profiles (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        letta_user_id INTEGER,
        platform TEXT,
        platform_user_id TEXT,
        username TEXT,
        display_name TEXT,
        metadata TEXT,
        created_at TEXT DEFAULT CURRENT_TIMESTAMP,
        last_active TEXT,
        FOREIGN KEY (letta_user_id) REFERENCES letta_users(id),
        UNIQUE(platform, platform_user_id))""",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        letta_user_id INTEGER,
        platform_profile_id INTEGER,
        role TEXT,
        message TEXT,
        timestamp TEXT,
        processed INTEGER DEFAULT 0,
        agent_response TEXT,
        FOREIGN KEY (letta_user_id) REFERENCES letta_users(id),
        FOREIGN KEY (platform_profile_id) REFERENCES platform_profiles(id))""",
    """CREATE TABLE queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        letta_user_id INTEGER,
        message_id INTEGER,
        status TEXT,
        attempts INTEGER DEFAULT 0,
        timestamp TEXT DEFAULT CURRENT_TIMESTAMP)""",
]


@dataclass
class BrocaPerson:
    last_active: str
    profiles: list[tuple[str, str, str, str]]  # (platform, platform_user_id, username, display_name)
    messages: int = 0
    is_active: bool = True
    id: int = field(default=0)


def make_broca(path: Path, people: list[BrocaPerson], *, without: tuple[str, ...] = ()) -> Path:
    conn = sqlite3.connect(path)
    for statement in SCHEMA:
        table = statement.split()[2]
        if table not in without:
            conn.execute(statement)
    for person in people:
        cur = conn.execute("INSERT INTO letta_users (last_active, is_active) VALUES (?, ?)",
                           (person.last_active, int(person.is_active)))
        person.id = cur.lastrowid
        for platform, platform_user_id, username, display_name in person.profiles:
            profile = conn.execute(
                "INSERT INTO platform_profiles (letta_user_id, platform, platform_user_id, username, display_name, "
                "last_active) VALUES (?, ?, ?, ?, ?, ?)",
                (person.id, platform, platform_user_id, username, display_name, person.last_active)).lastrowid
        if "messages" not in without and person.messages:
            conn.executemany(
                "INSERT INTO messages (letta_user_id, platform_profile_id, role, message, timestamp) "
                "VALUES (?, ?, 'user', ?, ?)",
                [(person.id, profile, f"message {n}", person.last_active) for n in range(person.messages)])
    conn.commit()
    conn.close()
    return path


def sample_people() -> list[BrocaPerson]:
    return [
        BrocaPerson("2025-03-01 10:00:00", [("telegram", "1001", "ada_l", "Ada Lovelace")], messages=12),
        BrocaPerson("2025-03-05 09:30:00", [("discord", "2002", "grace", "Grace Hopper"),
                                            ("telegram", "1002", "gracie", "")], messages=3),
        BrocaPerson("2025-02-01 08:00:00", [("telegram", "1003", "alan", "Alan Turing")], messages=0,
                    is_active=False),
    ]
