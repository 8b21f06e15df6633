from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from blueprints.fields import Form, id_int
from models import ErpPermission, ProjectRole
from models.limits import MAX_DOC_PREFIX

ERP_CHOICES = [SelectChoice(p.value, p.label) for p in ErpPermission]
ROLE_CHOICES = [SelectChoice(r.value, r.label) for r in ProjectRole]


def required(what: str):
    return DataRequired(f"Enter {what}.")


class UserForm(Form):
    email = EmailField("Email", validators=[required("an email"), Length(max=254),
                                            Email("Enter a valid email address.",
                                                  check_deliverability=False)])
    name = StringField("Name", validators=[required("a name"), Length(max=120)])
    is_company_admin = BooleanField("Company admin")
    erp_permission = SelectField("ERP Integrations", choices=ERP_CHOICES,
                                 default=ErpPermission.NONE.value)
    can_push_to_accounting = BooleanField("Can Push to Accounting")
    active = BooleanField("Active", default=True)


class ProjectForm(Form):
    number = StringField("Number", validators=[required("a project number"), Length(max=30)])
    name = StringField("Name", validators=[required("a name"), Length(max=200)])
    qbo_doc_prefix = StringField(
        "QuickBooks DocNumber prefix",
        description="Optional, e.g. P2-: put before this project's commitment numbers in "
                    "QuickBooks, where purchase order numbers must be unique across projects.",
        validators=[Optional(), Length(max=MAX_DOC_PREFIX,
                                       message=f"Use at most {MAX_DOC_PREFIX} characters."),
                    Regexp(r"^[A-Za-z0-9-]*$", message="Use letters, digits and - only.")])
    active = BooleanField("Active", default=True)


class VendorForm(Form):
    name = StringField("Name", validators=[required("a name"), Length(max=200)])
    active = BooleanField("Active", default=True)


class CostCodeForm(Form):
    code = StringField("Code", validators=[required("a code"), Length(max=20)])
    description = StringField("Description", validators=[required("a description"),
                                                         Length(max=200)])
    active = BooleanField("Active", default=True)


class CategoryForm(Form):
    name = StringField("Name", validators=[required("a name"), Length(max=60)])
    active = BooleanField("Active", default=True)


class MemberForm(Form):
    user_id = SelectField("Person", coerce=id_int, validators=[DataRequired("Choose a person.")])
    role = SelectField("Role", choices=ROLE_CHOICES, default=ProjectRole.STANDARD.value)
