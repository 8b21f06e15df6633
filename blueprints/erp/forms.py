from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from blueprints.fields import Form


class RejectForm(Form):
    comment = TextAreaField("Reason", validators=[
        DataRequired("Say why, so the project manager can correct it."),
        Length(max=2000, message="Use at most 2,000 characters.")])
