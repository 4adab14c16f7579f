"""Forms on one's own account pages."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from sanctum.auth.forms import PASSWORD_HINT, password_field
from sanctum.auth.passwords import MAX_LENGTH


class ProfileForm(FlaskForm):
    display_name = StringField("Display name", validators=[Optional(), Length(max=100)],
                               description="Shown instead of your username where others see you.")


class EmailChangeForm(FlaskForm):
    email = EmailField("New email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_LENGTH)])
    new_password = password_field("New password", description=PASSWORD_HINT)
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired(), EqualTo("new_password", message="The passwords do not match.")])
