from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from blueprints.fields import Form


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired("Enter your email."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."),
                                                     Length(max=200)])


class ResetPasswordForm(Form):
    password = PasswordField("New password", validators=[
        DataRequired("Enter a new password."), Length(max=200)])
    confirm = PasswordField("New password again", validators=[
        DataRequired("Enter the new password again."),
        EqualTo("password", "The two passwords differ.")])
