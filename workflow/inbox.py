"""The approver's inbox: what waits in ERP Integrations, commitments and CCOs on one list.

Reads only. Oldest waiting first (the time a record entered its ERP status), keyset pages
(no OFFSET: page 1,000 costs what page 1 costs), filters by project and vendor, counts per
status in one grouped statement, and the few batched reads a page of cards needs — so the
statements per request do not grow with the rows (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, func, or_, select

from extensions import db
from models import (
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    ErpStatus,
    HistoryEvent,
    ProjectRole,
    SovLine,
    User,
)
from workflow import kinds

PAGE_SIZE = 25
SELECTED_LIMIT = 100  # records one "Accept selected" handles at most
ZERO = Decimal("0.00")


def may_see(viewer: User, subject) -> bool:
    """Whether ``viewer`` may read ``subject``'s card in ERP Integrations: the one rule for the
    card, its page, "Accept selected" and anything else that names a record there.

    ERP viewers only; a private CCO only for those who may see it; a record never sent to
    accounting only for its project's members."""
    from workflow import history
    from workflow.permissions import can_view_erp, has_project_role

    if subject is None or not can_view_erp(viewer):
        return False
    if kinds.of(subject).hidden_from(viewer, subject):
        return False
    if subject.erp_status == ErpStatus.NOT_SENT and not has_project_role(
            viewer, subject.project, ProjectRole.READ_ONLY):
        return history.has_erp_history(subject)
    return True


def parse_selected(values: list[str], viewer: User) -> list:
    """The records named by "kind:id" values (as the cards' Select boxes send them), in order,
    once each, at most SELECTED_LIMIT, and only those ``viewer`` may see (``may_see``): a
    record the viewer may not see is left out without a word."""
    found, seen = [], set()
    for value in values[:SELECTED_LIMIT]:
        kind, _, ident = str(value).partition(":")
        if kinds.by_slug(kind) is None \
                or not (ident.isascii() and ident.isdigit() and 0 < len(ident) < 10) \
                or (kind, ident) in seen:
            continue
        seen.add((kind, ident))
        subject = db.session.get(kinds.by_slug(kind).model, int(ident))
        if may_see(viewer, subject):
            found.append(subject)
    return found


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


def _where(kind, filters: Filters, viewer: User):
    commitment = Commitment
    conditions = [kind.model.erp_status == filters.status]
    visible = kind.visible_sql(viewer)
    if visible is not None:
        conditions.append(visible)
    if filters.project_id is not None:  # an id, or a bound parameter (``counters``)
        conditions.append(commitment.project_id == filters.project_id)
    if filters.vendor_id is not None:
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
    found = []
    for kind in kinds.all_kinds():
        model = kind.model
        found += db.session.scalars(
            kind.with_commitment(select(model))
            .where(*_where(kind, filters, viewer), *_after(model, kind.rank, cursor))
            .options(*kind.card_load_options())
            .order_by(model.updated_at, model.id).limit(size + 1)).unique().all()
    merged = sorted(found, key=_sort_key)
    shown = merged[:size]
    more = len(merged) > size
    last = shown[-1] if shown and more else None
    return shown, (Cursor(last.updated_at, _rank(last), last.id) if last else None)


def _rank(subject) -> int:
    return kinds.of(subject).rank


def _sort_key(subject) -> tuple:
    return (subject.updated_at, _rank(subject), subject.id)


COUNT_CAP = 100  # a count reads at most this many rows; at the cap it shows as "99+"


def _capped_count(query):
    """SQL: how many rows ``query`` has, counting no further than COUNT_CAP (an index range
    read of at most COUNT_CAP entries, whatever the table's size)."""
    return select(func.count()).select_from(query.limit(COUNT_CAP).subquery()).scalar_subquery()


def _in_status(kind, filters: Filters, viewer: User, status: ErpStatus):
    query = kind.with_commitment(select(kind.model.id))
    return query.where(*_where(kind, Filters(status, filters.project_id, filters.vendor_id),
                               viewer))


def _first_keys(kind, filters: Filters, viewer: User):
    """SQL: the keys of the first page of ``kind`` in the filtered status (what is shown)."""
    model = kind.model
    return (_in_status(kind, filters, viewer, filters.status)
            .add_columns(model.updated_at.label("at"))
            .order_by(model.updated_at, model.id).limit(PAGE_SIZE + 1).subquery())


