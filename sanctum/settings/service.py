"""Read and change run-time settings.

Every known key has a `SettingSpec`: its default (usually the config value, so the
environment still works), its kind, and whether it is a secret. A row in `settings`
overrides the default. Secrets are stored as `{"enc": <Fernet token>}`, shown only
masked, and audited as "set"/"cleared", never by value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from flask import current_app

from sanctum import audit, crypto
from sanctum.extensions import db
from sanctum.models import Setting, User


class SettingError(ValueError):
    """A value was refused; the message is safe to show. `field` is the setting's key."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


@dataclass
class SettingSpec:
    key: str
    label: str
    default: Callable[[], Any]
    choices: Optional[tuple] = None
    kind: str = "text"  # text | url | int | choice | secret | email
    section: str = "general"
    help: str = ""
    minimum: Optional[int] = None
    maximum: Optional[int] = None
    required: bool = False

    @property
    def secret(self) -> bool:
        return self.kind == "secret"


REGISTRY: dict[str, SettingSpec] = {}
# Sections in the order the settings page shows them.
SECTIONS: dict[str, str] = {
    "general": "General",
    "mail": "Mail (SMTP)",
    "providers": "Agent providers",
    "retention": "Retention",
    "moderation": "Moderation",
}


def register(spec: SettingSpec) -> SettingSpec:
    REGISTRY[spec.key] = spec
    return spec


def _config(name: str) -> Callable[[], Any]:
    return lambda: current_app.config.get(name)


register(SettingSpec("registration_mode", "Who may create an account", _config("REGISTRATION_MODE"),
                     choices=("closed", "open", "approval"), kind="choice",
                     help="Closed: by invitation only. Approval: sign-ups wait for an administrator."))
register(SettingSpec("base_url", "Base URL", _config("BASE_URL"), kind="url", required=True,
                     help="Where people reach Sanctum; links in mail are built from it."))
register(SettingSpec("smtp_host", "SMTP server", _config("SMTP_HOST"), section="mail",
                     help="Leave empty to keep mail in the outbox page instead of sending it."))
register(SettingSpec("smtp_port", "SMTP port", _config("SMTP_PORT"), kind="int", section="mail",
                     minimum=1, maximum=65535, required=True))
register(SettingSpec("smtp_security", "Connection security", _config("SMTP_SECURITY"), kind="choice",
                     choices=("starttls", "ssl", "none"), section="mail"))
register(SettingSpec("smtp_username", "SMTP username", _config("SMTP_USERNAME"), section="mail"))
register(SettingSpec("smtp_password", "SMTP password", _config("SMTP_PASSWORD"), kind="secret", section="mail"))
register(SettingSpec("mail_from", "From address", _config("MAIL_FROM"), section="mail", required=True,
                     help="For example: Sanctum <sanctum@example.org>"))
register(SettingSpec("letta_server_url", "Letta server URL", lambda: None, kind="url", section="providers",
                     help="Used by Letta agents that do not set their own base URL, e.g. http://localhost:8283"))
register(SettingSpec("letta_token", "Letta server token", lambda: None, kind="secret", section="providers"))
register(SettingSpec("openai_base_url", "OpenAI-compatible base URL", lambda: "https://api.openai.com/v1",
                     kind="url", section="providers",
                     help="Default for OpenAI-compatible agents without their own, e.g. http://localhost:11434/v1 for Ollama."))
register(SettingSpec("openai_api_key", "OpenAI-compatible API key", lambda: None, kind="secret",
                     section="providers", help="Default key for agents that have none of their own."))
register(SettingSpec("audit_retention_days", "Keep audit events (days)",
                     lambda: int(current_app.config["AUDIT_RETENTION_DAYS"]), kind="int",
                     section="retention", minimum=0, maximum=36500, required=True, help="0 keeps them forever."))
register(SettingSpec("chat_retention_days", "Keep chat history (days)", lambda: 0, kind="int",
                     section="retention", minimum=0, maximum=36500, required=True, help="0 keeps it forever."))

