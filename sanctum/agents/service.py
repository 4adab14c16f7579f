"""Agent rules: validation, who may use an agent, keys, and audited changes. Services commit."""
from __future__ import annotations

import re
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

from flask import g, has_request_context
from sqlalchemy import delete, exists, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from sanctum import audit, crypto
from sanctum.agents.providers import PROVIDERS
from sanctum.extensions import db
from sanctum.models import Agent, BridgeMessage, HealthCheck, Role, User, agent_roles, agent_users
from sanctum.rbac.service import has_permission

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
EDITABLE = ("name", "display_name", "description", "avatar", "provider", "base_url", "model", "external_id",
            "system_prompt", "temperature", "connect_timeout", "read_timeout", "total_timeout",
            "health_check_interval", "is_active")
LIMITS = {"connect_timeout": (0.5, 120), "read_timeout": (1, 3600), "total_timeout": (1, 7200),
          "health_check_interval": (10, 86400), "temperature": (0, 2)}


class AgentError(ValueError):
    """Refused; the message is safe to show. `field` names the form field at fault."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- reading

def list_agents() -> list[Agent]:
    return list(db.session.scalars(select(Agent).options(selectinload(Agent.roles), selectinload(Agent.users))
                                   .order_by(Agent.name)))


def get_agent(agent_id: int) -> Optional[Agent]:
    return db.session.get(Agent, agent_id)


def role_names() -> list[str]:
    return list(db.session.scalars(select(Role.name).order_by(Role.name)))


def may_use(agent: Agent, user: Any) -> bool:
    """Whether `user` may chat with `agent`: it is active, and their role or name is allowed."""
    if not agent.is_active or not getattr(user, "is_authenticated", False):
        return False
    if agent.id in _usable_this_request(user):  # visible_agents has just asked the same question
        return True
    unloaded = inspect(agent).unloaded
    if "roles" not in unloaded and "users" not in unloaded:
        return user.role_id in {r.id for r in agent.roles} or user.id in {u.id for u in agent.users}
    # Not loaded: one EXISTS rather than loading both lists (the chat page asks on every load).
    return bool(db.session.scalar(select(or_(
        exists().where(agent_roles.c.agent_id == agent.id, agent_roles.c.role_id == user.role_id),
        exists().where(agent_users.c.agent_id == agent.id, agent_users.c.user_id == user.id)))))


def visible_agents(user: Any) -> list[Agent]:
    """All agents for those who manage them; else the active ones this user may use."""
    if has_permission(user, "agents.manage"):
        return list_agents()
    query = (select(Agent).where(Agent.is_active.is_(True), or_(
        Agent.id.in_(select(agent_roles.c.agent_id).where(agent_roles.c.role_id == user.role_id)),
        Agent.id.in_(select(agent_users.c.agent_id).where(agent_users.c.user_id == user.id)))).order_by(Agent.name))
    rows = list(db.session.scalars(query))
    if has_request_context():
        # The same rule as may_use, answered for all of them: remembered for this request only.
        g.setdefault("_sanctum_usable_agents", {})[user.id] = {agent.id for agent in rows}
    return rows


def _usable_this_request(user: Any) -> set[int]:
    if not has_request_context():
        return set()
    return g.get("_sanctum_usable_agents", {}).get(getattr(user, "id", None), set())


def snapshot(agent: Agent) -> dict[str, Any]:
    """An agent's settings for audit before/after: never the key, only whether there is one."""
    data = {name: getattr(agent, name) for name in EDITABLE}
    data["roles"] = sorted(r.name for r in agent.roles)
    data["users"] = sorted(u.username for u in agent.users)
    data["key_stored"] = agent.has_api_key
    return data


# ---------------------------------------------------------------- validation

def _text(value: Any, label: str, field: str, *, limit: int, required: bool = False) -> Optional[str]:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise AgentError(f"{label} must be text.", field)
    value = value.strip()
    if required and not value:
        raise AgentError(f"{label} is required.", field)
    if len(value) > limit:
        raise AgentError(f"{label} is longer than {limit} characters.", field)
    return value or None


