"""Password policy and hashing (SECURITY.md 1-4).

bcrypt reads only the first 72 bytes, so every password is first reduced to a
fixed 44-byte string (base64 of its SHA-256): a 200-character passphrase is
checked in full, never silently truncated. Unicode is NFKC-normalised first, so
the same passphrase typed on two keyboards matches.
"""
from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import os
import threading
import unicodedata
from pathlib import Path

import bcrypt
from flask import current_app, has_app_context

MIN_LENGTH = 15
MAX_LENGTH = 256
_COMMON_LIST = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"


class PasswordRejected(ValueError):
    """The message is safe to show to the person choosing the password."""


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, *, context: tuple[str, ...] = ()) -> None:
    """Raise PasswordRejected with a readable reason, or return None. No composition rules."""
    password = normalise(password)
    length = len(password)
    if length < MIN_LENGTH:
        raise PasswordRejected(f"Use at least {MIN_LENGTH} characters; a few unrelated words make a strong one.")
    if length > MAX_LENGTH:
        raise PasswordRejected(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in common_passwords():
        raise PasswordRejected("That password is among the most common ones; choose another.")
    for word in context:
        word = (word or "").lower()
        if len(word) >= 4 and (lowered == word or lowered == word.split("@")[0]):
            raise PasswordRejected("Do not use your username or email address as your password.")
    if len(set(lowered)) <= 2:
        raise PasswordRejected("That password repeats the same characters; choose another.")


@functools.cache
def common_passwords() -> frozenset[str]:
    with gzip.open(_COMMON_LIST, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(normalise(password).encode("utf-8")).digest())


_gates: dict[int, threading.BoundedSemaphore] = {}
_gates_lock = threading.Lock()


def _bcrypt_gate() -> threading.BoundedSemaphore:
    """At most BCRYPT_CONCURRENCY hashes at once in this process (default: half the CPUs, at
    least one). bcrypt at cost 12 is a quarter of a second of CPU; twenty sign-ins at once
    would otherwise take every core and every page would wait behind them. Sign-ins queue
    here instead, and pages keep the rest of the machine."""
    configured = current_app.config.get("BCRYPT_CONCURRENCY") if has_app_context() else None
    size = configured or max(1, (os.cpu_count() or 2) // 2)
    with _gates_lock:
        return _gates.setdefault(int(size), threading.BoundedSemaphore(int(size)))


def hash_password(password: str) -> str:
    rounds = int(current_app.config["BCRYPT_ROUNDS"])
    with _bcrypt_gate():
        return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        with _bcrypt_gate():
            return bcrypt.checkpw(_prehash(password), password_hash.encode())
    except ValueError:
        return False


def dummy_verify(password: str) -> None:
    """Spend the same time as a real check, for a name that matches no account (SECURITY.md 5)."""
    config = current_app.config
    rounds = int(config["BCRYPT_ROUNDS"])
    cached = config.get("_DUMMY_HASH")
    if cached is None or cached[0] != rounds:
        cached = (rounds, bcrypt.hashpw(b"not-a-real-password-at-all", bcrypt.gensalt(rounds)).decode())
        config["_DUMMY_HASH"] = cached
    verify_password(password, cached[1])


def needs_rehash(password_hash: str) -> bool:
    try:
        return int(password_hash.split("$")[2]) < int(current_app.config["BCRYPT_ROUNDS"])
    except (IndexError, ValueError):
        return True
