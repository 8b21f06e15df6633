"""Form fields and helpers shared by the tools' forms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, ValidationError

from workflow.errors import AlreadyHandled, InvalidInput, Locked, StaleEdit
from workflow.money import format_money, parse_money

# The largest id a record can have (a 32-bit integer column on PostgreSQL): a bigger number in
# a URL, a filter or a form names no record, and must not reach the database.
MAX_ID = 2**31 - 1
# NUL and the other C0 controls (tab, newline and carriage return are fine): PostgreSQL refuses
# NUL in text, and none of them belong in anything a person types.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_MESSAGE = "Remove the invisible control character (such as NUL) from this text."
# A name, title or number is one line: it goes into email subjects and headers, a select, a
# QuickBooks field. Line feed, carriage return and Unicode's other line breaks are refused.
LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
LINE_BREAK_MESSAGE = "Keep this on one line: remove the line break."


def parse_id(value) -> int | None:
    """A record id from a URL parameter or form value: plain digits within range, else None."""
    value = str(value or "")
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def enum_or_none(enum_class, value: str):
    """The member of ``enum_class`` with this value (a list filter), or None for any other."""
    return enum_class(value) if value in {member.value for member in enum_class} else None


def record_choices(model, order, label=lambda r: r.label, blank="Choose…", keep_id=None):
    """The choices of a select of active reference records (vendors, cost codes, categories),
    keeping the one a record already has (``keep_id``) even if it was deactivated since."""
    from sqlalchemy import select
    from wtforms.fields.choices import SelectChoice

    from extensions import db

    records = keep_records(db.session.scalars(
        select(model).where((model.active.is_(True)) | (model.id == keep_id)).order_by(order)
    ).all())
    return [SelectChoice("", blank)] + [SelectChoice(r.id, label(r)) for r in records]


def keep_records(records: list) -> list:
    """Keep the records a select offers for the rest of the request: the session holds a
    record only while something refers to it, and the save that checks the chosen one
    (workflow/reference.py, ``cost_code_and_category``) then finds it without a statement."""
    from flask import g

    g.setdefault("offered_records", []).append(records)
    return records


@dataclass(frozen=True)
class Picker:
    """A select of reference records that can grow without limit (cost codes, vendors): it
    offers the first OFFERED (workflow/reference.py) and, when there are more, a Find box that
    fills it with the matches (blueprints/pickers.py, static/js/app.js)."""

    model: str  # the model's name in ``models``
    order: str  # the column it is sorted by
    searched: tuple[str, ...]  # the columns Find looks in

    def columns(self):
        import models

        model = getattr(models, self.model)
        return model, getattr(model, self.order), [getattr(model, c) for c in self.searched]


PICKERS = {"cost_code": Picker("CostCode", "code", ("code", "description")),
           "vendor": Picker("Vendor", "name", ("name",))}


def check_choice(field, model, keep_id: int | None = None) -> None:
    """For a save whose answer shows no select: check the id a required select posted as its
    choices would (an active record, or the one the record already has, ``keep_id``) by
    reading that record alone by its primary key (no statement when the session holds it),
    instead of reading every record the select would offer. Refused with SelectField's own
    "Not a valid choice." next to the field. The record is kept for the request
    (``keep_records``), so the workflow that uses it finds it read."""
    if not field.validate_choice:
        return  # an optional choice: the workflow says why the record it names is refused

    def pre_validate(form):
        from extensions import db
        from workflow.reference import may_choose

        if field.process_errors or field.data is None:
            return  # nothing chosen: the field's DataRequired says so
        record = db.session.get(model, field.data)
        if record is None or not may_choose(record, keep_id):
            raise ValidationError(field.gettext("Not a valid choice."))
        keep_records([record])

    field.pre_validate = pre_validate


def offer(field, kind: str, *, blank: str = "Choose…", keep_id: int | None = None) -> None:
    """Give a select ``field`` its choices of ``kind`` (PICKERS): the first records, the one a
    record already has (``keep_id``, even if deactivated since) and the one just submitted
    (found with Find), so a submitted id is checked against the records themselves. With more
    records than it offers, ``field.picker`` tells the template to add the Find box."""
    from wtforms.fields.choices import SelectChoice

    from workflow.reference import OFFERED, offered

    model, order, _ = PICKERS[kind].columns()
    submitted = field.data if isinstance(field.data, int) else None
    records, more = offered(model, order, keep_ids=(keep_id,), active_ids=(submitted,))
    keep_records(records)
    field.choices = [SelectChoice("", blank)] + [SelectChoice(r.id, r.label) for r in records]
    field.picker = {"kind": kind, "blank": blank, "first": OFFERED} if more else None


def id_int(value) -> int:
    """``coerce`` for id choices: refuses what cannot be an id (WTForms says "Not a valid
    choice")."""
    number = parse_id(value)
    if number is None:
        raise ValueError("not an id")
    return number


class Form(FlaskForm):
    """Every form of the app: text with control characters is refused next to its field, and
    so is a line break in a one-line field (every text field but a text area)."""

    def validate(self, extra_validators=None) -> bool:
        from wtforms import TextAreaField

        valid = super().validate(extra_validators)
        for field in self:
            raw = [v for v in (field.raw_data or []) if isinstance(v, str)]
            if any(CONTROL_CHARACTERS.search(v) for v in raw):
                field.errors = [*list(field.errors or []), CONTROL_MESSAGE]
                valid = False
            elif isinstance(field, StringField) and not isinstance(field, TextAreaField) \
                    and any(LINE_BREAKS.search(v) for v in raw):
                field.errors = [*list(field.errors or []), LINE_BREAK_MESSAGE]
                valid = False
        return valid


class MoneyField(StringField):
    """A signed amount with at most two decimals; ``data`` is a Decimal (None when invalid)."""

    def __init__(self, label=None, validators=None, allow_negative=True, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.allow_negative = allow_negative
        self._parse_error: str | None = None
        self.raw = ""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        try:
            self.data = parse_money(self.raw, allow_negative=self.allow_negative)
        except ValueError as error:
            self.data = None
            self._parse_error = str(error)

    def pre_validate(self, form):
        if self._parse_error:
            raise ValidationError(self._parse_error)

    def _value(self):
        if self.raw:
            return self.raw
        return format_money(self.data).replace("$", "") if self.data is not None else ""


class VersionField(HiddenField):
    """The version the form was rendered from, for optimistic locking."""

    def process_formdata(self, valuelist):
        value = valuelist[0] if valuelist else ""
        self.data = int(value) if value.isascii() and value.isdigit() and len(value) <= 10 \
            else None


def posted_version() -> int | None:
    """The version a posted form was rendered from; None when it sent none (refused as stale).

    Read from the request itself: a form built with ``obj=`` would fall back to the record's
    current version when nothing was posted."""
    from flask import request

    value = request.form.get("version", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 else None


def optional_int(value):
    if value in (None, "", "None"):
        return None
    return id_int(value)


def record_choice(label: str, required: str | None = None) -> SelectField:
    """A record chosen by its id. A ``required`` one says so when none is chosen and must be
    one of its choices; an optional one is not checked against them (the workflow says why the
    record it names is refused)."""
    if required:
        return SelectField(label, coerce=optional_int, validators=[DataRequired(required)])
    return SelectField(label, coerce=optional_int, validate_choice=False)


class LineForm(Form):
    """A line of a parent record edited in place (blueprints/line_editor.py): it carries the
    version its row was rendered from."""

    version = VersionField()


def show_workflow_error(form, error) -> int:
    """Put a workflow error on the form; return the HTTP status to answer with."""
    if isinstance(error, InvalidInput):
        for name, message in error.errors.items():
            field = getattr(form, name, None)
            if field is not None and hasattr(field, "errors"):
                field.errors = [*list(field.errors or []), message]
            else:
                form.form_errors.append(message)
        return 422
    if isinstance(error, StaleEdit):
        form.form_errors.append(error.message)
        if hasattr(form, "version"):
            form.version.data = error.record.version  # their next save is a deliberate one
        return 409
    if isinstance(error, (Locked, AlreadyHandled)):
        form.form_errors.append(error.message)
        return 409
    raise error


def unique_ids(form, prefix: str):
    """Give every field of ``form`` an id starting with ``prefix``, keeping the field names.

    Several forms share a page (the new-line form and an open row), so WTForms' default ids
    (``description``, ``amount``…) would repeat and a tapped label would focus another form.
    """
    for field in form:
        field.id = f"{prefix}-{field.name}"
        field.label.field_id = field.id
    return form


class Outcome:
    """What ``submit`` made of a form post: ``ok`` with the workflow's ``value``, or the
    ``status`` to answer with (422 bad input, 409 stale or locked), errors already on the form."""

    def __init__(self, ok: bool, value=None, status: int = 200) -> None:
        self.ok, self.value, self.status = ok, value, status


def submit(form, action, *, refresh=None) -> Outcome:
    """Validate ``form``; if valid, run ``action()`` (one workflow call). A refused action is
    rolled back, ``refresh`` is reloaded, and the reason is put next to the field."""
    from extensions import db
    from workflow.errors import WorkflowError

    if not form.validate_on_submit():
        return Outcome(False, status=422)
    try:
        return Outcome(True, action())
    except WorkflowError as error:
        db.session.rollback()
        if refresh is not None:
            db.session.refresh(refresh)
        return Outcome(False, status=show_workflow_error(form, error))
