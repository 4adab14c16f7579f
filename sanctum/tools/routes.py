"""Tool pages: cards in tabs by category, create, edit, delete, import manifests, check now."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from sanctum.auth.forms import EmptyForm
from sanctum.extensions import db
from sanctum.health import CHANNEL
from sanctum.health.service import check_tool
from sanctum.models import Tool
from sanctum.rbac.service import has_permission
from sanctum.tools import manifest, service
from sanctum.tools.forms import ToolForm
from sanctum.web.access import permission_required
from sanctum.web.forms import apply_error
from sanctum.web.render import render

bp = Blueprint("tools", __name__, url_prefix="/tools")


def _actor():
    return current_user._get_current_object()


@bp.get("/")
@permission_required("tools.view")
def tools_index():
    tabs = service.categories()
    names = [name for name, _count in tabs]
    category = request.args.get("category") or (names[0] if names else None)
    if category and category not in names:
        abort(404)
    return render("tools/index.html", "tools/_panel.html", tabs=tabs, category=category,
                  tools=service.list_tools(category) if category else [], form=EmptyForm(),
                  manifest_dir=manifest.manifest_dir(),
                  live_channels=[CHANNEL] if has_permission(current_user, "system.view") else [])


@bp.route("/new", methods=["GET", "POST"])
@permission_required("tools.manage")
def tools_new():
    form = ToolForm()
    if request.method == "GET" and request.args.get("category"):
        form.category.data = request.args["category"][:50]
    if form.validate_on_submit():
        try:
            tool = service.create_tool(data=form.data_for_service(), actor=_actor())
        except service.ToolError as exc:
            apply_error(form, exc)
        else:
            flash(f"The tool “{tool.name}” is created.", "success")
            return redirect(url_for("tools.tools_index", category=tool.category))
    return render("tools/form.html", "tools/_form.html", form=form, tool=None, status=422 if form.errors else 200)


@bp.route("/<int:tool_id>/edit", methods=["GET", "POST"])
@permission_required("tools.manage")
def tools_edit(tool_id: int):
    tool = db.session.get(Tool, tool_id) or abort(404)
    form = ToolForm(obj=tool)
    if form.validate_on_submit():
        try:
            service.update_tool(tool=tool, data=form.data_for_service(), actor=_actor())
        except service.ToolError as exc:
            apply_error(form, exc)
        else:
            flash(f"The tool “{tool.name}” is saved.", "success")
            return redirect(url_for("tools.tools_index", category=tool.category))
    return render("tools/form.html", "tools/_form.html", form=form, tool=tool, status=422 if form.errors else 200)


@bp.post("/<int:tool_id>/delete")
@permission_required("tools.manage")
def tools_delete(tool_id: int):
    tool = db.session.get(Tool, tool_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    name, category = tool.name, tool.category
    service.delete_tool(tool=tool, actor=_actor())
    flash(f"The tool “{name}” is deleted.", "success")
    return redirect(url_for("tools.tools_index", category=category if service.list_tools(category) else None))


@bp.post("/<int:tool_id>/check")
@permission_required("tools.manage")
def tools_check(tool_id: int):
    tool = db.session.get(Tool, tool_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    check_tool(tool)
    db.session.commit()
    return render("tools/index.html", "tools/_card.html", tool=tool, form=EmptyForm(), tabs=service.categories(),
                  category=tool.category, tools=service.list_tools(tool.category),
                  manifest_dir=manifest.manifest_dir(), live_channels=[])


@bp.post("/import")
@permission_required("tools.manage")
def tools_import():
    if not EmptyForm().validate_on_submit():
        abort(400)
    report = manifest.import_folder(actor=_actor())
    if not (report.created or report.updated or report.unchanged or report.errors):
        flash(f"No manifest.json files were found in {manifest.manifest_dir()}.", "warning")
    else:
        flash(f"Imported tool cards: {len(report.created)} new, {len(report.updated)} updated, "
              f"{len(report.unchanged)} unchanged.", "success")
    for error in report.errors[:10]:
        flash(f"Skipped {error}", "error")
    return redirect(url_for("tools.tools_index"))
