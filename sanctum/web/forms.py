"""Helpers shared by every form-handling view."""
from __future__ import annotations

from typing import Iterable

from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice


def invalid(form: FlaskForm) -> int:
    """422 when a submitted form has errors (htmx is configured to swap 422), else 200."""
    return 422 if form.errors else 200


def apply_error(form: FlaskForm, error) -> None:
    """Attach a service's refusal to the field it names, or to the form as a whole."""
    field = getattr(form, getattr(error, "field", None) or "", None)
    if field is not None and hasattr(field, "errors"):
        field.errors = list(field.errors) + [str(error)]
    else:
        form.form_errors.append(str(error))


def choices(pairs: Iterable[tuple]) -> list[SelectChoice]:
    """Options for a SelectField from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]
