"""Forms for the agent pages."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from sanctum.agents.providers import PROVIDERS
from sanctum.tokens.forms import CheckboxesField
from sanctum.web.forms import choices


class AgentForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=50)],
                       description="A short id: lower-case letters, digits, - and _ (e.g. “athena”).")
    display_name = StringField("Display name", validators=[Optional(), Length(max=100)])
    avatar = StringField("Avatar", validators=[Optional(), Length(max=16)], description="An emoji, e.g. 🦉")
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    provider = SelectField("Provider", choices=choices((key, p.label) for key, p in PROVIDERS.items()),
                           default="builtin")
    base_url = StringField("Base URL", validators=[Optional(), Length(max=500)],
                           description="OpenAI-compatible: up to /v1 (http://localhost:11434/v1). Letta: the server "
                                       "(http://localhost:8283). Empty: the default from the settings.")
    model = StringField("Model", validators=[Optional(), Length(max=200)],
                        description="For OpenAI-compatible servers, e.g. gpt-4o-mini or llama3.1.")
    external_id = StringField("Letta agent id", validators=[Optional(), Length(max=200)],
                              description="For Letta, e.g. agent-1a2b…")
    system_prompt = TextAreaField("System prompt", validators=[Optional(), Length(max=20000)])
    temperature = DecimalField("Temperature", places=None, validators=[Optional(), NumberRange(0, 2)])
    connect_timeout = DecimalField("Connect timeout (s)", places=None, default=5,
                                   validators=[Optional(), NumberRange(0.5, 120)])
    read_timeout = DecimalField("Silence timeout (s)", places=None, default=60,
                                validators=[Optional(), NumberRange(1, 3600)],
                                description="The longest pause allowed inside a reply.")
    total_timeout = DecimalField("Reply timeout (s)", places=None, default=300,
                                 validators=[Optional(), NumberRange(1, 7200)])
    health_check_interval = IntegerField("Check every (s)", default=300, validators=[Optional(), NumberRange(10, 86400)])
    is_active = BooleanField("Active", default=True)
    roles = CheckboxesField("Roles that may use it")
    users = StringField("Also these users", validators=[Optional(), Length(max=4000)],
                        description="Usernames, separated by commas.")

    def data_for_service(self) -> dict:
        data = {name: getattr(self, name).data for name in (
            "name", "display_name", "avatar", "description", "provider", "base_url", "model", "external_id",
            "system_prompt", "temperature", "connect_timeout", "read_timeout", "total_timeout",
            "health_check_interval", "is_active", "roles", "users")}
        for name in ("temperature", "connect_timeout", "read_timeout", "total_timeout"):
            if data[name] is not None:
                data[name] = float(data[name])
        return data


class ApiKeyForm(FlaskForm):
    api_key = PasswordField("API key", validators=[DataRequired(), Length(max=4000)],
                            description="Stored encrypted; it is never shown again.")
