"""Access declarations. Every view is marked `@public` or `@permission_required(...)`.

`sanctum.web.access.check_declared(app)` refuses to let an undeclared view exist:
the factory calls it at the end of `create_app`, and the route matrix test
walks the same markers.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable, Optional
from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, request, url_for
from flask_login import current_user

PUBLIC = "public"
# Flask's own static view, registered by the framework, is public by nature.
_FRAMEWORK_PUBLIC = {"static"}


def public(view: Callable) -> Callable:
    """Anyone may call this view, signed in or not."""
    view.sanctum_access = PUBLIC
    return view


def own_credential(description: str) -> Callable[[Callable], Callable]:
    """A machine protocol that checks its own credential (stack it under `@public`).

    Sessions and personal tokens do not open it; without its credential it answers
    401 to everyone, and the route matrix test expects exactly that.
    """

    def decorator(view: Callable) -> Callable:
        view.sanctum_credential = description
        return view

    return decorator


def credential_of(view: Callable) -> Optional[str]:
    return getattr(view, "sanctum_credential", None)


def permission_required(name: str) -> Callable[[Callable], Callable]:
    """Only a signed-in user holding `name` (by role or an active grant) may call this view.

    Anonymous: browsers are sent to sign in, htmx gets 401 with HX-Redirect, the API 401.
    Signed in without the permission: 403 (page, partial or JSON), and an audit event.
    """
    from sanctum.rbac.catalog import PERMISSIONS

    if name not in PERMISSIONS:
        raise ValueError(f"unknown permission {name!r}: add it to sanctum.rbac.catalog and a migration")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            denial = deny(name)
            if denial is not None:
                return denial
            return view(*args, **kwargs)

        guarded.sanctum_access = f"permission:{name}"
        guarded.sanctum_permission = name
        return guarded

    return decorator


def deny(name: str):
    """The response refusing the current request, or None when it may proceed."""
    from sanctum.rbac.service import has_permission

    if not current_user.is_authenticated:
        return unauthenticated()
    if not has_permission(current_user, name):
        return forbidden(name)
    return None


def unauthenticated():
    from sanctum.web.errors import error_response
    from sanctum.web.render import wants_json

    if wants_json():
        return error_response(401)
    login = url_for("auth.auth_login", next=safe_next(request.full_path))
    if request.headers.get("HX-Request") == "true":
        body, status = error_response(401)
        return body, status, {"HX-Redirect": login}
    return redirect(login)


def forbidden(name: str):
    from sanctum import audit
    from sanctum.extensions import db
    from sanctum.web.errors import error_response

    audit.record("access.denied", actor=current_user, outcome="denied",
                 details={"permission": name, "method": request.method, "path": request.path[:200]})
    db.session.commit()
    return error_response(403)


def safe_next(target: Optional[str]) -> Optional[str]:
    """A same-site path to return to after sign-in, or None (SECURITY.md 22)."""
    if not target:
        return None
    target = target.strip()
    if target.endswith("?"):
        target = target[:-1]
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    return target


def access_of(view: Callable) -> Optional[str]:
    return getattr(view, "sanctum_access", None)


def undeclared_endpoints(app: Flask) -> list[str]:
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in _FRAMEWORK_PUBLIC:
            continue
        view = app.view_functions.get(rule.endpoint)
        if view is None or access_of(view) is None:
            missing.append(f"{rule.rule} ({rule.endpoint})")
    return sorted(missing)


def check_declared(app: Flask) -> None:
    missing = undeclared_endpoints(app)
    if missing:
        raise RuntimeError(
            "these routes declare neither @public nor @permission_required: " + ", ".join(missing)
        )
