"""Telling people what moderation did: through the notifications of sanctum.notifications."""
from __future__ import annotations

from typing import Iterable, Optional


def notify(user_ids: Iterable[int], kind: str, title: str, *, body: Optional[str] = None,
           link: Optional[str] = None) -> None:
    """In the caller's transaction (the notification exists exactly when the decision does)."""
    from sanctum.notifications import notify as send  # imported late: notifications render pages

    ids = sorted({uid for uid in user_ids if uid is not None})
    if ids:
        send(ids, kind, title, body=body, link=link)
