"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with the key from `ENCRYPTION_KEY`.

Only ciphertext reaches the database. Several comma-separated keys may be
configured while rotating: the first encrypts, any of them decrypts.
"""
from __future__ import annotations

from typing import Optional

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class SecretUnreadable(RuntimeError):
    """A stored secret no configured key can decrypt (the key was changed without rotation)."""


def _fernet() -> MultiFernet:
    keys = current_app.config["ENCRYPTION_KEY"].split(",")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: Optional[str]) -> Optional[str]:
    if token is None:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with SANCTUM_ENCRYPTION_KEY; set it again."
        ) from exc


def mask(plaintext: Optional[str]) -> str:
    """What a page may show of a secret: that it is set, and for long ones the last four characters."""
    if not plaintext:
        return ""
    return "••••••••" + (plaintext[-4:] if len(plaintext) >= 16 else "")
