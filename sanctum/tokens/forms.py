"""Forms for personal API tokens."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from sanctum.tokens.service import EXPIRY_CHOICES
from sanctum.web.forms import choices


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class TokenCreateForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)],
                       description="What the token is for, e.g. “nightly backup script”.")
    expires = SelectField("Expires after", choices=choices(EXPIRY_CHOICES.items()), default="30")
    scopes = CheckboxesField("Permissions", description="Only what the script needs; never more than you have.")
