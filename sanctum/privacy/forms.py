"""Forms for exports and erasure."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from sanctum.web.forms import choices

CHATS_CHOICES = {
    "anonymise": "kept, with the person shown as deleted-<id>",
    "delete": "deleted with their messages",
}


class EraseForm(FlaskForm):
    confirm = StringField("Type the username to confirm", validators=[DataRequired(), Length(max=64)])


class ErasureSettingsForm(FlaskForm):
    chats = SelectField("When an account is erased, its chats are", choices=choices(CHATS_CHOICES.items()))
