"""Forms for inviting people and for accepting an invitation."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from sanctum.auth.forms import PASSWORD_HINT, USERNAME_RULE, password_field
from sanctum.invitations.service import EXPIRY_CHOICES
from sanctum.web.forms import choices

NOTE_HINT = "For administrators only: it is not put in the mail."


class InvitationForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", validators=[DataRequired()])
    expires = SelectField("Valid for", choices=choices(EXPIRY_CHOICES.items()), default="7")
    note = StringField("Note", validators=[Optional(), Length(max=500)], description=NOTE_HINT)


class InvitationImportForm(FlaskForm):
    file = FileField("CSV file", validators=[
        FileRequired("Choose a file."),
        FileAllowed(["csv", "txt"], "Upload a .csv file (a spreadsheet saved as “CSV UTF-8”)."),
    ], description="One address per row, in a column named “email”; optional “role” and “note” columns "
                   "override the choices below. Commas, semicolons or tabs; at most 10,000 rows.")
    # Own ids: this form shares its page (and its field names) with InvitationForm.
    role = SelectField("Default role", validators=[DataRequired()], id="import-role")
    expires = SelectField("Valid for", choices=choices(EXPIRY_CHOICES.items()), default="7", id="import-expires")
    note = StringField("Note", validators=[Optional(), Length(max=500)], description=NOTE_HINT, id="import-note")


class AcceptForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
    username = StringField("Username", validators=[DataRequired(), USERNAME_RULE])
    display_name = StringField("Display name", validators=[Optional(), Length(max=100)],
                               description="Shown instead of your username where others see you.")
    password = password_field("Password", description=PASSWORD_HINT)
    confirm = PasswordField("Repeat the password",
                            validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")])
