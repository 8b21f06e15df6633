"""Commitment change orders (CCOs) and their lines."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.commitments import Money
from models.statuses import ChangeOrderStatus
from models.subjects import history_subject
from models.types import ErpColumns, UTCDateTime, Versioned, str_enum, utcnow

if TYPE_CHECKING:
    from models.change_events import ChangeEventLine
    from models.commitments import Commitment, SovLine
    from models.erp import CostMapping
    from models.people import User
    from models.reference import Category, CostCode

cco_viewers = sa.Table(
    "cco_viewers",
    db.metadata,
    sa.Column("change_order_id", sa.ForeignKey("change_orders.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # The private CCOs one viewer may see (the lists' totals rows).
    sa.Index("ix_cco_viewers_user_id", "user_id"),
)


@history_subject("change_order", lambda cco: cco.commitment.project_id,
                 name=lambda cco: f"CCO #{cco.number} of {cco.commitment.number}")
class ChangeOrder(ErpColumns, Versioned, db.Model):
    """A commitment change order. ``number`` is 001, 002 … per commitment."""

    __tablename__ = "change_orders"
    __table_args__ = (
        sa.UniqueConstraint("commitment_id", "number"),
        # The inbox: one ERP status, oldest waiting first (keyset pages).
        sa.Index("ix_change_orders_erp_status_updated_at", "erp_status", "updated_at", "id"),
        # The private CCOs one viewer may see (the lists' totals rows).
        sa.Index("ix_change_orders_created_by_private", "created_by_id", "private"),
        sa.Index("ix_change_orders_reviewer_private", "designated_reviewer_id", "private"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(sa.ForeignKey("commitments.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(10))
    title: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    change_reason: Mapped[str] = mapped_column(sa.String(100), default="")
    status: Mapped[ChangeOrderStatus] = mapped_column(
        str_enum(ChangeOrderStatus, "cco_status"), default=ChangeOrderStatus.DRAFT
    )
    designated_reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    due_date: Mapped[date | None]
    executed: Mapped[bool] = mapped_column(default=False)
    private: Mapped[bool] = mapped_column(default=False)
    review_comment: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Rejected by accounting, waiting for the reopen_rejected_cco job to hand it back.
    erp_reopen_pending: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Unlinked after it synced (JSON, workflow/books.py): how often, and what it had put into
    # QuickBooks, so its next export can tell whether that was removed there.
    erp_unlink: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    commitment: Mapped[Commitment] = relationship(back_populates="change_orders")
    designated_reviewer: Mapped[User | None] = relationship(
        foreign_keys=[designated_reviewer_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    viewers: Mapped[list[User]] = relationship(secondary=cco_viewers)
    lines: Mapped[list[ChangeOrderLine]] = relationship(
        back_populates="change_order", order_by="ChangeOrderLine.id",
        cascade="all, delete-orphan",
    )
    # The reviewer's approval in force (none once withdrawn): what exactly was approved.
    approval: Mapped[ChangeOrderApproval | None] = relationship(
        viewonly=True, uselist=False,
        primaryjoin="and_(ChangeOrder.id == ChangeOrderApproval.change_order_id, "
                    "ChangeOrderApproval.withdrawn_at.is_(None))",
        order_by="ChangeOrderApproval.id.desc()")

    @property
    def grand_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def label(self) -> str:
        return f"CCO #{self.number} {self.title}"

    @property
    def erp_editable(self) -> bool:
        """Not with accounting: never sent, or rejected and handed back by the reopen job."""
        return self.erp_status.editable and not self.erp_reopen_pending

    def last_withdrawal(self) -> ChangeOrderApproval | None:
        """The approval withdrawn last, while the CCO waits to be approved again."""
        if self.status == ChangeOrderStatus.APPROVED:
            return None
        return db.session.scalar(
            sa.select(ChangeOrderApproval).where(ChangeOrderApproval.change_order_id == self.id,
                                                 ChangeOrderApproval.withdrawn_at.is_not(None))
            .order_by(ChangeOrderApproval.id.desc()).limit(1))

    @property
    def project(self):
        return self.commitment.project


class ChangeOrderLine(Versioned, db.Model):
    """Either modifies an SOV line (``sov_line_id``) or adds a new line (cost code + category)."""

    __tablename__ = "change_order_lines"
    __table_args__ = (
        sa.CheckConstraint(
            "sov_line_id IS NOT NULL OR (cost_code_id IS NOT NULL AND category_id IS NOT NULL)",
            name="modifies_or_adds",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    change_order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("change_orders.id", ondelete="CASCADE"), index=True
    )
    sov_line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sov_lines.id"), index=True)
    cost_code_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cost_codes.id"))
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("categories.id"))
    description: Mapped[str] = mapped_column(sa.String(255))
    amount: Mapped[Decimal] = mapped_column(Money)
    # The change event line item this line was made from, if any (it feeds one live CCO).
    change_event_line_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("change_event_lines.id", ondelete="SET NULL"), index=True)
    # The PurchaseOrder line a new line became in QuickBooks, once exported.
    qbo_line_id: Mapped[str | None] = mapped_column(sa.String(40))

    change_order: Mapped[ChangeOrder] = relationship(back_populates="lines")
    change_event_line: Mapped[ChangeEventLine | None] = relationship()
    sov_line: Mapped[SovLine | None] = relationship()
    cost_code_own: Mapped[CostCode | None] = relationship(foreign_keys=[cost_code_id])
    category_own: Mapped[Category | None] = relationship(foreign_keys=[category_id])
    # A new line's QuickBooks mapping (its own cost code and category), read-only: lets a page
    # load lines and their mappings in one statement.
    mapping: Mapped[CostMapping | None] = relationship(
        "CostMapping", viewonly=True, uselist=False,
        primaryjoin="and_(foreign(ChangeOrderLine.cost_code_id) == "
                    "remote(CostMapping.cost_code_id), foreign(ChangeOrderLine.category_id) == "
                    "remote(CostMapping.category_id))")

    @property
    def cost_code(self) -> CostCode | None:
        return self.sov_line.cost_code if self.sov_line else self.cost_code_own

    @property
    def category(self) -> Category | None:
        return self.sov_line.category if self.sov_line else self.category_own


class ChangeOrderApproval(db.Model):
    """What the designated reviewer approved: who, when, each line's SOV line / cost code /
    category / amount, and the total (docs/lifecycle.md, "Approval is a record").

    ``lines`` is JSON: one object per CCO line (``line_id``, ``sov_line_id``, ``cost_code_id``,
    ``category_id``, ``amount`` as a string, and the words shown: ``sov_line``, ``cost_code``,
    ``category``, ``description``). A change that moves money or where it goes withdraws it
    (``withdrawn_at``); the rows stay as the record of every approval given."""

    __tablename__ = "change_order_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    change_order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("change_orders.id", ondelete="CASCADE"), index=True)
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    total: Mapped[Decimal] = mapped_column(Money)
    lines: Mapped[str] = mapped_column(sa.Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    withdrawn_because: Mapped[str | None] = mapped_column(sa.Text)

    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])
