"""Saving and deleting screening rules: checked when saved (never at run time), audited."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import func, select

from sanctum import audit
from sanctum.extensions import db
from sanctum.models import ScreeningRule, User
from sanctum.models.moderation import RULE_ACTIONS, RULE_KINDS, RULE_SCOPES
from sanctum.moderation.screening import RuleError, check_rule

FIELDS = ("name", "kind", "pattern", "category", "action", "applies_to", "block_message", "is_active")

__all__ = ["RuleError", "delete_rule", "save_rule"]


def _snapshot(rule: ScreeningRule) -> dict:
    return {name: getattr(rule, name) for name in FIELDS}


def save_rule(*, actor: Optional[User], rule: Optional[ScreeningRule], data: dict) -> ScreeningRule:
    values = {name: data.get(name) for name in FIELDS}
    values["name"] = " ".join((values["name"] or "").split())
    values["category"] = (values["category"] or "").strip().lower()
    values["pattern"] = (values["pattern"] or "").strip()
    values["block_message"] = (values["block_message"] or "").strip() or None
    values["is_active"] = bool(values["is_active"])
    if not values["name"]:
        raise RuleError("Give the rule a name.")
    if values["kind"] not in RULE_KINDS:
        raise RuleError("Choose a kind.")
    if values["action"] not in RULE_ACTIONS:
        raise RuleError("Choose what happens on a match.")
    if values["applies_to"] not in RULE_SCOPES:
        raise RuleError("Choose what the rule reads.")
    if not values["category"]:
        raise RuleError("Give a category.")
    try:
        check_rule(values["kind"], values["pattern"])
    except RuleError as exc:
        exc.field = "pattern"
        raise
    clash = db.session.scalar(select(ScreeningRule.id).where(func.lower(ScreeningRule.name) == values["name"].lower()))
    if clash is not None and (rule is None or clash != rule.id):
        error = RuleError("Another rule has this name.")
        error.field = "name"
        raise error
    before = None if rule is None else _snapshot(rule)
    if rule is None:
        rule = ScreeningRule(created_by_id=getattr(actor, "id", None))
        db.session.add(rule)
    for name, value in values.items():
        setattr(rule, name, value)
    db.session.flush()
    audit.record("moderation.rule_created" if before is None else "moderation.rule_changed", actor=actor,
                 target=rule, details={"before": before, "after": _snapshot(rule)})
    db.session.commit()
    return rule


def delete_rule(*, actor: User, rule: ScreeningRule) -> None:
    audit.record("moderation.rule_deleted", actor=actor, target=rule, details={"before": _snapshot(rule)})
    db.session.delete(rule)
    db.session.commit()