@dataclass(frozen=True)
class Counters:
    """What the inbox shows besides its cards, read in one statement of bounded cost.

    ``tabs``: records per status under the filters, each capped at COUNT_CAP. ``waiting`` and
    ``returned``: the navigation's counts (capped too). ``fingerprint``: changes whenever
    something shown changes — a capped count, or the first page of the filtered status."""

    tabs: dict[ErpStatus, int]
    waiting: int
    returned: int
    fingerprint: str


def counters(filters: Filters, viewer: User, statuses) -> Counters:
    """The inbox's counters (``Counters``). The statement is built once per shape (the tabs,
    the status shown, which filters are on, the kind of viewer) and run with the ids bound
    (workflow/statements.py): building it took about 40 % of the inbox's time."""
    from sqlalchemy import bindparam

    from workflow.erp import waiting_statuses
    from workflow.statements import AnyUser, built_once

    statuses = tuple(statuses)
    admin, waits = bool(viewer.is_company_admin), tuple(waiting_statuses(viewer))
    project, vendor = filters.project_id or None, filters.vendor_id or None
    shape = Filters(filters.status,
                    bindparam("project_id") if project is not None else None,
                    bindparam("vendor_id") if vendor is not None else None)
    statement = built_once(
        ("inbox counters", statuses, filters.status, project is not None, vendor is not None,
         admin, waits), lambda: _counters_statement(shape, AnyUser(admin), waits, statuses))
    row = list(db.session.execute(statement, {"viewer_id": viewer.id, "project_id": project,
                                              "vendor_id": vendor}).one())
    tabs, per = {}, len(kinds.all_kinds())
    for index, status in enumerate(statuses):
        tabs[status] = min(sum(int(n or 0) for n in row[per * index:per * (index + 1)]),
                           COUNT_CAP)
    shown = row[per * len(statuses):per * len(statuses) + 3 * per]
    stamp = ".".join(str(v.timestamp() if hasattr(v, "timestamp") else v) for v in shown)
    waiting, returned = (min(int(n or 0), COUNT_CAP) for n in row[-2:])
    counts = ".".join(str(tabs[s]) for s in statuses)
    return Counters(tabs, waiting, returned, f"{counts}.{waiting}-{stamp}")


def _counters_statement(filters: Filters, viewer, waits: tuple, statuses: tuple):
    from workflow.erp import _waiting_sql, returned_count_sql

    registered = kinds.all_kinds()
    columns = []
    for status in statuses:
        for kind in registered:
            columns.append(_capped_count(_in_status(kind, filters, viewer, status)))
    for kind in registered:
        keys = _first_keys(kind, filters, viewer)
        columns += [select(func.count()).select_from(keys).scalar_subquery(),
                    select(func.coalesce(func.sum(keys.c.id), 0)).scalar_subquery(),
                    select(func.max(keys.c.at)).scalar_subquery()]
    columns += [_waiting_sql(waits, COUNT_CAP), returned_count_sql(viewer, COUNT_CAP)]
    return select(*columns)


@dataclass(frozen=True)
class Sending:
    """Who sent a record to accounting and when, and what accounting said before."""

    by: str | None
    at: datetime | None
    rejections: tuple[tuple[str, str, datetime], ...]  # (who, reason, when), oldest first
    resent_after: int = 0  # rejections before the last send (a rejection since is not one)

    @property
    def earlier_rejections(self) -> tuple[tuple[str, str, datetime], ...]:
        """The rejections the last send answered (not a rejection that came after it)."""
        return self.rejections[:self.resent_after]


def sendings(subjects: list) -> dict[tuple[str, int], Sending]:
    """For each card: the last send and the rejections before it, in one statement."""
    keys = {(kinds.of(s).name, s.id) for s in subjects}
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
                              (*current.rejections, (name or "", comment or "", at)),
                              current.resent_after)
        else:
            current = Sending(name, at, current.rejections, len(current.rejections))
        found[(kind, ident)] = current
    return {(kinds.named(kind).slug, ident): value for (kind, ident), value in found.items()}


@dataclass
class NotSent:
    """An approved CCO not (yet) in QuickBooks, as a card's drift line names it, and its
    amount (the drift line's "differs" counts it as the difference it explains)."""

    number: str
    erp_status: ErpStatus
    grand_total: Decimal = Decimal("0")