register(SettingSpec("moderation_agent", "Moderation agent", lambda: None, section="moderation",
                     help="The name of an agent asked to classify every new message (ok, spam, abuse, harmful, "
                          "other); anything but ok goes to the moderation queue. Leave empty to rely on rules "
                          "and flags only."))


# ---- data rights (issue 5): what erasing an account does to the chats it took part in.
register(SettingSpec(
    "erasure_chats", "When an account is erased, its chats are",
    default=lambda: current_app.config.get("ERASURE_CHATS", "anonymise"), choices=("anonymise", "delete"),
))


def get_setting(key: str) -> Any:
    """The effective value: the database row if there is one, else the default."""
    spec = REGISTRY[key]
    row = db.session.get(Setting, key)
    if row is None:
        return spec.default()
    if spec.secret:
        return crypto.decrypt((row.value or {}).get("enc")) if isinstance(row.value, dict) else None
    return row.value


def is_overridden(key: str) -> bool:
    return db.session.get(Setting, key) is not None


def masked_setting(key: str) -> str:
    """A secret as a page may show it: empty when unset, else dots (and the last 4 of long ones)."""
    try:
        return crypto.mask(get_setting(key))
    except crypto.SecretUnreadable:
        return "(cannot be decrypted — set it again)"


def clean_value(spec: SettingSpec, value: Any) -> Any:
    """Validate and normalise one value for `spec`; raise SettingError."""
    if isinstance(value, str):
        value = value.strip()
    if value in ("", None):
        if spec.required:
            raise SettingError(f"{spec.label} cannot be empty.", spec.key)
        return None
    if spec.kind == "int":
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise SettingError(f"{spec.label} must be a whole number.", spec.key) from None
        if spec.minimum is not None and value < spec.minimum or spec.maximum is not None and value > spec.maximum:
            raise SettingError(f"{spec.label} must be between {spec.minimum} and {spec.maximum}.", spec.key)
        return value
    value = str(value)
    if len(value) > 2000:
        raise SettingError(f"{spec.label} is too long.", spec.key)
    if spec.choices and value not in spec.choices:
        raise SettingError(f"{spec.label} must be one of {', '.join(spec.choices)}.", spec.key)
    if spec.kind == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingError(f"{spec.label} must be an http:// or https:// URL.", spec.key)
        value = value.rstrip("/")
    if any(ord(ch) < 32 for ch in value) and spec.kind != "secret":
        raise SettingError(f"{spec.label} cannot contain control characters.", spec.key)
    return value


def set_setting(key: str, value: Any, *, actor: Optional[User]) -> bool:
    """Change a setting in the caller's transaction, audited with before/after (secrets: set/cleared).

    Setting a value equal to the default removes the override; so does clearing a secret,
    after which the configured default (if any) applies again.
    Returns whether anything changed.
    """
    spec = REGISTRY.get(key)
    if spec is None:
        raise SettingError(f"unknown setting {key!r}")
    value = clean_value(spec, value)
    row = db.session.get(Setting, key)
    if spec.secret:
        before = "set" if row is not None and row.value else "unset"
        if value is None and row is None:
            return False
        after = "cleared" if value is None else ("replaced" if before == "set" else "set")
        details = {"before": before, "after": after}
    else:
        before = get_setting(key)
        if value == before:
            return False
        details = {"before": before, "after": value}
    if spec.secret and value is None or not spec.secret and value == spec.default():
        if row is not None:  # back to the default (from config)
            db.session.delete(row)
    else:
        if row is None:
            row = Setting(key=key)
            db.session.add(row)
        # A non-secret None is stored as JSON null: an explicit "none", overriding a config default.
        row.value = {"enc": crypto.encrypt(value)} if spec.secret else value
        row.updated_by_id = getattr(actor, "id", None)
    audit.record("settings.changed", actor=actor, target_type="setting", target_id=key, details=details)
    return True


def update_settings(changes: dict[str, Any], *, actor: Optional[User]) -> list[str]:
    """Apply several changes at once (all or nothing) and commit. Returns the keys that changed."""
    for key, value in changes.items():
        clean_value(REGISTRY[key], value)  # refuse before changing anything
    changed = [key for key, value in changes.items() if set_setting(key, value, actor=actor)]
    db.session.commit()
    return changed
