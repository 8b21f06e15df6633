"""Statuses, with the exact words users see (docs/lifecycle.md)."""

from __future__ import annotations

import enum


class LabelledEnum(enum.StrEnum):
    """A StrEnum whose members carry the label shown in the UI."""

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class CommitmentType(LabelledEnum):
    SUBCONTRACT = "subcontract", "Subcontract"
    PURCHASE_ORDER = "purchase_order", "Purchase Order"


class CommitmentStatus(LabelledEnum):
    DRAFT = "draft", "Draft"
    OUT_FOR_BID = "out_for_bid", "Out for Bid"
    OUT_FOR_SIGNATURE = "out_for_signature", "Out for Signature"
    PROCESSING = "processing", "Processing"
    SUBMITTED = "submitted", "Submitted"
    PARTIALLY_RECEIVED = "partially_received", "Partially Received"
    RECEIVED = "received", "Received"
    APPROVED = "approved", "Approved"
    COMPLETE = "complete", "Complete"
    TERMINATED = "terminated", "Terminated"
    VOID = "void", "Void"
    CLOSED = "closed", "Closed"


STATUSES_BY_TYPE = {
    CommitmentType.SUBCONTRACT: (
        CommitmentStatus.DRAFT, CommitmentStatus.OUT_FOR_BID, CommitmentStatus.OUT_FOR_SIGNATURE,
        CommitmentStatus.APPROVED, CommitmentStatus.COMPLETE, CommitmentStatus.TERMINATED,
        CommitmentStatus.VOID),
    CommitmentType.PURCHASE_ORDER: (
        CommitmentStatus.DRAFT, CommitmentStatus.PROCESSING, CommitmentStatus.SUBMITTED,
        CommitmentStatus.PARTIALLY_RECEIVED, CommitmentStatus.RECEIVED, CommitmentStatus.APPROVED,
        CommitmentStatus.CLOSED),
}


class ChangeOrderStatus(LabelledEnum):
    DRAFT = "draft", "Draft"
    PENDING_IN_REVIEW = "pending_in_review", "Pending – In Review"
    PENDING_REVISED = "pending_revised", "Pending – Revised"
    PENDING_PRICING = "pending_pricing", "Pending – Pricing"
    PENDING_NOT_PRICING = "pending_not_pricing", "Pending – Not Pricing"
    PENDING_PROCEEDING = "pending_proceeding", "Pending – Proceeding"
    PENDING_NOT_PROCEEDING = "pending_not_proceeding", "Pending – Not Proceeding"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    NO_CHARGE = "no_charge", "No Charge"
    VOID = "void", "Void"

    @property
    def is_pending(self) -> bool:
        return self.value.startswith("pending_")


# Statuses an editor may set; Approved and Rejected come only from the designated reviewer.
EDITOR_SETTABLE_CCO_STATUSES = tuple(
    status for status in ChangeOrderStatus
    if status not in (ChangeOrderStatus.APPROVED, ChangeOrderStatus.REJECTED))
REVIEWABLE_CCO_STATUSES = (ChangeOrderStatus.PENDING_IN_REVIEW, ChangeOrderStatus.PENDING_REVISED)


class ErpStatus(LabelledEnum):
    """The ERP Integrations axis, shared by commitments and CCOs (docs/lifecycle.md)."""

    NOT_SENT = "not_sent", "Not Sent"
    READY_TO_EXPORT = "ready_to_export", "Ready to Export"
    EXPORTING = "exporting", "Exporting"
    SYNCED = "synced", "Synced"
    FAILED_TO_EXPORT = "failed_to_export", "Failed to Export"
    REJECTED = "rejected", "Rejected"

    @property
    def editable(self) -> bool:
        """Only a record that is not (or no longer) with accounting may be edited."""
        return self in (ErpStatus.NOT_SENT, ErpStatus.REJECTED)
