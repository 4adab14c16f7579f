"""Where moderation's audit targets link to."""
from __future__ import annotations

from flask import url_for

from sanctum.audit.links import target_kind
from sanctum.web.templating import can


@target_kind("moderationitem")
def _item(target_id, users):
    url = url_for("moderation.item_show", item_id=int(target_id)) if can("moderation.review") else None
    return f"moderation item #{target_id}", url


@target_kind("screeningrule")
def _rule(target_id, users):
    return f"screening rule #{target_id}", url_for("moderation.rules_index") if can("settings.manage") else None
