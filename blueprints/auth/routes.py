from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
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


# ---- login throttling ---------------------------------------------------------------------
# A stranger must not be able to lock a real user out (README, "Security"):
# * wrong passwords are counted per account *and* address (LOGIN_LIMIT_ACCOUNT): guessing
#   from one address stops there, and it holds nobody else;
# * per address, whatever the account (LOGIN_LIMIT_ADDRESS), and per account from every
#   address together (LOGIN_LIMIT_ACCOUNT_ANY, against guessing spread over many addresses);
# * a known device -- a browser this account logged in from before, which keeps a signed
#   cookie -- is held by neither of those two: it is counted on its own (per account and
#   device), so its right password still logs in while strangers are throttled.

DEVICE_COOKIE = "changeorder_device"
DEVICE_COOKIE_DAYS = 365
DEVICE_ACCOUNTS = 10  # the accounts one browser remembers


def _device_serializer():
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def _device() -> dict:
    """This browser's known-device cookie: {"d": its id, "u": the account ids seen on it}."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if raw and len(raw) < 1000:
        try:
            data = _device_serializer().loads(raw)
        except Exception:  # forged, or signed with another key
            data = None
        if isinstance(data, dict) and isinstance(data.get("d"), str) \
                and isinstance(data.get("u"), list):
            return data
    return {}


def _typed_email() -> str:
    return normalize_email(request.form.get("email", ""))[:254]


def _known_device() -> str | None:
    """This browser's id when the account being tried has logged in from it before."""
    cache = request.environ  # once per request (not ``g``, which may outlive one)
    if "changeorder.known_device" not in cache:
        from workflow.people import find_user_by_email

        device, known = _device(), None
        if device and _typed_email():
            user = find_user_by_email(_typed_email())
            if user is not None and user.id in device["u"]:
                known = device["d"]
        cache["changeorder.known_device"] = known
    return cache["changeorder.known_device"]


def _login_account() -> str:
    """Per account and address, or per account and device on a known device."""
    where = _known_device()
    where = f"device:{where}" if where else f"address:{get_remote_address()}"
    return f"account:{_typed_email()}|{where}"


def _login_account_any() -> str:
    return "account:" + _typed_email()


def _remember_device(response, user: User):
    import secrets

    device = _device()
    others = [i for i in device.get("u", []) if i != user.id]
    ids = [*others[-(DEVICE_ACCOUNTS - 1):], user.id]
    value = _device_serializer().dumps({"d": device.get("d") or secrets.token_hex(16),
                                        "u": ids})
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_COOKIE_DAYS * 86400,
                        httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
                        path=url_for("auth.login"))
    return response


def _login_failed(response) -> bool:
    return response.status_code == 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ACCOUNT"], key_func=_login_account,
               methods=["POST"], deduct_when=_login_failed, scope="login-account")
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ADDRESS"], methods=["POST"],
               deduct_when=_login_failed, scope="login-address",
               exempt_when=lambda: _known_device() is not None)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ACCOUNT_ANY"],
               key_func=_login_account_any, methods=["POST"], deduct_when=_login_failed,
               scope="login-account-any", exempt_when=lambda: _known_device() is not None)
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return _remember_device(redirect(_safe_next(request.args.get("next"))), user)
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
