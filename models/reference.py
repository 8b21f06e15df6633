"""Reference data: projects, vendors, cost codes and categories (cost types)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.limits import MAX_DOC_PREFIX
from models.subjects import history_subject
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from models.people import ProjectMembership

DEFAULT_CATEGORIES = ("Labor", "Material", "Equipment", "Subcontract", "Other")


@history_subject("project", lambda project: project.id)
class Project(db.Model):
    __tablename__ = "projects"
    __table_args__ = (sa.Index("ix_projects_active_number_id", "active", "number", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The QuickBooks Customer (job or sub-customer) every exported line is billed to.
    qbo_customer_id: Mapped[str | None] = mapped_column(sa.String(40))
    # Put before each commitment number to make its QuickBooks DocNumber (unique per company).
    qbo_doc_prefix: Mapped[str] = mapped_column(sa.String(MAX_DOC_PREFIX), default="",
                                                server_default="")
    # The Change Events tool, switched on or off by a project admin.
    change_events_enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # The last change event number handed out; bumped with an atomic UPDATE.
    last_change_event_number: Mapped[int] = mapped_column(default=0, server_default="0")

    memberships: Mapped[list[ProjectMembership]] = relationship(
        back_populates="project", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        return f"{self.number} {self.name}"


class Vendor(db.Model):
    __tablename__ = "vendors"
    __table_args__ = (sa.Index("ix_vendors_name_id", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    qbo_vendor_id: Mapped[str | None] = mapped_column(sa.String(40))

    @property
    def label(self) -> str:
        return self.name


class CostCode(db.Model):
    __tablename__ = "cost_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    description: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def label(self) -> str:
        return f"{self.code} {self.description}"


class Category(db.Model):
    """A cost type: Labor, Material, Equipment, Subcontract, Other."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def label(self) -> str:
        return self.name
