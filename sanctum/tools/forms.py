"""Forms for the tool pages."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ToolForm(FlaskForm):
    slug = StringField("Id", validators=[DataRequired(), Length(max=50)],
                       description="A short id used by the API, e.g. “tools-app”.")
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    emoji = StringField("Emoji", validators=[Optional(), Length(max=16)])
    category = StringField("Category", validators=[DataRequired(), Length(max=50)], default="master",
                           description="The tab it appears in: master, an agent's name, smcp, …")
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    route_path = StringField("Route or URL", validators=[Optional(), Length(max=500)],
                             description="A path in Sanctum (/tools/x) or an http(s):// address.")
    health_check_url = StringField("Health-check URL", validators=[Optional(), Length(max=500)],
                                   description="Checked with GET; 2xx is Healthy. Empty: the tool stays Ready.")
    health_check_interval = IntegerField("Check every (s)", default=60, validators=[Optional(), NumberRange(10, 86400)])
    is_enabled = BooleanField("Enabled", default=True)

    def data_for_service(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "slug", "name", "emoji", "category", "description", "route_path", "health_check_url",
            "health_check_interval", "is_enabled")}
