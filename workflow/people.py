"""Users: creation, settings, deactivation. Company admins only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from extensions import db
from models import ErpPermission, User
from workflow.errors import InvalidInput
from workflow.permissions import require_company_admin

MIN_PASSWORD_LENGTH = 8
PUSH_GRANT_REFUSED = "Only an admin who holds Can Push to Accounting can grant or remove it."


@dataclass
class UserSettings:
    """What an admin sets on a user; ``password`` is optional on edit."""

    email: str
    name: str
    is_company_admin: bool = False
    erp_permission: ErpPermission = ErpPermission.NONE
    can_push_to_accounting: bool = False
    active: bool = True
    password: str | None = None


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None (never says which part was wrong)."""
    user = find_user_by_email(email)
    if user is None or not user.active or not user.check_password(password):
        return None
    return user


def create_user(actor: User | None, settings: UserSettings) -> User:
    if actor is not None:  # None only from the command line (`flask users create-admin`)
        require_company_admin(actor)
    _check_push_grant(actor, current=False, wanted=settings.can_push_to_accounting)
    errors = _check_email(settings.email, existing=None)
    if not settings.password or len(settings.password) < MIN_PASSWORD_LENGTH:
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
    user.set_password(settings.password)
    db.session.add(user)
    db.session.commit()
    return user


def update_user(actor: User, user: User, settings: UserSettings) -> User:
    require_company_admin(actor)
    _check_push_grant(actor, current=user.can_push_to_accounting,
                      wanted=settings.can_push_to_accounting)
    errors = _check_email(settings.email, existing=user)
    if settings.password and len(settings.password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Use at least {MIN_PASSWORD_LENGTH} characters."
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
    user.can_push_to_accounting = settings.can_push_to_accounting
    user.active = settings.active
    if settings.password:
        user.set_password(settings.password)
    db.session.commit()
    return user


def set_user_active(actor: User, user: User, active: bool) -> User:
    require_company_admin(actor)
    if user.id == actor.id and not active:
        raise InvalidInput({"active": "You cannot deactivate yourself."})
    user.active = active
    db.session.commit()
    return user


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
