from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from blueprints.fields import (
    Form,
    LineForm,
    MoneyField,
    VersionField,
    id_int,
    optional_int,
    record_choice,
)
from models import (
    EDITOR_SETTABLE_CCO_STATUSES,
    MAX_COMMITMENT_NUMBER,
    STATUSES_BY_TYPE,
    ChangeOrderStatus,
    CommitmentStatus,
    CommitmentType,
)
from workflow.change_orders import (
    CHANGE_REASONS,
    DUE_DATE_RANGE,
    EARLIEST_DUE_DATE,
    LATEST_DUE_DATE,
)
from workflow.commitments import NUMBER_TOO_LONG

TITLE_MAX = 255
TEXT_MAX = 10_000


def title_field(label="Title"):
    return StringField(label, validators=[DataRequired("Enter a title."),
                                          Length(max=TITLE_MAX, message=f"Use at most "
                                                 f"{TITLE_MAX} characters.")])


def text_field(label="Description"):
    return TextAreaField(label, validators=[Optional(), Length(
        max=TEXT_MAX, message=f"Use at most {TEXT_MAX:,} characters.")])


class CommitmentForm(Form):
    type = SelectField("Type", choices=[SelectChoice(t.value, t.label) for t in CommitmentType])
    number = StringField("Number", validators=[DataRequired("Enter a number."), Length(
        max=MAX_COMMITMENT_NUMBER, message=NUMBER_TOO_LONG)])
    title = title_field()
    vendor_id = SelectField("Vendor", coerce=optional_int,
                            validators=[DataRequired("Choose a vendor.")])
    status = SelectField("Status", default=CommitmentStatus.DRAFT.value, choices=[
        SelectChoice(s.value, s.label, optgroup=t.label)
        for t, statuses in STATUSES_BY_TYPE.items() for s in statuses])
    description = text_field()
    version = VersionField()


class SovLineForm(LineForm):
    description = StringField("Description", validators=[DataRequired("Enter a description."),
                                                         Length(max=255)])
    cost_code_id = record_choice("Cost code", required="Choose a cost code.")
    category_id = record_choice("Category", required="Choose a category.")
    amount = MoneyField("Amount")


class ChangeOrderForm(Form):
    title = title_field()
    description = text_field()
    change_reason = SelectField("Change reason", default="", choices=[SelectChoice("", "—")] + [
        SelectChoice(r, r) for r in CHANGE_REASONS])
    # Any real status passes the form; the workflow says why one is not allowed (e.g. Approved).
    status = SelectField("Status", default=ChangeOrderStatus.DRAFT.value, validate_choice=False,
                         choices=[SelectChoice(s.value, s.label) for s in ChangeOrderStatus])
    designated_reviewer_id = SelectField("Designated reviewer", coerce=optional_int,
                                         validate_choice=False)
    due_date = DateField("Due date", validators=[Optional()], description=DUE_DATE_RANGE,
                         render_kw={"placeholder": "YYYY-MM-DD", "min": EARLIEST_DUE_DATE,
                                    "max": LATEST_DUE_DATE})
    executed = BooleanField("Executed")
    private = BooleanField("Private")
    viewer_ids = SelectMultipleField("Visible to (when private)", coerce=id_int,
                                     validate_choice=False)
    version = VersionField()

    def validate_status(self, field):
        if field.data not in {s.value for s in ChangeOrderStatus}:
            raise ValidationError("Choose a status.")

    def validate_due_date(self, field):
        if field.data is not None and not EARLIEST_DUE_DATE <= field.data <= LATEST_DUE_DATE:
            raise ValidationError(DUE_DATE_RANGE)

    def editor_statuses(self, current):
        allowed = list(EDITOR_SETTABLE_CCO_STATUSES)
        if current is not None and current not in allowed:
            allowed.insert(0, current)
        self.status.choices = [SelectChoice(s.value, s.label) for s in allowed]


class ChangeOrderLineForm(LineForm):
    sov_line_id = record_choice("Changes")
    cost_code_id = record_choice("Cost code")
    category_id = record_choice("Category")
    description = StringField("Description", validators=[Optional(), Length(max=255)])
    amount = MoneyField("Amount")


class ReviewForm(Form):
    comment = TextAreaField("Comment (optional)", validators=[Optional(), Length(max=TEXT_MAX)])
    version = VersionField()
