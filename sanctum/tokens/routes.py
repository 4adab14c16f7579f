"""One's own personal API tokens: create (shown once), list, revoke."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, session, url_for
from flask_login import current_user

from sanctum.auth.forms import EmptyForm
from sanctum.rbac.catalog import PERMISSIONS
from sanctum.tokens import service
from sanctum.tokens.forms import TokenCreateForm
from sanctum.web.access import permission_required
from sanctum.web.forms import apply_error, choices
from sanctum.web.render import render

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


def _form(*, submitted: bool) -> TokenCreateForm:
    """The create form, filled from the request when `submitted`, else blank."""
    user = current_user._get_current_object()
    form = TokenCreateForm() if submitted else TokenCreateForm(formdata=None)
    form.scopes.choices = choices((name, f"{name} — {PERMISSIONS[name]}")
                                  for name in sorted(service.effective_permissions_of(user)) if name in PERMISSIONS)
    return form


def _page(form: TokenCreateForm, status: int = 200, new_token: str | None = None):
    user = current_user._get_current_object()
    return render("tokens/index.html", "tokens/_tokens.html", status=status, form=form, new_token=new_token,
                  tokens=service.list_tokens(user), empty_form=EmptyForm())


@bp.get("/")
@permission_required("account.manage")
def tokens_index():
    # Shown on the first page view after creation only: a reload does not resubmit the form,
    # and the token leaves the session as it is displayed.
    return _page(_form(submitted=False), new_token=session.pop("new_api_token", None))


@bp.post("/")
@permission_required("tokens.create")
def tokens_create():
    form = _form(submitted=True)
    if form.validate_on_submit():
        days = None if form.expires.data == "never" else int(form.expires.data)
        try:
            _token, raw = service.create_token(user=current_user._get_current_object(), name=form.name.data,
                                               scopes=form.scopes.data or [], expires_in_days=days)
        except service.TokenError as exc:
            apply_error(form, exc)
        else:
            session["new_api_token"] = raw
            return redirect(url_for("tokens.tokens_index"))
    return _page(form, status=422)


@bp.post("/<int:token_id>/revoke")
@permission_required("account.manage")
def tokens_revoke(token_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = current_user._get_current_object()
    try:
        token = service.revoke_token(user=user, token_id=token_id, actor=user)
    except LookupError:
        abort(404)
    flash(f"The token “{token.name}” no longer works.", "success")
    return redirect(url_for("tokens.tokens_index"))
