"""Commitments (subcontracts and purchase orders) and their schedule of values."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from extensions import db
from models.limits import MAX_COMMITMENT_NUMBER
from models.statuses import CommitmentStatus, CommitmentType
from models.subjects import history_subject
from models.types import ErpColumns, UTCDateTime, Versioned, str_enum, utcnow

if TYPE_CHECKING:
    from models.change_orders import ChangeOrder
    from models.reference import Category, CostCode, Project, Vendor

Money = sa.Numeric(14, 2)


@history_subject("commitment", lambda commitment: commitment.project_id)
class Commitment(ErpColumns, Versioned, db.Model):
    __tablename__ = "commitments"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "number"),
        # The inbox: one ERP status, oldest waiting first (keyset pages).
        sa.Index("ix_commitments_erp_status_updated_at", "erp_status", "updated_at", "id"),
        # The list: a project's commitments by number under one filter (keyset pages).
        sa.Index("ix_commitments_project_type_number", "project_id", "type", "number", "id"),
        sa.Index("ix_commitments_project_status_number", "project_id", "status", "number", "id"),
        sa.Index("ix_commitments_project_vendor_number", "project_id", "vendor_id", "number",
                 "id"),
        # A PurchaseOrder belongs to at most one commitment (linked, imported or created); ids
        # are per QuickBooks company, so unique per company (realm).
        sa.Index("ux_commitments_qbo_realm_purchase_order", "qbo_realm_id",
                 "qbo_purchase_order_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id"))
    type: Mapped[CommitmentType] = mapped_column(str_enum(CommitmentType, "commitment_type"))
    number: Mapped[str] = mapped_column(sa.String(MAX_COMMITMENT_NUMBER))
    title: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[CommitmentStatus] = mapped_column(
        str_enum(CommitmentStatus, "commitment_status"), default=CommitmentStatus.DRAFT
    )
    qbo_purchase_order_id: Mapped[str | None] = mapped_column(sa.String(40))
    # The QuickBooks company (realm) that PurchaseOrder is in: set with the Id, cleared with it.
    # A link to another company than the connected one is history, never read or written
    # (quickbooks_online/company.py; docs/quickbooks.md, "Switching QuickBooks company").
    qbo_realm_id: Mapped[str | None] = mapped_column(sa.String(40))
    # The SyncToken at which QuickBooks held what we hold (drift shows nothing at it); None
    # while a bookkeeper's change that a CCO's update kept is there (workflow/qbo_drift.py).
    qbo_sync_token: Mapped[str | None] = mapped_column(sa.String(20))
    # The PurchaseOrder's TotalAmt as QuickBooks last answered it (drift without a call).
    qbo_total: Mapped[Decimal | None] = mapped_column(Money)
    # Linked to a PurchaseOrder already in QuickBooks (JSON, workflow/books.py): its Id,
    # DocNumber and each matched SOV line's PO line as it was when linked.
    qbo_link: Mapped[str | None] = mapped_column(sa.Text)
    # The PurchaseOrder as QuickBooks answered our last write to it, or as change data capture
    # last saw it (JSON: Id, SyncToken, DocNumber, PrivateNote, Line; quickbooks_online/ours.py).
    # A CCO's export sends its update from it in one call; QuickBooks refuses a stale SyncToken
    # (5010) and only then is the PO read. Deferred: no page reads it.
    qbo_last_write: Mapped[str | None] = mapped_column(sa.Text, deferred=True)
    # The last CCO number handed out; bumped with an atomic UPDATE so two creators never clash.
    last_cco_number: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # "differs" / "deleted" when QuickBooks holds this Synced commitment's PurchaseOrder
    # otherwise than we do, as change data capture last read it; None when it agrees. Read
    # only by the list, as a column of its own statement (workflow/qbo_drift.py,
    # ``quickbooks_mark``); None wherever it is not asked for.
    quickbooks_mark: Mapped[str | None] = query_expression()

    project: Mapped[Project] = relationship()
    vendor: Mapped[Vendor] = relationship()
    sov_lines: Mapped[list[SovLine]] = relationship(
        back_populates="commitment", order_by="SovLine.line_number",
        cascade="all, delete-orphan",
    )
    change_orders: Mapped[list[ChangeOrder]] = relationship(
        back_populates="commitment", order_by="ChangeOrder.number"
    )

    @property
    def label(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def doc_number(self) -> str:
        """The QuickBooks PurchaseOrder DocNumber: the project's prefix and our number."""
        return f"{self.project.qbo_doc_prefix or ''}{self.number}"


class SovLine(Versioned, db.Model):
    """One schedule-of-values line; cost code and category are required."""

    __tablename__ = "sov_lines"
    __table_args__ = (sa.UniqueConstraint("commitment_id", "line_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("commitments.id", ondelete="CASCADE"), index=True
    )
    line_number: Mapped[int]
    description: Mapped[str] = mapped_column(sa.String(255))
    cost_code_id: Mapped[int] = mapped_column(sa.ForeignKey("cost_codes.id"))
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    qbo_line_id: Mapped[str | None] = mapped_column(sa.String(40))

    commitment: Mapped[Commitment] = relationship(back_populates="sov_lines")
    cost_code: Mapped[CostCode] = relationship()
    category: Mapped[Category] = relationship()

    @property
    def label(self) -> str:
        return f"{self.line_number}. {self.description}"
