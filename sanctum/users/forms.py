"""Forms on the user administration pages."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

BULK_ACTIONS = [("activate", "Activate"), ("deactivate", "Deactivate"), ("role", "Change role to…")]


class BulkForm(FlaskForm):
    """The selected ids come as repeated `user_ids` checkboxes, read by the view."""

    action = SelectField("With the selected users", validators=[DataRequired()])
    role = SelectField("Role", validators=[Optional()])


class AdminProfileForm(FlaskForm):
    display_name = StringField("Display name", validators=[Optional(), Length(max=100)])
