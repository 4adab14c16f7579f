"""One form per settings section, built from the setting specs."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from sanctum.settings.service import REGISTRY, SettingSpec, get_setting, masked_setting
from sanctum.web.forms import choices

CLEAR_SUFFIX = "__clear"


def specs_in(section: str) -> list[SettingSpec]:
    return [spec for spec in REGISTRY.values() if spec.section == section]


def _field(spec: SettingSpec):
    required = [InputRequired()] if spec.required else [Optional()]
    if spec.kind == "choice":
        return SelectField(spec.label, choices=choices((c, c) for c in spec.choices), description=spec.help)
    if spec.kind == "int":
        return IntegerField(spec.label, validators=required + [NumberRange(spec.minimum, spec.maximum)],
                            description=spec.help)
    if spec.kind == "secret":
        return PasswordField(spec.label, validators=[Optional(), Length(max=2000)], description=spec.help)
    return StringField(spec.label, validators=required + [Length(max=2000)], description=spec.help)


def section_form(section: str, *, load: bool) -> FlaskForm:
    """The form for one section; with `load`, filled with the current values (secrets stay blank)."""
    fields = {}
    for spec in specs_in(section):
        fields[spec.key] = _field(spec)
        if spec.secret:
            fields[spec.key + CLEAR_SUFFIX] = BooleanField("Clear the stored value")
    form_class = type(f"{section.title()}SettingsForm", (FlaskForm,), fields)
    form = form_class() if not load else form_class(data={
        spec.key: get_setting(spec.key) for spec in specs_in(section) if not spec.secret})
    form.section = section
    form.secrets = {spec.key: masked_setting(spec.key) for spec in specs_in(section) if spec.secret}
    return form


def changes_from(form: FlaskForm) -> dict:
    """What the submitted form asks to change. An empty secret keeps the stored one."""
    changes = {}
    for spec in specs_in(form.section):
        field = form[spec.key]
        if spec.secret:
            if form[spec.key + CLEAR_SUFFIX].data:
                changes[spec.key] = None
            elif field.data:
                changes[spec.key] = field.data
        else:
            changes[spec.key] = field.data
    return changes
