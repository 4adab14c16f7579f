"""The viewer's filter form (GET, so no CSRF), and the retention setting."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SearchField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from sanctum.audit.query import AuditFilter
from sanctum.audit.retention import MAX_RETENTION_DAYS
from sanctum.audit.service import OUTCOMES
from sanctum.web.forms import choices


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a search: it changes nothing, and its URL is meant to be shared

    q = SearchField("Search details", validators=[Optional(), Length(max=200)])
    actor = StringField("Actor", validators=[Optional(), Length(max=254)],
                        description="Username or email; “system” for housekeeping.")
    action = StringField("Action", validators=[Optional(), Length(max=100)],
                         description="Exact, or a prefix ending in “.”: auth.")
    target = StringField("Target", validators=[Optional(), Length(max=160)], description="user or user:12")
    outcome = SelectField("Outcome", choices=choices([("", "Any")] + [(o, o.capitalize()) for o in OUTCOMES]),
                          validators=[Optional()])
    ip = StringField("IP address", validators=[Optional(), Length(max=64)], description="Exact, or a prefix: 10.1.")
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end comes before the start.")

    def to_filter(self) -> AuditFilter:
        if self.errors:
            return AuditFilter()
        return AuditFilter(**{name: (getattr(self, name).data or ("" if name not in ("since", "until") else None))
                              for name in ("q", "actor", "action", "target", "outcome", "ip", "since", "until")})


class RetentionForm(FlaskForm):
    days = IntegerField("Keep events for (days)", validators=[InputRequired(), NumberRange(0, MAX_RETENTION_DAYS)],
                        description="0 keeps them forever. Older events are purged daily; the chain stays verifiable.")