def _number(value: Any, field: str, label: str, *, integer: bool = False) -> Optional[float]:
    if value in (None, ""):
        return None
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise AgentError(f"{label} must be a number.", field) from None
    low, high = LIMITS[field]
    if not low <= number <= high:
        raise AgentError(f"{label} must be between {low:g} and {high:g}.", field)
    return number


def clean(data: dict[str, Any], *, partial: bool = False, current: Optional[Agent] = None) -> dict[str, Any]:
    """Validate agent fields (from a form or JSON); with `partial` only the keys given."""
    out: dict[str, Any] = {}
    given = set(data) if partial else set(EDITABLE) | {"roles", "users"}
    if "name" in given:
        name = _text(data.get("name"), "Name", "name", limit=50, required=True).lower()
        if not NAME.match(name):
            raise AgentError("Use lower-case letters, digits, - and _ (start with a letter or digit).", "name")
        out["name"] = name
    for field, label, limit in (("display_name", "Display name", 100), ("avatar", "Avatar", 16),
                                ("model", "Model", 200), ("external_id", "Letta agent id", 200)):
        if field in given:
            out[field] = _text(data.get(field), label, field, limit=limit)
    if "description" in given:
        out["description"] = _text(data.get("description"), "Description", "description", limit=2000) or ""
    if "system_prompt" in given:
        out["system_prompt"] = _text(data.get("system_prompt"), "System prompt", "system_prompt", limit=20000)
    if "provider" in given:
        provider = data.get("provider") or "builtin"
        if provider not in PROVIDERS:
            raise AgentError(f"Choose one of: {', '.join(PROVIDERS)}.", "provider")
        out["provider"] = provider
    if "base_url" in given:
        url = _text(data.get("base_url"), "Base URL", "base_url", limit=500)
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise AgentError("The base URL must start with http:// or https://.", "base_url")
            url = url.rstrip("/")
        out["base_url"] = url
    for field, label in (("temperature", "Temperature"), ("connect_timeout", "Connect timeout"),
                         ("read_timeout", "Read timeout"), ("total_timeout", "Total timeout")):
        if field in given:
            out[field] = _number(data.get(field), field, label)
    if "health_check_interval" in given:
        out["health_check_interval"] = _number(data.get("health_check_interval"), "health_check_interval",
                                               "Health check interval", integer=True)
    for field in ("connect_timeout", "read_timeout", "total_timeout", "health_check_interval"):
        if field in out and out[field] is None:
            out[field] = Agent.__table__.c[field].default.arg  # back to the column default
    if "is_active" in given:
        value = data.get("is_active")
        if not isinstance(value, bool) and value is not None:
            raise AgentError("is_active must be true or false.", "is_active")
        out["is_active"] = bool(value) if value is not None else True
    if "roles" in given:
        out["roles"] = _roles(data.get("roles") or [])
    if "users" in given:
        out["users"] = _users(data.get("users") or [])
    provider = out.get("provider", getattr(current, "provider", None))
    if provider == "openai" and not out.get("model", getattr(current, "model", None)):
        raise AgentError("An OpenAI-compatible agent needs a model name.", "model")
    if provider == "letta" and not out.get("external_id", getattr(current, "external_id", None)):
        raise AgentError("A Letta agent needs the Letta agent id.", "external_id")
    return out


def _roles(names: Iterable[str]) -> list[Role]:
    names = sorted({str(n).strip() for n in names if str(n).strip()})
    roles = list(db.session.scalars(select(Role).where(Role.name.in_(names)))) if names else []
    unknown = set(names) - {r.name for r in roles}
    if unknown:
        raise AgentError(f"No such role: {', '.join(sorted(unknown))}.", "roles")
    return roles


def _users(names: Iterable[str]) -> list[User]:
    if isinstance(names, str):
        names = re.split(r"[\s,]+", names)
    wanted = sorted({str(n).strip().lower() for n in names if str(n).strip()})
    if len(wanted) > 200:
        raise AgentError("Name at most 200 users; use a role for more.", "users")
    from sqlalchemy import func

    users = list(db.session.scalars(select(User).where(func.lower(User.username).in_(wanted)))) if wanted else []
    unknown = set(wanted) - {u.username.lower() for u in users}
    if unknown:
        raise AgentError(f"No such user: {', '.join(sorted(unknown))}.", "users")
    return users


