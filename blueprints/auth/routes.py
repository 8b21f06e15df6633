from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from blueprints.auth import bp
from blueprints.auth.forms import LoginForm, ResetPasswordForm
from blueprints.rendering import is_htmx
from extensions import db, limiter, login_manager
from models import User
from workflow.errors import InvalidInput
from workflow.people import (
    authenticate,
    log_out_everywhere,
    normalize_email,
    reset_password,
    user_for_reset_token,
)

WRONG_CREDENTIALS = "That email and password do not match an active account."


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user, while its session token is the user's current one: a logout, a
    password change or a deactivation gives the user a new token and ends every session."""
    number, _, token = user_id.partition(":")
    if not (number.isascii() and number.isdigit() and len(number) < 10 and token):
        return None  # a session from before tokens, or forged
    user = db.session.get(User, int(number))
    if user is None or not user.active or not user.has_session_token(token):
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if is_htmx():
        return "", 401, {"HX-Redirect": login_url}
    flash("Log in to continue.", "info")
    return redirect(login_url)


def _safe_next(target: str | None) -> str:
    """Only a path on this site; anything else goes where the user's work waits (no open
    redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//") and "\\" not in target:
            return target
    return _landing()


def _landing() -> str:
    """Approvers land on the inbox; everyone else (company admins too, whose work is wider)
    on their projects, where what accounting handed back is listed first."""
    from workflow.permissions import is_approver

    if current_user.is_authenticated and is_approver(current_user) \
            and not current_user.is_company_admin:
        return url_for("erp.index")
    return url_for("projects.index")


def _login_account() -> str:
    """The throttle's key for the account being tried (whatever email was typed)."""
    return "account:" + normalize_email(request.form.get("email", ""))[:254]


def _login_failed(response) -> bool:
    return response.status_code == 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ACCOUNT"], key_func=_login_account,
               methods=["POST"], deduct_when=_login_failed, scope="login-account")
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ADDRESS"], methods=["POST"],
               deduct_when=_login_failed, scope="login-address")
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        form.form_errors.append(WRONG_CREDENTIALS)
        status = 422
    elif form.is_submitted():
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    log_out_everywhere(current_user)
    logout_user()
    flash("You have logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """Set a password through the one-time link an admin passed on."""
    form = ResetPasswordForm()
    user = user_for_reset_token(token)
    status = 200
    if user is None:
        return render_template("auth/reset.html", form=None), 404
    if form.validate_on_submit():
        try:
            reset_password(token, form.password.data)
        except InvalidInput as error:
            db.session.rollback()
            form.password.errors = [*form.password.errors, *error.errors.values()]
        else:
            logout_user()
            flash("Your password is set. Log in with it.", "success")
            return redirect(url_for("auth.login"), 303)
        status = 422
    elif form.is_submitted():
        status = 422
    return render_template("auth/reset.html", form=form, user=user), status
