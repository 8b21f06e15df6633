"""Change events (things that may change cost) and their line items."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.commitments import Money
from models.statuses import LabelledEnum
from models.subjects import history_subject
from models.types import UTCDateTime, Versioned, str_enum, utcnow

if TYPE_CHECKING:
    from models.change_orders import ChangeOrderLine
    from models.commitments import Commitment
    from models.people import User
    from models.reference import Category, CostCode, Project, Vendor


class ChangeEventStatus(LabelledEnum):
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    CLOSED = "closed", "Closed"
    VOID = "void", "Void"


class ChangeEventScope(LabelledEnum):
    IN_SCOPE = "in_scope", "In Scope"
    OUT_OF_SCOPE = "out_of_scope", "Out of Scope"
    TBD = "tbd", "TBD"


class ChangeEventType(LabelledEnum):
    OWNER_CHANGE = "owner_change", "Owner Change"
    DESIGN_CHANGE = "design_change", "Design Change"
    ALLOWANCE = "allowance", "Allowance"
    CONTINGENCY = "contingency", "Contingency"
    EXISTING_CONDITION = "existing_condition", "Existing Condition"
    TBD = "tbd", "TBD"


@history_subject("change_event", lambda ce: ce.project_id)
class ChangeEvent(Versioned, db.Model):
    """``number`` is 001, 002 … per project, from ``Project.last_change_event_number``."""

    __tablename__ = "change_events"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "number"),
        # The list: a project's change events by number under one filter (keyset pages).
        sa.Index("ix_change_events_project_status_number", "project_id", "status", "number",
                 "id"),
        sa.Index("ix_change_events_project_scope_number", "project_id", "scope", "number", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(10))
    title: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[ChangeEventStatus] = mapped_column(
        str_enum(ChangeEventStatus, "change_event_status"), default=ChangeEventStatus.OPEN
    )
    scope: Mapped[ChangeEventScope] = mapped_column(
        str_enum(ChangeEventScope, "change_event_scope"), default=ChangeEventScope.TBD
    )
    type: Mapped[ChangeEventType] = mapped_column(
        str_enum(ChangeEventType, "change_event_type"), default=ChangeEventType.TBD
    )
    change_reason: Mapped[str] = mapped_column(sa.String(100), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    project: Mapped[Project] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    lines: Mapped[list[ChangeEventLine]] = relationship(
        back_populates="change_event", order_by="ChangeEventLine.line_number",
        cascade="all, delete-orphan",
    )

    @property
    def label(self) -> str:
        return f"CE #{self.number} {self.title}"


class ChangeEventLine(Versioned, db.Model):
    """A line item: what may change, for whom, and what it may cost (ROM, then latest)."""

    __tablename__ = "change_event_lines"
    __table_args__ = (
        sa.UniqueConstraint("change_event_id", "line_number"),
        # The change events list's vendor filter.
        sa.Index("ix_change_event_lines_vendor_event", "vendor_id", "change_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    change_event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("change_events.id", ondelete="CASCADE"), index=True
    )
    line_number: Mapped[int]
    cost_code_id: Mapped[int] = mapped_column(sa.ForeignKey("cost_codes.id"))
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"))
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vendors.id"), index=True)
    commitment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("commitments.id"),
                                                      index=True)
    description: Mapped[str] = mapped_column(sa.String(255))
    cost_rom: Mapped[Decimal] = mapped_column(Money)
    latest_cost: Mapped[Decimal | None] = mapped_column(Money)

    change_event: Mapped[ChangeEvent] = relationship(back_populates="lines")
    cost_code: Mapped[CostCode] = relationship()
    category: Mapped[Category] = relationship()
    vendor: Mapped[Vendor | None] = relationship()
    commitment: Mapped[Commitment | None] = relationship()
    # The CCO lines made from this item (the live one, if any, plus those of void CCOs).
    cco_lines: Mapped[list[ChangeOrderLine]] = relationship(
        viewonly=True, order_by="ChangeOrderLine.id",
        primaryjoin="ChangeOrderLine.change_event_line_id == ChangeEventLine.id",
        foreign_keys="ChangeOrderLine.change_event_line_id",
    )

    @property
    def cco_amount(self) -> Decimal:
        """What a CCO line made from this item starts at: the latest cost, else the ROM."""
        return self.latest_cost if self.latest_cost is not None else self.cost_rom

    @property
    def label(self) -> str:
        return f"Line {self.line_number} of CE #{self.change_event.number}"
