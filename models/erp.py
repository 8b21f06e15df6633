"""QuickBooks Online: the connection, imported lists, mappings and exports."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from extensions import db
from models.types import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from models.people import User
    from models.reference import Category, CostCode


class QboConnection(db.Model):
    """The company's one QuickBooks Online connection. Tokens are encrypted at rest (Fernet).

    Disconnecting clears the tokens but keeps the row, so mappings and the AP account survive a
    reconnect to the same company; connecting a different company (realm) forgets them
    (``quickbooks_online.connection.switch_company``).
    """

    __tablename__ = "qbo_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[str | None] = mapped_column(sa.String(40))
    company_name: Mapped[str | None] = mapped_column(sa.String(200))
    access_token_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refresh_token_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped by every refresh; taking the row for update serialises refreshes across workers.
    token_generation: Mapped[int] = mapped_column(default=0)
    ap_account_id: Mapped[str | None] = mapped_column(sa.String(40))
    connected_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Change data capture: the changedSince of the next poll, and when the last one finished.
    cdc_changed_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cdc_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    connected_by: Mapped[User | None] = relationship()

    @property
    def is_connected(self) -> bool:
        return bool(self.realm_id and self.refresh_token_encrypted)


class QboRecord(db.Model):
    """A Vendor, Customer, Item or Account imported from QuickBooks, to pick in mappings."""

    __tablename__ = "qbo_records"
    __table_args__ = (sa.UniqueConstraint("realm_id", "entity", "qbo_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[str] = mapped_column(sa.String(40))
    entity: Mapped[str] = mapped_column(sa.String(20))  # Vendor, Customer, Item, Account
    qbo_id: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(300))
    detail: Mapped[str] = mapped_column(sa.String(100), default="")  # AccountType, Item Type, Job
    active: Mapped[bool] = mapped_column(default=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CostMapping(db.Model):
    """Where a cost code + category goes in QuickBooks: an Item or an expense Account."""

    __tablename__ = "cost_mappings"
    __table_args__ = (
        sa.UniqueConstraint("cost_code_id", "category_id"),
        sa.CheckConstraint("(qbo_item_id IS NULL) <> (qbo_account_id IS NULL)",
                           name="item_or_account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cost_code_id: Mapped[int] = mapped_column(sa.ForeignKey("cost_codes.id"))
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"))
    qbo_item_id: Mapped[str | None] = mapped_column(sa.String(40))
    qbo_account_id: Mapped[str | None] = mapped_column(sa.String(40))
    qbo_name: Mapped[str] = mapped_column(sa.String(300), default="")

    cost_code: Mapped[CostCode] = relationship()
    category: Mapped[Category] = relationship()


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SYNCED = "synced"
    FAILED = "failed"


def _record_id(context) -> int | None:
    """A row written the way it was before 0017 (a commitment's or a CCO's columns only)
    still says which record it sends."""
    row = context.get_current_parameters()
    if row.get("subject_type") == "change_order":
        return row.get("change_order_id")
    return row.get("commitment_id")


def _target_key(context) -> str | None:
    commitment_id = context.get_current_parameters().get("commitment_id")
    return None if commitment_id is None else f"purchase-order:{commitment_id}"


class Export(db.Model):
    """One accepted send to QuickBooks. Its key makes every retry the same request.

    It points at the record it sends, ``(subject_type, record_id)``: its ERP kind's name
    (workflow/kinds.py) and its id, and at the QuickBooks record it writes, ``target_key``
    (the key of the export lock: two exports with one target run one after the other). A
    commitment's and a CCO's exports also name their commitment and CCO, which their
    exporters read."""

    __tablename__ = "exports"
    __table_args__ = (sa.Index("ix_exports_subject_type_record_id", "subject_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(sa.String(30))  # the ERP kind's name
    record_id: Mapped[int] = mapped_column(default=_record_id)
    target_key: Mapped[str] = mapped_column(sa.String(60), default=_target_key)
    commitment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("commitments.id"),
                                                      index=True)
    change_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("change_orders.id"),
                                                        index=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(50), unique=True)
    status: Mapped[ExportStatus] = mapped_column(str_enum(ExportStatus, "export_status"),
                                                 default=ExportStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    job_id: Mapped[str | None] = mapped_column(sa.String(60))
    qbo_ids: Mapped[str | None] = mapped_column(sa.Text)  # JSON: what QuickBooks ids were touched
    last_error_code: Mapped[str | None] = mapped_column(sa.String(20))
    last_error_message: Mapped[str | None] = mapped_column(sa.Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The outbox: a queued export runs when this is due (None: now); see jobs/outbox.py.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retries: Mapped[int] = mapped_column(default=0, server_default="0")  # since Accept / Retry

    accepted_by: Mapped[User | None] = relationship()

    @property
    def subject_key(self) -> tuple[str, int]:
        """(kind name, record id): what this export sends."""
        return self.subject_type, self.record_id


class Notice(db.Model):
    """An in-app message for one user, shown on their next page (then marked seen)."""

    __tablename__ = "notices"
    __table_args__ = (sa.Index("ix_notices_user_id_seen_at", "user_id", "seen_at"),
                      sa.Index("ix_notices_subject", "subject_type", "subject_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What it is about ("change_order", 12) and why ("erp_rejected", "approval_withdrawn"): a
    # notice is put away by itself once that is settled (workflow/notices.py:settle).
    subject_type: Mapped[str | None] = mapped_column(sa.String(30))
    subject_id: Mapped[int | None]
    about: Mapped[str | None] = mapped_column(sa.String(30))


class QboPurchaseOrderState(db.Model):
    """What QuickBooks holds for one linked PurchaseOrder, as change data capture last read it
    (quickbooks_online/cdc.py): SyncToken, DocNumber, TotalAmt, lines, deleted. Drift is this
    against what we wrote (workflow/qbo_drift.py); CDC never writes to QuickBooks.

    ``agreed_line_ids``: the PO's line Ids when it last agreed with us (its SyncToken was the
    one our own write returned) or when a difference was acknowledged, so a line a bookkeeper
    added before then is not reported as new. ``acknowledged_token``: the SyncToken whose
    differences an ERP admin accepted as the bookkeeper's. ``restore_requested_at``: "restore
    ours" was asked; the commitment's next export puts our lines back.
    """

    __tablename__ = "qbo_purchase_order_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("commitments.id", ondelete="CASCADE"), unique=True)
    purchase_order_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    sync_token: Mapped[str | None] = mapped_column(sa.String(20))
    doc_number: Mapped[str | None] = mapped_column(sa.String(40))
    total: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    lines: Mapped[str] = mapped_column(sa.Text, default="[]")  # JSON: [{id, description, amount}]
    deleted: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[str | None] = mapped_column(sa.String(40))  # QuickBooks LastUpdatedTime
    read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    differs: Mapped[bool] = mapped_column(default=False, index=True)
    agreed_line_ids: Mapped[str | None] = mapped_column(sa.Text)  # JSON list
    acknowledged_token: Mapped[str | None] = mapped_column(sa.String(20))
    restore_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The sum of the PO's lines that are none of ours (a bookkeeper's own), as last read: the
    # drift line leaves it out of QuickBooks' total before comparing with ours.
    theirs_total: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))

    # ``Commitment.qbo_state``: joined into the inbox's page read, so cards cost no statement
    commitment = relationship("Commitment", backref=backref("qbo_state", uselist=False,
                                                            passive_deletes=True))