# ---------------------------------------------------------------- changing

def _apply(agent: Agent, values: dict[str, Any]) -> None:
    for field, value in values.items():
        setattr(agent, field, value)


def _commit_unique() -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise AgentError("Another agent already has that name.", "name") from exc


def create_agent(*, data: dict[str, Any], actor: Optional[User], api_key: Optional[str] = None) -> Agent:
    values = clean(data)
    if db.session.scalar(select(Agent.id).where(Agent.name == values["name"])) is not None:
        raise AgentError("Another agent already has that name.", "name")
    agent = Agent(status="Ready")
    _apply(agent, values)
    if api_key:
        _store_key(agent, api_key)
    db.session.add(agent)
    db.session.flush()
    audit.record("agent.created", actor=actor, target=agent, details={"after": snapshot(agent)})
    _commit_unique()
    return agent


def update_agent(*, agent: Agent, data: dict[str, Any], actor: Optional[User], partial: bool = False) -> Agent:
    values = clean(data, partial=partial, current=agent)
    if "name" in values and values["name"] != agent.name and db.session.scalar(
            select(Agent.id).where(Agent.name == values["name"], Agent.id != agent.id)) is not None:
        raise AgentError("Another agent already has that name.", "name")
    before = snapshot(agent)
    _apply(agent, values)
    if "is_active" in values:
        _off_or_back(agent)
    after = snapshot(agent)
    changed = {k for k in after if before.get(k) != after.get(k)}
    if changed:
        audit.record("agent.updated", actor=actor, target=agent,
                     details={"before": {k: before[k] for k in sorted(changed)},
                              "after": {k: after[k] for k in sorted(changed)}})
    _commit_unique()
    return agent


def _off_or_back(agent: Agent) -> None:
    if not agent.is_active:
        agent.status, agent.status_message = "Off", "Switched off by an administrator."
    elif agent.status == "Off":
        agent.status, agent.status_message, agent.checked_at = "Ready", None, None


def set_active(*, agent: Agent, active: bool, actor: Optional[User]) -> Agent:
    return update_agent(agent=agent, data={"is_active": active}, actor=actor, partial=True)


def _store_key(agent: Agent, key: str) -> None:
    agent.api_key_encrypted = crypto.encrypt(key)
    agent.api_key_hint = crypto.mask(key)[-12:]


def set_api_key(*, agent: Agent, key: str, actor: Optional[User]) -> None:
    key = (key or "").strip()
    if not key:
        raise AgentError("Paste the key to store.", "api_key")
    if len(key) > 4000 or any(ord(ch) < 32 for ch in key):
        raise AgentError("That does not look like an API key.", "api_key")
    had = agent.has_api_key
    _store_key(agent, key)
    audit.record("agent.api_key_replaced" if had else "agent.api_key_set", actor=actor, target=agent)
    db.session.commit()


def clear_api_key(*, agent: Agent, actor: Optional[User]) -> None:
    if not agent.has_api_key:
        return
    agent.api_key_encrypted = agent.api_key_hint = None
    audit.record("agent.api_key_cleared", actor=actor, target=agent)
    db.session.commit()


def delete_agent(*, agent: Agent, actor: Optional[User]) -> None:
    details = {"before": snapshot(agent)}
    db.session.execute(delete(HealthCheck).where(HealthCheck.subject_type == "agent",
                                                 HealthCheck.subject_id == agent.id))
    db.session.execute(delete(BridgeMessage).where(BridgeMessage.agent_id == agent.id))
    audit.record("agent.deleted", actor=actor, target=agent, details=details)
    db.session.delete(agent)
    db.session.commit()


def test_agent(*, agent: Agent, actor: Optional[User]) -> tuple[bool, Optional[int], str]:
    """Run the provider's connection test now, record it like a health check, and audit it."""
    from sanctum.health.service import check_agent

    result = check_agent(agent)
    audit.record("agent.connection_tested", actor=actor, target=agent, outcome="success" if result.ok else "failure",
                 details={"latency_ms": result.latency_ms, "message": result.message[:300]})
    db.session.commit()
    return result.ok, result.latency_ms, result.message
