"""Who am I, and what may this credential do."""
from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from sanctum.api import bp
from sanctum.rbac.service import effective_permissions
from sanctum.web.access import permission_required


@bp.get("/me")
@permission_required("account.manage")
def me_show():
    user = current_user._get_current_object()
    token = user.api_token
    return jsonify(
        id=user.id,
        username=user.username,
        display_name=user.name,
        email=user.email,
        role=user.role.name,
        permissions=sorted(effective_permissions(user)),
        credential={"type": "personal_token", "name": token.name, "scopes": token.scopes} if token
        else {"type": "session"},
    )
