"""Typed SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from models.change_events import (
    ChangeEvent,
    ChangeEventLine,
    ChangeEventScope,
    ChangeEventStatus,
    ChangeEventType,
)
from models.change_orders import ChangeOrder, ChangeOrderApproval, ChangeOrderLine, cco_viewers
from models.commitments import Commitment, SovLine
from models.erp import (
    CostMapping,
    Export,
    ExportStatus,
    Notice,
    QboConnection,
    QboPurchaseOrderState,
    QboRecord,
)
from models.history import HistoryEvent
from models.limits import MAX_COMMITMENT_NUMBER
from models.list_totals import ANY_VENDOR  # registers the list totals tables and their hook
from models.notifications import EmailOptOut, NotificationKind, PendingNotification, SentEmail
from models.people import ErpPermission, ProjectMembership, ProjectRole, User
from models.reference import DEFAULT_CATEGORIES, Category, CostCode, Project, Vendor
from models.statuses import (
    EDITOR_SETTABLE_CCO_STATUSES,
    REVIEWABLE_CCO_STATUSES,
    STATUSES_BY_TYPE,
    ChangeOrderStatus,
    CommitmentStatus,
    CommitmentType,
    ErpStatus,
)

__all__ = [
    "ANY_VENDOR",
    "DEFAULT_CATEGORIES",
    "EDITOR_SETTABLE_CCO_STATUSES",
    "MAX_COMMITMENT_NUMBER",
    "REVIEWABLE_CCO_STATUSES",
    "STATUSES_BY_TYPE",
    "Category",
    "ChangeEvent",
    "ChangeEventLine",
    "ChangeEventScope",
    "ChangeEventStatus",
    "ChangeEventType",
    "ChangeOrder",
    "ChangeOrderApproval",
    "ChangeOrderLine",
    "ChangeOrderStatus",
    "Commitment",
    "CommitmentStatus",
    "CommitmentType",
    "CostCode",
    "CostMapping",
    "EmailOptOut",
    "ErpPermission",
    "ErpStatus",
    "Export",
    "ExportStatus",
    "HistoryEvent",
    "Notice",
    "NotificationKind",
    "PendingNotification",
    "Project",
    "ProjectMembership",
    "ProjectRole",
    "QboConnection",
    "QboPurchaseOrderState",
    "QboRecord",
    "SentEmail",
    "SovLine",
    "User",
    "Vendor",
    "cco_viewers",
]