@dataclass
class Ledger:
    """The money facts a page of cards shows about their commitments, from one statement:
    each commitment's totals and its approved CCOs not yet in QuickBooks (only of the CCOs
    the viewer may see), per SOV line the CCO changes already in QuickBooks (the preview's
    "now"), and the lines Synced CCOs added to the PurchaseOrder (with the SOV lines, what we
    wrote there: quickbooks_online/ours.py, ``ours_from``)."""

    totals: dict
    not_sent: dict[int, list[NotSent]]
    synced: dict[int, dict[int, Decimal]]
    # commitment id → [(QuickBooks line Id, CCO number, description, amount, private)]
    added_lines: dict[int, list[tuple]] = field(default_factory=dict)
    # commitment id → what Synced CCOs the viewer may not see put in the PurchaseOrder (in
    # none of the totals above: only for the drift line's comparison, never shown)
    hidden_synced: dict[int, Decimal] = field(default_factory=dict)


def ledger(commitment_ids: list[int], viewer: User) -> Ledger:
    from sqlalchemy import case, literal, null, union_all

    from workflow.change_orders import private_filter
    from workflow.commitments import Totals

    ids = sorted(set(commitment_ids))
    if not ids:
        return Ledger({}, {}, {})
    pending = [s for s in ChangeOrderStatus if s.is_pending]
    originals = (
        select(SovLine.commitment_id.label("commitment_id"), literal(None).label("number"),
               null().label("status"), null().label("erp_status"),
               literal(True).label("visible"), null().label("sov_line_id"),
               func.coalesce(func.sum(SovLine.amount), 0).label("amount"),
               null().label("qbo_line_id"), null().label("description"),
               literal(False).label("private"))
        .where(SovLine.commitment_id.in_(ids)).group_by(SovLine.commitment_id))
    visible = case((private_filter(viewer), True), else_=False)
    # a line the CCO added (no SOV line) is a PO line of its own: kept apart
    added_id = case((ChangeOrderLine.sov_line_id.is_(None), ChangeOrderLine.qbo_line_id))
    added_text = case((ChangeOrderLine.sov_line_id.is_(None), ChangeOrderLine.description))
    changes = (
        select(ChangeOrder.commitment_id, ChangeOrder.number, ChangeOrder.status,
               ChangeOrder.erp_status, visible, ChangeOrderLine.sov_line_id,
               func.coalesce(func.sum(ChangeOrderLine.amount), 0), added_id, added_text,
               ChangeOrder.private)
        .select_from(ChangeOrder).join(ChangeOrder.commitment)
        .join(ChangeOrderLine, ChangeOrderLine.change_order_id == ChangeOrder.id)
        .where(ChangeOrder.commitment_id.in_(ids),
               or_(ChangeOrder.status.in_([ChangeOrderStatus.APPROVED, *pending]),
                   ChangeOrder.erp_status == ErpStatus.SYNCED))
        .group_by(ChangeOrder.commitment_id, ChangeOrder.id, ChangeOrder.number,
                  ChangeOrder.status, ChangeOrder.erp_status, visible,
                  ChangeOrderLine.sov_line_id, added_id, added_text, ChangeOrder.private))
    original: dict[int, Decimal] = {}
    approved: dict[int, Decimal] = {}
    pending_sum: dict[int, Decimal] = {}
    not_sent: dict[int, dict[str, NotSent]] = {}
    synced: dict[int, dict[int, Decimal]] = {}
    added_lines: dict[int, list[tuple]] = {}
    hidden: dict[int, set[str]] = {}
    hidden_synced: dict[int, Decimal] = {}
    for (cid, number, status, erp_status, seen, sov_line_id, amount, added_line_id,
         added_description, private) in db.session.execute(union_all(originals, changes)):
        amount = Decimal(str(amount))
        if number is None:
            original[cid] = amount
            continue
        status, erp_status = ChangeOrderStatus(status), ErpStatus(erp_status)
        if not seen:  # a private CCO the viewer may not see: in no total of theirs
            hidden.setdefault(cid, set()).add(number)
            if status == ChangeOrderStatus.APPROVED and erp_status == ErpStatus.SYNCED:
                hidden_synced[cid] = hidden_synced.get(cid, ZERO) + amount
        elif status == ChangeOrderStatus.APPROVED:
            approved[cid] = approved.get(cid, ZERO) + amount
            if erp_status != ErpStatus.SYNCED:
                waiting = not_sent.setdefault(cid, {}).setdefault(
                    number, NotSent(number, erp_status))
                waiting.grand_total += amount  # one row per line it changes
        elif status in pending:
            pending_sum[cid] = pending_sum.get(cid, ZERO) + amount
        if erp_status == ErpStatus.SYNCED and sov_line_id is not None:
            line_sums = synced.setdefault(cid, {})
            line_sums[sov_line_id] = line_sums.get(sov_line_id, ZERO) + amount
        elif erp_status == ErpStatus.SYNCED and added_line_id:
            added_lines.setdefault(cid, []).append(
                (added_line_id, number, added_description or "", amount, bool(private)))
    totals = {cid: Totals(original=original.get(cid, ZERO).quantize(Decimal("0.01")),
                          approved_changes=approved.get(cid, ZERO),
                          pending_changes=pending_sum.get(cid, ZERO),
                          hidden=len(hidden.get(cid, ()))) for cid in ids}
    return Ledger(totals, {cid: sorted(found.values(), key=lambda c: c.number)
                           for cid, found in not_sent.items()}, synced, added_lines,
                  hidden_synced)


