"""Where an audit event's target links to, per target type.

Features register their own kinds (issue 7: "chat_session", "run"; issue 8: "moderation_item",
"sanction") with a few lines, wherever their routes are imported:

    @target_kind("agent")
    def _agent(target_id, users):
        return f"agent #{target_id}", url_for("agents.agents_show", agent_id=target_id) if can("agents.view") else None
"""
from __future__ import annotations

from typing import Callable, Optional

from flask import current_app, url_for

from sanctum.web.templating import can

# (target_id, users on the page by id) → (label, url or None)
TargetLink = Callable[[str, dict], tuple[str, Optional[str]]]
TARGET_KINDS: dict[str, TargetLink] = {}


def target_kind(kind: str) -> Callable[[TargetLink], TargetLink]:
    def register(maker: TargetLink) -> TargetLink:
        TARGET_KINDS[kind] = maker
        return maker

    return register


def target_link(event, users: dict) -> Optional[tuple[str, Optional[str]]]:
    if not event.target_type:
        return None
    maker = TARGET_KINDS.get(event.target_type)
    if maker is not None:
        return maker(event.target_id, users)
    label = f"{event.target_type} {event.target_id}" if event.target_id else event.target_type
    return label, None


def endpoint_url(endpoint: str, **values) -> Optional[str]:
    """A link to `endpoint` if this app has it: pages of later issues light up when they land."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


@target_kind("user")
def _user(target_id, users):
    user = users.get(int(target_id)) if target_id and target_id.isdigit() else None
    label = user.username if user else f"user #{target_id}"
    if user is None or not can("roles.manage"):
        return label, None
    return label, endpoint_url("admin.users_show", user_id=user.id) or endpoint_url("admin.access_show", user_id=user.id)


@target_kind("role")
def _role(target_id, users):
    return f"role #{target_id}", endpoint_url("admin.roles_edit", role_id=int(target_id)) \
        if target_id and target_id.isdigit() and can("roles.manage") else None


@target_kind("job")
def _job(target_id, users):
    if not (target_id and target_id.isdigit()):
        return "job", None
    return f"job #{target_id}", endpoint_url("jobs.jobs_progress", job_id=int(target_id)) if can("jobs.view") else None


@target_kind("setting")
def _setting(target_id, users):
    return f"setting {target_id}", endpoint_url("settings.settings_index") if can("settings.manage") else None
