"""The announcement form (create and edit)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from sanctum.announcements.service import BODY_MAX, TITLE_MAX
from sanctum.models import ANNOUNCEMENT_LEVELS
from sanctum.tokens.forms import CheckboxesField
from sanctum.web.forms import choices

LEVEL_LABELS = {"info": "Info", "warning": "Warning", "critical": "Critical (cannot be dismissed)"}


class AnnouncementForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=TITLE_MAX)])
    body = TextAreaField("Message", validators=[Optional(), Length(max=BODY_MAX)],
                         description="Markdown: **bold**, _italic_, [links](https://example.com), lists.",
                         render_kw={"rows": 5})
    level = SelectField("Level", choices=choices((level, LEVEL_LABELS[level]) for level in ANNOUNCEMENT_LEVELS),
                        default="info")
    starts_at = DateTimeLocalField("Starts (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                   description="Leave empty to publish now.")
    ends_at = DateTimeLocalField("Ends (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                 description="Leave empty to show it until you end it.")
    audience = CheckboxesField("Audience", description="Tick roles to limit who sees it; none ticked means everyone.")
