from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from blueprints.commitments.forms import TITLE_MAX, text_field, title_field
from blueprints.fields import (
    Form,
    LineForm,
    MoneyField,
    VersionField,
    id_int,
    optional_int,
    record_choice,
)
from models import ChangeEventScope, ChangeEventStatus, ChangeEventType
from workflow.change_orders import CHANGE_REASONS


class OptionalMoneyField(MoneyField):
    """A MoneyField that may be left blank (``data`` None): a latest cost not known yet."""

    def process_formdata(self, valuelist):
        if not valuelist or not (valuelist[0] or "").strip():
            self.raw = ""
            self.data = None
            return
        super().process_formdata(valuelist)


def _choices(enum_class):
    return [SelectChoice(m.value, m.label) for m in enum_class]


class ChangeEventForm(Form):
    title = title_field()
    status = SelectField("Status", default=ChangeEventStatus.OPEN.value,
                         choices=_choices(ChangeEventStatus))
    scope = SelectField("Scope", default=ChangeEventScope.TBD.value,
                        choices=_choices(ChangeEventScope))
    type = SelectField("Type", default=ChangeEventType.TBD.value,
                       choices=_choices(ChangeEventType))
    change_reason = SelectField("Change reason", default="", choices=[SelectChoice("", "—")] + [
        SelectChoice(r, r) for r in CHANGE_REASONS])
    description = text_field()
    version = VersionField()


class LineItemForm(LineForm):
    cost_code_id = record_choice("Cost code", required="Choose a cost code.")
    category_id = record_choice("Category", required="Choose a category.")
    vendor_id = record_choice("Vendor")
    commitment_id = record_choice("Commitment")
    description = StringField("Description", validators=[
        DataRequired("Enter a description."),
        Length(max=TITLE_MAX, message=f"Use at most {TITLE_MAX} characters.")])
    cost_rom = MoneyField("Cost ROM")
    latest_cost = OptionalMoneyField("Latest cost")


class CommitmentCoForm(Form):
    """Selected line items (checkboxes in the items table) → a CCO on one commitment."""

    commitment_id = SelectField("Commitment", coerce=optional_int, validate_choice=False,
                                validators=[DataRequired("Choose a commitment.")])
    line_ids = SelectMultipleField("Line items", coerce=id_int, validate_choice=False)


class ToolSettingsForm(Form):
    change_events_enabled = BooleanField("Change Events tool is on for this project")
