"""Where features plug into data rights (seed 003).

A feature that stores something about a person registers, next to its own service:

    from sanctum.privacy.registry import exporter, eraser

    @exporter("chats", "Chats and messages")    # optional position=, default 100
    def export_chats(user):           # → JSON values (lists, dicts, strings, numbers)
        ...

    @eraser("chats")
    def erase_chats(ctx):             # ctx: ErasureContext; runs in the erasing transaction
        ...                           # honour ctx.chats_mode ("anonymise" | "delete")
        return {"sessions": 3}        # a summary for the audit event; no personal data in it

Exports list the sections by position (the account's own first); erasers run before the account row is
anonymised, so they still see its old email (`ctx.old_email`) to find what was addressed to it.
Nothing is exported or erased that no feature registered: there are no placeholders.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sanctum.models import User


@dataclass(frozen=True)
class ErasureContext:
    user: User
    actor: User
    old_email: str
    pseudonym: str  # the new username, e.g. "deleted-12"
    placeholder_email: str
    chats_mode: str  # the `erasure_chats` setting: anonymise | delete
    now: datetime


Exporter = Callable[[User], Any]
Eraser = Callable[[ErasureContext], dict]

_EXPORTERS: dict[str, tuple[int, str, Exporter]] = {}
ERASERS: dict[str, Eraser] = {}


def exporter(name: str, label: str, position: int = 100) -> Callable[[Exporter], Exporter]:
    """Register a section; sections appear by `position`, then by name (the account's own come first)."""

    def register(fn: Exporter) -> Exporter:
        _EXPORTERS[name] = (position, label, fn)
        return fn

    return register


def exporters() -> list[tuple[str, str, Exporter]]:
    """(name, label, function) in document order."""
    ordered = sorted(_EXPORTERS.items(), key=lambda item: (item[1][0], item[0]))
    return [(name, label, fn) for name, (_position, label, fn) in ordered]


def eraser(name: str) -> Callable[[Eraser], Eraser]:
    def register(fn: Eraser) -> Eraser:
        ERASERS[name] = fn
        return fn

    return register


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
