"""Users over JSON for scripts: list/search, read, change role or status (seed 000, 002)."""
from __future__ import annotations

from flask import abort, jsonify, request, url_for
from flask_login import current_user

from sanctum.api import bp
from sanctum.api.common import json_body
from sanctum.rbac.service import has_permission
from sanctum.users import service
from sanctum.users.listing import UserFilter, list_users
from sanctum.web.access import permission_required
from sanctum.web.errors import error_response

STATUS_ACTIONS = {"active": "activate", "inactive": "deactivate", "locked": "lock"}


def user_json(user) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "email_verified": user.email_verified,
        "role": user.role.name,
        "status": user.status,
        "last_login": user.last_login.isoformat() if user.last_login else None,
        "created_at": user.created_at.isoformat(),
    }


@bp.get("/users")
@permission_required("users.view")
def users_list():
    """Same filters as the page (`q`, `role`, `status`, `verified`, `active`, `sort`), cursor in `after`."""
    filters = UserFilter.from_args(request.args)
    size = min(max(request.args.get("limit", 50, type=int), 1), 200)
    page = list_users(filters, after=request.args.get("after"), size=size)
    return jsonify(
        users=[user_json(u) for u in page.users],
        total=page.total,
        next=url_for("api.users_list", after=page.next_cursor, limit=size, **filters.as_args())
        if page.next_cursor else None,
    )


@bp.get("/users/<int:user_id>")
@permission_required("users.view")
def users_get(user_id: int):
    user = service.get_user(user_id) or abort(404)
    return jsonify(user_json(user))


@bp.patch("/users/<int:user_id>")
@permission_required("users.manage")
def users_patch(user_id: int):
    """`{"role": "moderator"}` and/or `{"status": "active" | "inactive" | "locked"}`."""
    body = json_body()
    user = service.get_user(user_id) or abort(404)
    actor = current_user._get_current_object()
    unknown = set(body) - {"role", "status"}
    if unknown or not body:
        return error_response(422, f"Only role and status can change here{': not ' + ', '.join(sorted(unknown)) if unknown else ''}.")
    try:
        if "role" in body:
            if not has_permission(actor, "roles.manage"):
                return error_response(403, "Changing roles needs roles.manage.")
            service.change_role(user=user, role_name=str(body["role"]), actor=actor)
        if "status" in body and body["status"] != user.status:
            action = STATUS_ACTIONS.get(body["status"])
            if action is None:
                return error_response(422, "status must be active, inactive or locked.")
            service.change_status(user=user, action=action, actor=actor)
    except service.UserAdminError as exc:
        return error_response(409, str(exc))
    return jsonify(user_json(user))


@bp.delete("/users/<int:user_id>")
@permission_required("users.manage")
def users_delete(user_id: int):
    """Erase the account (seed 003, GDPR): anonymised, sessions ended, audit rows kept under a
    pseudonym. Scripts confirm by sending the username: `{"confirm": "<username>"}`."""
    from sanctum.privacy.erasure import erase_user
    from sanctum.privacy.service import PrivacyError

    body = json_body("confirm")
    user = service.get_user(user_id) or abort(404)
    try:
        erase_user(user=user, actor=current_user._get_current_object(), confirm=body["confirm"])
    except PrivacyError as exc:
        return error_response(409 if exc.field is None else 422, str(exc))
    return "", 204