CHOICES = 100  # options in a filter: the list costs the same at any size


@dataclass(frozen=True)
class Choice:
    id: int
    number: str
    name: str


@dataclass(frozen=True)
class Choices:
    """The inbox's filter options and the navigation's project picker. Each list holds at
    most CHOICES entries (and the one chosen); ``more_*`` says there are others. With a
    project chosen, the vendors are that project's."""

    projects: list[Choice]
    vendors: list[Choice]
    nav: list[Choice]
    more_projects: bool
    more_vendors: bool
    more_nav: bool


def choices(viewer: User, filters: Filters) -> Choices:
    """All three lists in one statement, each an index-ordered read of CHOICES + 1 rows."""
    from sqlalchemy import literal, union_all

    from models import Project, ProjectMembership, Vendor
    from workflow.permissions import PICKER_LIMIT

    def row(kind: str, model):
        number = model.number if model is Project else literal("")
        return select(literal(kind).label("kind"), model.id, number.label("number"),
                      model.name)

    def bounded(query, model, limit=CHOICES):
        order = (model.number, model.id) if model is Project else (model.name, model.id)
        return select(query.order_by(*order).limit(max(limit, PICKER_LIMIT) + 1).subquery())

    vendors = row("vendor", Vendor)
    if filters.project_id:
        vendors = vendors.where(Vendor.id.in_(select(Commitment.vendor_id).where(
            Commitment.project_id == filters.project_id)))
    parts = [bounded(row("project", Project).where(Project.active.is_(True)), Project),
             bounded(vendors, Vendor)]
    if filters.project_id:
        parts.append(row("chosen project", Project).where(Project.id == filters.project_id))
    if filters.vendor_id:
        parts.append(row("chosen vendor", Vendor).where(Vendor.id == filters.vendor_id))
    if not viewer.is_company_admin:  # a company admin's picker is every active project
        parts.append(bounded(row("nav", Project).join(ProjectMembership).where(
            Project.active.is_(True), ProjectMembership.user_id == viewer.id), Project))
    found: dict[str, list[Choice]] = {}
    for kind, ident, number, name in db.session.execute(union_all(*parts)):
        found.setdefault(kind, []).append(Choice(ident, number, name))

    def listed(kind: str) -> tuple[list[Choice], bool]:
        rows = sorted(found.get(kind, []), key=lambda c: (c.number, c.name, c.id))
        extra = [c for c in found.get(f"chosen {kind}", []) if c not in rows[:CHOICES]]
        return rows[:CHOICES] + extra, len(rows) > CHOICES

    projects, more_projects = listed("project")
    vendors_list, more_vendors = listed("vendor")
    if viewer.is_company_admin:
        nav = sorted(found.get("project", []), key=lambda c: (c.number, c.id))
    else:
        nav = sorted(found.get("nav", []), key=lambda c: (c.number, c.id))
    return Choices(projects, vendors_list, nav[:PICKER_LIMIT], more_projects, more_vendors,
                   len(nav) > PICKER_LIMIT)
