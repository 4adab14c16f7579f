"""The permission catalog and the built-in roles, as the migrations seed them.

Adding a permission means adding it here AND in a new migration (migrations never
import this module, so that old ones keep meaning what they meant).
"""
from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    "account.manage": "Manage one's own profile, password and sessions",
    "system.view": "See status pages",
    "users.view": "See the list of users",
    "users.manage": "Create, change, lock and remove users",
    "roles.manage": "Create and change roles and grant permissions",
    "invitations.manage": "Invite people and manage invitations",
    "agents.view": "See agents",
    "agents.manage": "Create and configure agents",
    "tools.view": "See tools",
    "tools.manage": "Create and configure tools",
    "settings.manage": "Change system settings and secrets",
    "chat.use": "Chat with agents",
    "moderation.flag": "Flag a message for review",
    "moderation.review": "Work the moderation queue",
    "sanctions.apply": "Warn, restrict and ban users",
    "announcements.manage": "Publish announcements",
    "audit.view": "Read the audit log",
    "audit.export": "Export the audit log",
    "jobs.view": "See background jobs",
    "dashboard.view": "See the admin dashboard: counts, charts and system health",
    "mail.outbox": "Read mail kept in the outbox when no SMTP server is configured",
    "tokens.create": "Create personal API tokens",
}

DYNAMIC: set[str] = set()

_EVERYONE = ["account.manage", "system.view", "agents.view", "tools.view"]

BUILTIN_ROLES: dict[str, tuple[str, list[str]]] = {
    "admin": ("Full control of the panel", sorted(PERMISSIONS)),
    "moderator": (
        "Reviews flagged content and applies sanctions",
        _EVERYONE + ["chat.use", "moderation.flag", "moderation.review", "sanctions.apply",
                     "announcements.manage", "users.view", "tokens.create"],
    ),
    "user": ("Chats with agents", _EVERYONE + ["chat.use", "moderation.flag", "tokens.create"]),
    "viewer": ("Sees status pages and nothing they could change", list(_EVERYONE)),
}
