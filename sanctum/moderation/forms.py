"""Forms for flagging, deciding, screening rules and sanctions."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional as Maybe

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, RadioField, SelectField, SelectMultipleField, StringField, \
    TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from sanctum.models.base import utcnow
from sanctum.models.moderation import FLAG_REASONS, RULE_ACTIONS, SANCTION_TYPES
from sanctum.web.forms import choices

DURATIONS = {
    "1h": ("1 hour", timedelta(hours=1)),
    "24h": ("1 day", timedelta(days=1)),
    "72h": ("3 days", timedelta(days=3)),
    "168h": ("1 week", timedelta(days=7)),
    "720h": ("30 days", timedelta(days=30)),
    "custom": ("Until a date…", None),
    "none": ("No end", None),
}
REASON_HINT = "Recorded with your name, and shown to the person it concerns."


class FlagForm(FlaskForm):
    reason = RadioField("Why are you flagging this message?", choices=choices(
        (key, label) for key, (label, _w) in FLAG_REASONS.items()), validators=[DataRequired("Choose a reason.")])
    note = TextAreaField("Anything moderators should know", validators=[Optional(), Length(max=1000)],
                        description="Required for “Something else”.")


class _Ending:
    """Fields and the rule for when a sanction ends (mixed into the sanction forms)."""

    duration = SelectField("Duration", choices=choices((k, label) for k, (label, _d) in DURATIONS.items()),
                           default="24h",
                           description="Warnings have no duration; permanent bans have no end.")
    ends_at = DateTimeLocalField("Ends at (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                 description="Used when the duration is “Until a date…”.")

    def expires_at(self) -> Maybe[datetime]:
        choice = self.duration.data
        if choice == "custom":
            if self.ends_at.data is None:
                return None
            return self.ends_at.data.replace(tzinfo=timezone.utc)
        span = DURATIONS.get(choice, (None, None))[1]
        return None if span is None else (utcnow() + span).replace(second=0, microsecond=0)


class DecisionForm(_Ending, FlaskForm):
    decision = RadioField("Decision", choices=choices([
        ("dismissed", "Dismiss: nothing wrong here"),
        ("hidden", "Hide the message"),
        ("warned", "Warn its author"),
        ("sanctioned", "Sanction its author"),
    ]), validators=[DataRequired("Choose a decision.")])
    reason = TextAreaField("Reason", validators=[DataRequired("Give a reason."), Length(max=1000)],
                          description=REASON_HINT)
    hide = BooleanField("Also hide the message", default=True)
    sanction_type = SelectField("Sanction", choices=choices(
        (k, v) for k, v in SANCTION_TYPES.items() if k != "warning"), default="post_restriction")
    agent_ids = SelectMultipleField("Barred from these agents", coerce=int, validators=[Optional()],
                                    description="For “Barred from named agents”.")


class UnhideForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Give a reason."), Length(max=1000)])


class RuleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    kind = SelectField("Kind", choices=choices([("term", "Term or phrase"), ("regex", "Regular expression")]),
                       description="Terms match whole words; both ignore case.")
    pattern = StringField("Pattern", validators=[DataRequired(), Length(max=1000)],
                          description="Regular expressions run on RE2: linear time, no backreferences or lookaround.")
    category = StringField("Category", validators=[DataRequired(), Length(max=40)],
                           description="What the queue shows as the reason, e.g. spam, abuse, harmful.")
    action = SelectField("When it matches", choices=choices((k, label) for k, (label, _w) in RULE_ACTIONS.items()))
    applies_to = SelectField("Applies to", choices=choices([("user", "What people write"),
                                                            ("agent", "What agents answer"),
                                                            ("both", "Both")]))
    block_message = StringField("Message shown when blocked", validators=[Optional(), Length(max=500)],
                                description="Optional; otherwise the sender is told which rule the message breaks.")
    is_active = BooleanField("Active", default=True)


class RuleTestForm(FlaskForm):
    text = TextAreaField("Try the active rules on a text", validators=[DataRequired(), Length(max=20_000)])


class SanctionForm(_Ending, FlaskForm):
    username = StringField("User", validators=[DataRequired(), Length(max=254)],
                           description="Username or email address.")
    type = SelectField("Sanction", choices=choices(SANCTION_TYPES.items()), default="warning")
    reason = TextAreaField("Reason", validators=[DataRequired("Give a reason."), Length(max=1000)],
                          description=REASON_HINT)
    agent_ids = SelectMultipleField("Barred from these agents", coerce=int, validators=[Optional()],
                                    description="For “Barred from named agents”.")


class SanctionEditForm(_Ending, FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Give a reason."), Length(max=1000)])


class LiftForm(FlaskForm):
    reason = TextAreaField("Why lift it", validators=[DataRequired("Give a reason."), Length(max=1000)])
