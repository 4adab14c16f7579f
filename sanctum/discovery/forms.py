"""Forms for registering Broca databases and inviting or linking the people in them."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from sanctum.invitations.service import EXPIRY_CHOICES
from sanctum.web.forms import choices


class SourceForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)],
                       description="How this Broca is called here, e.g. “Telegram bot”.")
    path = StringField("Path on the server", validators=[DataRequired(), Length(max=1024)],
                       description="The absolute path of Broca's SQLite file, e.g. /srv/broca/sqlite.db. "
                                   "Sanctum opens it read-only.")


class InvitePersonForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)],
                       description="Broca does not know addresses: ask the person for theirs.")
    role = SelectField("Role", validators=[DataRequired()])
    expires = SelectField("Valid for", choices=choices(EXPIRY_CHOICES.items()), default="7")


class LinkPersonForm(FlaskForm):
    user = StringField("Username or email of the account", validators=[DataRequired(), Length(max=254)])
