"""People: users, their company-level ERP permission, and per-project membership."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models.types import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from models.reference import Project


class ErpPermission(enum.StrEnum):
    """Company-level permission on the ERP Integrations tool."""

    NONE = "none"
    READ_ONLY = "read_only"
    STANDARD = "standard"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"none": "None", "read_only": "Read only", "standard": "Standard",
                "admin": "Admin"}[self.value]


class ProjectRole(enum.StrEnum):
    """A member's role on one project."""

    READ_ONLY = "read_only"
    STANDARD = "standard"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"read_only": "Read only", "standard": "Standard", "admin": "Admin"}[self.value]

    @property
    def rank(self) -> int:
        return {"read_only": 1, "standard": 2, "admin": 3}[self.value]


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def reset_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (sa.Index("ix_users_name_id", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    active: Mapped[bool] = mapped_column(default=True)
    is_company_admin: Mapped[bool] = mapped_column(default=False)
    erp_permission: Mapped[ErpPermission] = mapped_column(
        str_enum(ErpPermission, "erp_permission"), default=ErpPermission.NONE
    )
    can_push_to_accounting: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Part of every session's id (``get_id``): a new one ends every session of the user at
    # once (logout, password change, deactivation).
    session_token: Mapped[str] = mapped_column(sa.String(64), default=new_session_token)
    # A one-time link to set a password: only its SHA-256 is kept; using it clears it.
    reset_token_hash: Mapped[str | None] = mapped_column(sa.String(64))
    reset_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    memberships: Mapped[list[ProjectMembership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        """How the user is named in the Change History and in messages."""
        return self.name

    @property
    def is_active(self) -> bool:  # flask-login: a deactivated user cannot log in
        return self.active

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session and the remember cookie: with the session
        token, so a session outlives neither a logout nor a password change."""
        return f"{self.id}:{self.session_token}"

    def has_session_token(self, token: str) -> bool:
        return hmac.compare_digest(self.session_token.encode(), token.encode())

    def end_sessions(self) -> None:
        """Every session of this user, on every device, ends at its next request."""
        self.session_token = new_session_token()

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)
        self.reset_token_hash = self.reset_token_expires_at = None
        self.end_sessions()

    def set_unusable_password(self) -> None:
        """A password nobody knows: the user sets their own through a reset link."""
        self.set_password(secrets.token_urlsafe(32))

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def new_reset_token(self, valid_for: timedelta) -> str:
        """A fresh one-time reset token (any earlier one stops working); only its hash is kept."""
        token = secrets.token_urlsafe(32)
        self.reset_token_hash = reset_token_hash(token)
        self.reset_token_expires_at = utcnow() + valid_for
        return token

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class ProjectMembership(db.Model):
    __tablename__ = "project_memberships"
    __table_args__ = (sa.UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[ProjectRole] = mapped_column(str_enum(ProjectRole, "project_role"))

    project: Mapped[Project] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")
