"""Users: creation, settings, deactivation. Company admins only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import func, select

from extensions import db
from models import ErpPermission, User
from models.people import reset_token_hash
from models.types import utcnow
from workflow.errors import InvalidInput, PermissionDenied
from workflow.permissions import require_company_admin
from workflow.settings import config as settings

MIN_PASSWORD_LENGTH = 8
PUSH_GRANT_REFUSED = "Only an admin who holds Can Push to Accounting can grant or remove it."
RESET_LINK_REFUSED = ("Only an admin who holds Can Push to Accounting can make a password link "
                      "for someone who holds it.")
RESET_LINK_VALID_FOR = timedelta(hours=24)
RESET_LINK_DEAD = ("This password link has expired or was already used. Ask your admin for "
                   "a new one.")


@dataclass
class UserSettings:
    """What an admin sets on a user; ``password`` is optional on edit."""

    email: str
    name: str
    is_company_admin: bool = False
    erp_permission: ErpPermission = ErpPermission.NONE
    can_push_to_accounting: bool = False
    active: bool = True
    password: str | None = None  # only from the command line: an admin never sets one


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


@cache
def _dummy_hash(method: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash("no-such-account", method=method)


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None (never says which part was wrong).

    An unknown email costs one password hash too, so the time taken does not tell an attacker
    which emails have an account."""
    from werkzeug.security import check_password_hash

    user = find_user_by_email(email)
    if user is None:
        method = settings().get("PASSWORD_HASH_METHOD", "scrypt")
        check_password_hash(_dummy_hash(method), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def log_out_everywhere(user: User) -> None:
    """End every session of the user, on every device (Log out)."""
    user.end_sessions()
    db.session.commit()


def issue_reset_link(actor: User, user: User) -> str:
    """A one-time token for the user to set their own password; the admin passes the link on.

    Making one for someone who holds Can Push to Accounting is for an admin who holds it too:
    otherwise the link would let an admin without it act as an approver."""
    require_company_admin(actor)
    if user.can_push_to_accounting and not actor.can_push_to_accounting:
        raise PermissionDenied(RESET_LINK_REFUSED)
    token = user.new_reset_token(RESET_LINK_VALID_FOR)
    db.session.commit()
    return token


def user_for_reset_token(token: str) -> User | None:
    """The active user whose unexpired reset link this is, or None."""
    if not token or len(token) > 100:
        return None
    user = db.session.scalar(select(User).where(User.reset_token_hash == reset_token_hash(token)))
    if user is None or not user.active or user.reset_token_expires_at is None \
            or user.reset_token_expires_at <= utcnow():
        return None
    return user


def reset_password(token: str, password: str) -> User:
    """Set the password through a reset link; the link stops working and every session ends."""
    user = user_for_reset_token(token)
    if user is None:
        raise InvalidInput({"password": RESET_LINK_DEAD})
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput({"password": f"Use at least {MIN_PASSWORD_LENGTH} characters."})
    user.set_password(password)
    db.session.commit()
    return user


def create_user(actor: User | None, settings: UserSettings) -> User:
    if actor is not None:  # None only from the command line (`flask users create-admin`)
        require_company_admin(actor)
    _check_push_grant(actor, current=False, wanted=settings.can_push_to_accounting)
    errors = _check_email(settings.email, existing=None)
    if actor is not None:
        settings.password = None  # the new user sets it through a reset link
    elif not settings.password or len(settings.password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if errors:
        raise InvalidInput(errors)
    user = User(
        email=normalize_email(settings.email),
        name=settings.name.strip(),
        is_company_admin=settings.is_company_admin,
        erp_permission=settings.erp_permission,
        can_push_to_accounting=settings.can_push_to_accounting,
        active=settings.active,
    )
    if settings.password:
        user.set_password(settings.password)
    else:
        user.set_unusable_password()
    db.session.add(user)
    db.session.commit()
    return user


def update_user(actor: User, user: User, settings: UserSettings) -> User:
    require_company_admin(actor)
    _check_push_grant(actor, current=user.can_push_to_accounting,
                      wanted=settings.can_push_to_accounting)
    errors = _check_email(settings.email, existing=user)
    if user.id == actor.id and not settings.is_company_admin:
        errors["is_company_admin"] = "You cannot remove your own admin rights."
    if user.id == actor.id and not settings.active:
        errors["active"] = "You cannot deactivate yourself."
    if errors:
        raise InvalidInput(errors)
    user.email = normalize_email(settings.email)
    user.name = settings.name.strip()
    user.is_company_admin = settings.is_company_admin
    user.erp_permission = settings.erp_permission
    if settings.can_push_to_accounting and not user.can_push_to_accounting:
        _void_password_for_push(user)
    user.can_push_to_accounting = settings.can_push_to_accounting
    if user.active and not settings.active:
        _deactivate(user)
    user.active = settings.active
    db.session.commit()
    return user


def set_user_active(actor: User, user: User, active: bool) -> User:
    require_company_admin(actor)
    if user.id == actor.id and not active:
        raise InvalidInput({"active": "You cannot deactivate yourself."})
    if user.active and not active:
        _deactivate(user)
    user.active = active
    db.session.commit()
    return user


def _deactivate(user: User) -> None:
    """Every session ends and an outstanding password link dies (reactivating revives none)."""
    user.end_sessions()
    user.reset_token_hash = user.reset_token_expires_at = None


PUSH_GRANTED_NOTE = ("Can Push to Accounting voids their password: make them a password link "
                     "below and pass it on; they set a new password with it.")


def _void_password_for_push(user: User) -> None:
    """Granting Can Push to Accounting leaves nobody else knowing the password: whoever set
    it (through a link an admin without Can Push made and may have opened) knows it no more.
    The password is voided, every session ends and any link dies; the user sets a new
    password through a fresh link, which only an admin who holds Can Push can make."""
    user.reset_token_hash = user.reset_token_expires_at = None
    user.set_unusable_password()
    user.end_sessions()


def _check_push_grant(actor: User | None, *, current: bool, wanted: bool) -> None:
    """Only an admin who holds Can Push to Accounting may grant or withdraw it."""
    if current == wanted or actor is None:
        return
    if not actor.can_push_to_accounting:
        raise InvalidInput({"can_push_to_accounting": PUSH_GRANT_REFUSED})


def _check_email(email: str, existing: User | None) -> dict[str, str]:
    other = find_user_by_email(email)
    if other is not None and (existing is None or other.id != existing.id):
        return {"email": "Another user already has this email."}
    return {}


def users_page(after: str | None = None, before: str | None = None):
    """One page of every user, by name (workflow.pages.keyset)."""
    from workflow.pages import keyset

    return keyset(select(User), (User.name, User.id), lambda u: (u.name, u.id),
                  after=after, before=before)
