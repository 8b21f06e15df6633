"""The approver's inbox: what waits in ERP Integrations, commitments and CCOs on one list.

Reads only. Oldest waiting first (the time a record entered its ERP status), keyset pages
(no OFFSET: page 1,000 costs what page 1 costs), filters by project and vendor, counts per
status in one grouped statement, and the few batched reads a page of cards needs — so the
statements per request do not grow with the rows (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, literal, or_, select, union_all
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from models import (
    ChangeOrder,
    ChangeOrderLine,
    Commitment,
    ErpStatus,
    HistoryEvent,
    SovLine,
    User,
)

PAGE_SIZE = 25
KIND_RANK = {"commitments": 0, "change-orders": 1}


@dataclass(frozen=True)
class Filters:
    status: ErpStatus
    project_id: int | None = None
    vendor_id: int | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: (time it entered the status, kind, id)."""

    at: datetime
    rank: int
    id: int

    def token(self) -> str:
        return f"{self.at.timestamp():.6f}_{self.rank}_{self.id}"

    @classmethod
    def parse(cls, token: str | None) -> Cursor | None:
        from datetime import UTC

        try:
            at, rank, ident = (token or "").split("_")
            return cls(datetime.fromtimestamp(float(at), UTC), int(rank), int(ident))
        except (ValueError, OverflowError, OSError):
            return None


def _where(model, filters: Filters, viewer: User):
    from workflow.change_orders import private_filter

    commitment = Commitment
    conditions = [model.erp_status == filters.status]
    if model is ChangeOrder:
        conditions.append(private_filter(viewer))
    if filters.project_id:
        conditions.append(commitment.project_id == filters.project_id)
    if filters.vendor_id:
        conditions.append(commitment.vendor_id == filters.vendor_id)
    return conditions


def _after(model, rank: int, cursor: Cursor | None):
    if cursor is None:
        return []
    if rank == cursor.rank:
        return [or_(model.updated_at > cursor.at,
                    and_(model.updated_at == cursor.at, model.id > cursor.id))]
    if rank > cursor.rank:
        return [model.updated_at >= cursor.at]
    return [model.updated_at > cursor.at]


def page(filters: Filters, viewer: User, cursor: Cursor | None = None,
         size: int | None = None) -> tuple[list, Cursor | None]:
    """One page of records waiting in ``filters.status``, oldest first, and the next cursor."""
    size = size or PAGE_SIZE
    commitments = db.session.scalars(
        select(Commitment)
        .where(*_where(Commitment, filters, viewer), *_after(Commitment, 0, cursor))
        .options(joinedload(Commitment.vendor), joinedload(Commitment.project),
                 selectinload(Commitment.sov_lines).joinedload(SovLine.cost_code),
                 selectinload(Commitment.sov_lines).joinedload(SovLine.category))
        .order_by(Commitment.updated_at, Commitment.id).limit(size + 1)).unique().all()
    ccos = db.session.scalars(
        select(ChangeOrder).join(ChangeOrder.commitment)
        .where(*_where(ChangeOrder, filters, viewer), *_after(ChangeOrder, 1, cursor))
        .options(joinedload(ChangeOrder.commitment).joinedload(Commitment.vendor),
                 joinedload(ChangeOrder.commitment).joinedload(Commitment.project),
                 selectinload(ChangeOrder.lines).joinedload(ChangeOrderLine.sov_line),
                 selectinload(ChangeOrder.lines).joinedload(ChangeOrderLine.cost_code_own),
                 selectinload(ChangeOrder.lines).joinedload(ChangeOrderLine.category_own))
        .order_by(ChangeOrder.updated_at, ChangeOrder.id).limit(size + 1)).unique().all()
    merged = sorted([*commitments, *ccos], key=_sort_key)
    shown = merged[:size]
    more = len(merged) > size
    last = shown[-1] if shown and more else None
    return shown, (Cursor(last.updated_at, _rank(last), last.id) if last else None)


