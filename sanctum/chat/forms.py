"""Forms of the chat pages."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class NewChatForm(FlaskForm):
    agent_id = IntegerField("Agent", validators=[DataRequired()])


class MessageForm(FlaskForm):
    # The length rule lives in the service (it answers 413 with the count); this only stops absurd input.
    body = TextAreaField("Message", validators=[DataRequired(message="Write something first."), Length(max=200_000)])


class RenameForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
