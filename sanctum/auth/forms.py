"""Forms for signing in and out, setup, sign-up, reset and verification."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp

from sanctum.auth.passwords import MAX_LENGTH, MIN_LENGTH

USERNAME_RULE = Regexp(r"^[A-Za-z0-9_.-]{3,64}$",
                       message="Use 3 to 64 letters, digits, dots, dashes or underscores.")
PASSWORD_HINT = f"At least {MIN_LENGTH} characters. Spaces and any characters are fine; a few unrelated words work well."


def password_field(label: str, **kwargs) -> PasswordField:
    # Length is checked again (and explained) by the password policy; this stops absurd input early.
    return PasswordField(label, validators=[DataRequired(), Length(max=MAX_LENGTH)], **kwargs)


class LoginForm(FlaskForm):
    identifier = StringField("Username or email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()


class AccountFields(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), USERNAME_RULE])
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    password = password_field("Password", description=PASSWORD_HINT)
    confirm = PasswordField("Repeat the password",
                            validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")])


class SetupForm(AccountFields):
    """The first administrator: exactly the account fields, nothing optional."""


class RegisterForm(AccountFields):
    display_name = StringField("Display name", validators=[Optional(), Length(max=100)])


class ForgotForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])


class ResetForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
    new_password = password_field("New password", description=PASSWORD_HINT)
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired(), EqualTo("new_password", message="The passwords do not match.")])


class TokenForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])


class EmptyForm(FlaskForm):
    """For POST-only buttons: carries the CSRF token and nothing else."""
