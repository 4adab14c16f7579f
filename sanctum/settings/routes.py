"""The settings page: one form per section; secrets masked, replaced or cleared, never shown."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user

from sanctum.settings import service
from sanctum.settings.forms import changes_from, section_form
from sanctum.web.access import permission_required
from sanctum.web.forms import apply_error
from sanctum.web.render import render, wants_partial

bp = Blueprint("settings", __name__, url_prefix="/admin/settings")


def _forms(**override):
    return [override.get(section) or section_form(section, load=True) for section in service.SECTIONS]


@bp.get("/")
@permission_required("settings.manage")
def settings_index():
    return render("settings/index.html", "settings/_sections.html", forms=_forms(), titles=service.SECTIONS)


@bp.post("/<section>")
@permission_required("settings.manage")
def settings_update(section: str):
    if section not in service.SECTIONS:
        abort(404)
    form = section_form(section, load=False)
    if form.validate_on_submit():
        try:
            changed = service.update_settings(changes_from(form), actor=current_user._get_current_object())
        except service.SettingError as exc:
            apply_error(form, exc)
        else:
            labels = [service.REGISTRY[key].label for key in changed]
            flash(f"Saved: {', '.join(labels)}." if labels else "Nothing changed.", "success")
            if not wants_partial():
                return redirect(url_for("settings.settings_index", _anchor=f"settings-{section}"))
            fresh = section_form(section, load=True)
            return render("settings/index.html", "settings/_section.html", form=fresh, title=service.SECTIONS[section],
                          forms=_forms(**{section: fresh}), titles=service.SECTIONS)
    return render("settings/index.html", "settings/_section.html", status=422, form=form,
                  title=service.SECTIONS[section], forms=_forms(**{section: form}), titles=service.SECTIONS)
