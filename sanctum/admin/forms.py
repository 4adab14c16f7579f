"""Forms for the admin pages that are not a single resource's own."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from sanctum.tokens.forms import CheckboxesField


class RoleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Regexp(r"^[a-z][a-z0-9_-]{1,63}$",
                       message="Lower-case letters, digits, dashes and underscores; start with a letter.")])
    description = TextAreaField("Description", validators=[Optional(), Length(max=500)])
    permissions = CheckboxesField("Permissions")


class RoleAssignForm(FlaskForm):
    role = SelectField("Role", coerce=int)


class GrantForm(FlaskForm):
    permission = SelectField("Permission", validators=[DataRequired()])
    expires_at = DateTimeLocalField("Until (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                    description="Leave empty for a grant without end.")
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])