def _rank(subject) -> int:
    return 1 if isinstance(subject, ChangeOrder) else 0


def _sort_key(subject) -> tuple:
    return (subject.updated_at, _rank(subject), subject.id)


def counts(filters: Filters, viewer: User) -> dict[ErpStatus, int]:
    """Records per ERP status under the project and vendor filters, in one statement."""
    from workflow.change_orders import private_filter

    def grouped(model):
        query = select(model.erp_status.label("status"), func.count().label("n"))
        if model is ChangeOrder:
            query = query.join(ChangeOrder.commitment).where(private_filter(viewer))
        if filters.project_id:
            query = query.where(Commitment.project_id == filters.project_id)
        if filters.vendor_id:
            query = query.where(Commitment.vendor_id == filters.vendor_id)
        return query.group_by(model.erp_status)

    both = union_all(grouped(Commitment), grouped(ChangeOrder)).subquery()
    rows = db.session.execute(select(both.c.status, func.sum(both.c.n))
                              .group_by(both.c.status)).all()
    return {ErpStatus(status): int(n) for status, n in rows}


def fingerprint(filters: Filters, viewer: User) -> str:
    """What a live inbox compares to know whether to redraw: one cheap statement."""
    from workflow.change_orders import private_filter

    def part(model):
        query = select(func.count().label("n"), func.max(model.updated_at).label("at"),
                       func.coalesce(func.sum(model.id), 0).label("ids"))
        query = query.select_from(model)
        if model is ChangeOrder:
            query = query.join(ChangeOrder.commitment).where(private_filter(viewer))
        else:
            query = query.where(literal(True))
        query = query.where(model.erp_status == filters.status)
        if filters.project_id:
            query = query.where(Commitment.project_id == filters.project_id)
        if filters.vendor_id:
            query = query.where(Commitment.vendor_id == filters.vendor_id)
        return query

    both = union_all(part(Commitment), part(ChangeOrder)).subquery()
    n, at, ids = db.session.execute(select(func.sum(both.c.n), func.max(both.c.at),
                                           func.sum(both.c.ids))).one()
    return f"{int(n or 0)}.{int(ids or 0)}.{at.timestamp() if hasattr(at, 'timestamp') else at}"


@dataclass(frozen=True)
class Sending:
    """Who sent a record to accounting and when, and what accounting said before."""

    by: str | None
    at: datetime | None
    rejections: tuple[tuple[str, str, datetime], ...]  # (who, reason, when), oldest first


def sendings(subjects: list) -> dict[tuple[str, int], Sending]:
    """For each card: the last send and the rejections before it, in one statement."""
    keys = {("change_order" if isinstance(s, ChangeOrder) else "commitment", s.id)
            for s in subjects}
    if not keys:
        return {}
    events = db.session.execute(
        select(HistoryEvent.subject_type, HistoryEvent.subject_id, HistoryEvent.action,
               HistoryEvent.at, HistoryEvent.comment, User.name)
        .outerjoin(User, User.id == HistoryEvent.user_id)
        .where(HistoryEvent.action.in_(("sent", "resent", "rejected")),
               HistoryEvent.field == "ERP status",
               or_(*[and_(HistoryEvent.subject_type == t, HistoryEvent.subject_id.in_(
                   [i for kind, i in keys if kind == t])) for t in {k for k, _ in keys}]))
        .order_by(HistoryEvent.id)).all()
    found: dict[tuple[str, int], Sending] = {}
    for kind, ident, action, at, comment, name in events:
        current = found.get((kind, ident), Sending(None, None, ()))
        if action == "rejected":
            current = Sending(current.by, current.at,
                              (*current.rejections, (name or "", comment or "", at)))
        else:
            current = Sending(name, at, current.rejections)
        found[(kind, ident)] = current
    return {(("change-orders" if kind == "change_order" else "commitments"), ident): value
            for (kind, ident), value in found.items()}
