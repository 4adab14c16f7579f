"""The JSON API under /api/v1 for scripts, authenticated with bearer tokens."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from sanctum.api import agents, auth, chats, me, moderation, tools, users  # noqa: E402,F401  (routes register on bp)

__all__ = ["bp"]
