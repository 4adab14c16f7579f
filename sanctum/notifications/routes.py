"""The user's own notifications: the list, mark one or all read, open one, and the socket seed 000
calls `/ws/notifications` (the page socket, already joined to the user's own channel)."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

from sanctum.auth.forms import EmptyForm
from sanctum.extensions import sock
from sanctum.live import routes as live_routes
from sanctum.notifications import live as _live  # noqa: F401  (registers the channel and its renderer)
from sanctum.notifications import privacy as _privacy  # noqa: F401  (registers the export section and eraser)
from sanctum.notifications import service
from sanctum.web.access import permission_required
from sanctum.web.render import render, wants_partial

bp = Blueprint("notifications", __name__)


def _me():
    return current_user._get_current_object()


def _listing(status: int = 200):
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    unread_only = request.args.get("show") == "unread"
    listing = service.list_notifications(user=_me(), page=page, unread_only=unread_only)
    return render("notifications/index.html", "notifications/_list.html", status=status, listing=listing,
                  unread_only=unread_only, form=EmptyForm(),
                  bell_oob=request.method == "POST")


def _checked() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400)


@bp.before_request
def check_handshake():
    if request.endpoint == "notifications.notifications_socket":
        live_routes.refuse_bad_handshake()
    return None


@bp.get("/notifications/")
@permission_required("account.manage")
def notifications_index():
    return _listing()


@bp.post("/notifications/<int:notification_id>/read")
@permission_required("account.manage")
def notifications_read(notification_id: int):
    _checked()
    try:
        service.mark_read(user=_me(), notification_id=notification_id)
    except LookupError:
        abort(404)
    if wants_partial():
        return _listing()
    return redirect(url_for("notifications.notifications_index", **_list_args()))


@bp.post("/notifications/<int:notification_id>/open")
@permission_required("account.manage")
def notifications_open(notification_id: int):
    """Follow a notification's link, marking it read on the way."""
    _checked()
    try:
        row = service.mark_read(user=_me(), notification_id=notification_id)
    except LookupError:
        abort(404)
    return redirect(row.link or url_for("notifications.notifications_index"))


@bp.post("/notifications/read-all")
@permission_required("account.manage")
def notifications_read_all():
    _checked()
    service.mark_all_read(user=_me())
    if wants_partial():
        return _listing()
    return redirect(url_for("notifications.notifications_index", **_list_args()))


def _list_args() -> dict:
    """Where the list was (page, filter), carried in the action's query string."""
    args = {"page": request.args.get("page", type=int), "show": request.args.get("show")}
    return {key: value for key, value in args.items() if value and value != 1}


@sock.route("/ws/notifications", bp=bp)
@permission_required("account.manage")
def notifications_socket(ws):
    """Seed 000's notification socket: `/ws` joined to the user's own channel (plus any
    `channel=` the page asks for, under the usual rules)."""
    live_routes.serve(ws, [service.channel_for(current_user.id)] + request.args.getlist("channel"))
