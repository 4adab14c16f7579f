"""Administration, one module per resource, one blueprint."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from sanctum.admin import access, outbox, quotas, roles, users  # noqa: E402,F401  (routes register on bp)

__all__ = ["bp"]
