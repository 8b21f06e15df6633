"""Commitments and their schedule of values: creation, edits, totals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from extensions import db
from models import (
    STATUSES_BY_TYPE,
    Category,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CommitmentStatus,
    CommitmentType,
    CostCode,
    ErpStatus,
    Project,
    ProjectRole,
    SovLine,
    User,
    Vendor,
)
from models.limits import MAX_COMMITMENT_NUMBER
from workflow import approvals, history
from workflow.change_orders import can_view
from workflow.errors import InvalidInput, Locked
from workflow.locking import check_version, committing
from workflow.permissions import require_project_role
from workflow.reference import cost_code_and_category, may_choose
from workflow.text import normalize_number

ZERO = Decimal("0.00")
NUMBER_TOO_LONG = (f"Use at most {MAX_COMMITMENT_NUMBER} characters (it becomes the QuickBooks "
                   "PO number).")

COMMITMENT_LABELS = {"type": "Type", "number": "Number", "title": "Title", "vendor": "Vendor",
                     "status": "Status", "description": "Description"}
SOV_LABELS = {"description": "Description", "cost_code": "Cost code", "category": "Category",
              "amount": "Amount"}


@dataclass
class CommitmentInput:
    type: CommitmentType
    number: str
    title: str
    vendor_id: int | None
    status: CommitmentStatus = CommitmentStatus.DRAFT
    description: str = ""


@dataclass
class SovInput:
    description: str
    cost_code_id: int | None
    category_id: int | None
    amount: Decimal


@dataclass(frozen=True)
class Totals:
    original: Decimal
    approved_changes: Decimal
    pending_changes: Decimal
    hidden: int = 0  # private change orders left out because the viewer may not see them

    @property
    def revised(self) -> Decimal:
        return self.original + self.approved_changes


# ---- totals ------------------------------------------------------------------------------------

def _totals_rows(commitment_ids: list[int], viewer: User | None):
    """(commitment id, kind, visible, amount, count) for these commitments in ONE statement:
    their SOV sums ("original"), and their approved and pending change order sums split by
    whether ``viewer`` may see them (with how many change orders). The statement is built
    once per kind of viewer and run with the ids bound (workflow/statements.py)."""
    from workflow.statements import built_once

    shape = None if viewer is None else bool(viewer.is_company_admin)
    statement = built_once(("totals_rows", shape), lambda: _totals_statement(shape))
    parameters = {"ids": commitment_ids}
    if viewer is not None:
        parameters["viewer_id"] = viewer.id
    return db.session.execute(statement, parameters).all()


def _totals_statement(company_admin: bool | None):
    from sqlalchemy import bindparam, case, literal, union_all

    from workflow.change_orders import private_filter
    from workflow.statements import AnyUser

    ids = bindparam("ids", expanding=True)
    pending = [s for s in ChangeOrderStatus if s.is_pending]
    visible = (case((private_filter(AnyUser(company_admin)), 1), else_=0)
               if company_admin is not None else literal(1))
    kind = case((ChangeOrder.status == ChangeOrderStatus.APPROVED, "approved"),
                else_="pending")
    original = (select(SovLine.commitment_id.label("cid"), literal("original").label("kind"),
                       literal(1).label("visible"),
                       func.coalesce(func.sum(SovLine.amount), 0).label("amount"),
                       literal(0).label("n"))
                .where(SovLine.commitment_id.in_(ids))
                .group_by(SovLine.commitment_id))
    changes = (select(ChangeOrder.commitment_id, kind, visible,
                      func.coalesce(func.sum(ChangeOrderLine.amount), 0),
                      func.count(ChangeOrder.id.distinct()))
               .join(ChangeOrderLine, ChangeOrderLine.change_order_id == ChangeOrder.id)
               .join(Commitment, Commitment.id == ChangeOrder.commitment_id)
               .where(ChangeOrder.commitment_id.in_(ids),
                      ChangeOrder.status.in_([ChangeOrderStatus.APPROVED, *pending]))
               .group_by(ChangeOrder.commitment_id, kind, visible))
    return union_all(original, changes)


def _cents(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def totals_by_commitment(commitment_ids: list[int],
                         viewer: User | None = None) -> dict[int, Totals]:
    """Original, approved-changes and pending-changes totals, one statement for any number.

    With a ``viewer``, change orders they may not see (private ones) are left out and counted
    in ``hidden``, so no total tells them an amount they cannot open."""
    if not commitment_ids:
        return {}
    parts: dict[int, dict[str, Decimal]] = {}
    hidden: dict[int, int] = {}
    for cid, kind, visible, amount, n in _totals_rows(list(commitment_ids), viewer):
        if not visible:
            hidden[cid] = hidden.get(cid, 0) + int(n)
        else:
            part = parts.setdefault(cid, {})
            part[kind] = part.get(kind, ZERO) + _cents(amount)
    return {cid: Totals(original=parts.get(cid, {}).get("original", ZERO),
                        approved_changes=parts.get(cid, {}).get("approved", ZERO),
                        pending_changes=parts.get(cid, {}).get("pending", ZERO),
                        hidden=hidden.get(cid, 0))
            for cid in commitment_ids}


def list_totals(project: Project, viewer: User | None = None, *,
                type: CommitmentType | None = None, status: CommitmentStatus | None = None,
                vendor_id: int | None = None) -> tuple[int, Totals]:
    """How many of the project's commitments the list's filters match, and their totals
    (the list's totals row, whatever page is shown), in one statement that reads the few
    list totals rows of these filters (models/list_totals.py), whatever the project's size.

    Private change orders are summed apart: a viewer who may see every one (a project admin)
    gets them all; anyone else gets those they may see (their own rows), and the count of the
    rest in ``hidden``."""
    from models import ANY_VENDOR, ProjectRole
    from models.list_totals import EVERYONE
    from workflow.permissions import has_project_role
    from workflow.statements import built_once

    sees_all = viewer is None or has_project_role(viewer, project, ProjectRole.ADMIN)
    statement = built_once(("commitment_list_totals", type is not None, status is not None),
                           lambda: _list_totals_statement(type is not None, status is not None))
    parameters = {"project_id": project.id,
                  "vendor_id": ANY_VENDOR if vendor_id is None else vendor_id,
                  "own": EVERYONE if sees_all else viewer.id,
                  "type": type.value if type is not None else None,
                  "status": status.value if status is not None else None}
    (count, original, approved, pending, private_count, seen_approved, seen_pending,
     seen_count) = db.session.execute(statement, parameters).one()

    def money(*cents) -> Decimal:
        return (Decimal(sum(int(c) for c in cents)) / 100).quantize(Decimal("0.01"))

    return int(count), Totals(money(original), money(approved, seen_approved),
                              money(pending, seen_pending),
                              hidden=int(private_count) - int(seen_count))


def _list_totals_statement(typed: bool, with_status: bool):
    """The list's totals row (``list_totals``), its values bound: the project, the vendor (or
    any), the viewer's own rows (or everyone's), the type and status when filtered."""
    from sqlalchemy import bindparam, case

    from models.list_totals import EVERYONE
    from models.list_totals import commitment_list_totals as rows

    own = bindparam("own")
    where = [rows.c.project_id == bindparam("project_id"),
             rows.c.vendor_id == bindparam("vendor_id"),
             rows.c.viewer_id.in_([EVERYONE, own])]
    if typed:
        where.append(rows.c.type == bindparam("type"))
    if with_status:
        where.append(rows.c.status == bindparam("status"))

    def total(name, viewer_id):
        return func.coalesce(func.sum(case((rows.c.viewer_id == viewer_id, rows.c[name]),
                                           else_=0)), 0)

    return select(
        *(total(name, EVERYONE) for name in ("records", "original", "approved", "pending",
                                             "private_count")),
        *(total(name, own) for name in ("private_approved", "private_pending",
                                        "private_count"))).where(*where)


def totals(commitment: Commitment, viewer: User | None = None) -> Totals:
    """The commitment's totals as ``viewer`` may see them. In the answer of a save that just
    wrote its share of the lists' totals (models/list_totals.py, ``keep_shares``), from that
    share: the same sums, kept in integer cents, not read again."""
    from models.list_totals import COMMITMENTS, kept_share

    share = kept_share(COMMITMENTS, commitment.id)
    if share is not None:
        return _totals_of_share(share, commitment.project, viewer)
    return totals_by_commitment([commitment.id], viewer)[commitment.id]


def _totals_of_share(share, project: Project, viewer: User | None) -> Totals:
    """``totals`` from a commitment's share: the private CCOs' amounts are the viewer's own
    (they wrote, review or are named on them), or all of them for a project admin, as in the
    list's totals row (``list_totals``)."""
    from workflow.permissions import has_project_role

    original, approved, pending, private_approved, private_pending, private_count = \
        share.amounts
    if viewer is None or has_project_role(viewer, project, ProjectRole.ADMIN):
        seen = (private_approved, private_pending, private_count)
    else:
        seen = next((tuple(rest) for user_id, *rest in share.viewers or ()
                     if user_id == viewer.id), (0, 0, 0))

    def money(cents: int) -> Decimal:
        return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))

    return Totals(money(original), money(approved + seen[0]), money(pending + seen[1]),
                  hidden=int(private_count) - int(seen[2]))


def filtered_commitments(project: Project, *, type: CommitmentType | None = None,
                         status: CommitmentStatus | None = None, vendor_id: int | None = None):
    """The project's commitments narrowed by the list's filters (None: not filtered), as a
    query with no order: the list reads it a keyset page at a time (workflow/pages.py)."""
    query = select(Commitment).where(Commitment.project_id == project.id)
    if type is not None:
        query = query.where(Commitment.type == type)
    if status is not None:
        query = query.where(Commitment.status == status)
    if vendor_id is not None:
        query = query.where(Commitment.vendor_id == vendor_id)
    return query


def allowed_change_order_actions(commitment: Commitment, can_edit: bool) -> list[str]:
    """What the commitment page's Change Orders card offers someone who may (``can_edit``)
    or may not edit: "new_cco", and "from_change_event" when the project uses change events;
    nothing until the commitment is Approved."""
    if not can_edit or commitment.status != CommitmentStatus.APPROVED:
        return []
    return ["new_cco"] + (["from_change_event"] if commitment.project.change_events_enabled
                          else [])


def waits_for_approval(commitment: Commitment, can_edit: bool) -> bool:
    """Whether to tell an editor that change orders can be written once it is Approved."""
    return can_edit and commitment.status != CommitmentStatus.APPROVED


def sum_totals(all_totals) -> Totals:
    items = list(all_totals)
    return Totals(original=sum((t.original for t in items), ZERO),
                  approved_changes=sum((t.approved_changes for t in items), ZERO),
                  pending_changes=sum((t.pending_changes for t in items), ZERO),
                  hidden=sum(t.hidden for t in items))


# ---- commitments -------------------------------------------------------------------------------

def lock_commitment(commitment: Commitment) -> None:
    """Take the commitment's write lock, then read it again, before checking its ERP status.

    Send to ERP (workflow.erp) takes the same lock before it validates the lines, so an edit
    and a send of one commitment run one after the other: an edit never lands after a send
    validated the lines, and a send always validates the lines as they are after an edit.
    An UPDATE locks the row on PostgreSQL and the whole database on SQLite, where SELECT …
    FOR UPDATE does nothing. It writes the same version back, so an open form on the
    commitment is not made stale by it. Taken already in this transaction by
    ``locked_commitment`` (which read the commitment under it), it is not taken again."""
    if commitment.id in db.session.info.get(_LOCKED, ()):
        return
    db.session.execute(
        update(Commitment).where(Commitment.id == commitment.id)
        .values(version=Commitment.version)
        .execution_options(synchronize_session=False))
    db.session.refresh(commitment)


_LOCKED = "locked_commitments"  # session.info: the commitments locked in this transaction


def locked_commitment(commitment_id: int, project_id: int, *options) -> Commitment | None:
    """The project's commitment read under its write lock (``lock_commitment``'s UPDATE), with
    ``options``: a save that will lock it anyway reads once, under the lock, what it and its
    answer need (the lines, the vendor). None, and no lock, for another project's."""
    db.session.execute(
        update(Commitment).where(Commitment.id == commitment_id,
                                 Commitment.project_id == project_id)
        .values(version=Commitment.version)
        .execution_options(synchronize_session=False))
    commitment = db.session.execute(
        select(Commitment).where(Commitment.id == commitment_id,
                                 Commitment.project_id == project_id).options(*options)
        .execution_options(populate_existing=True)).unique().scalar_one_or_none()
    if commitment is not None:
        db.session.info.setdefault(_LOCKED, set()).add(commitment.id)
    return commitment


@event.listens_for(Session, "after_transaction_end")
def _locks_released(session: Session, transaction) -> None:
    if transaction.parent is None:  # the transaction, not a savepoint in it, ended
        session.info.pop(_LOCKED, None)


def _require_editable(commitment: Commitment) -> None:
    """Lock the commitment and refuse the change unless its ERP status lets it be edited."""
    lock_commitment(commitment)
    if not commitment.erp_editable:
        raise Locked(f"This commitment is {commitment.erp_status.label} in ERP Integrations "
                     "and cannot be changed here.")


def _validate_commitment(project: Project, data: CommitmentInput,
                         existing: Commitment | None) -> tuple[dict[str, str], Vendor | None]:
    errors: dict[str, str] = {}
    number = data.number = normalize_number(data.number)
    if not number:
        errors["number"] = "Enter a number."
    elif len(number) > MAX_COMMITMENT_NUMBER:
        errors["number"] = NUMBER_TOO_LONG
    else:
        clash = db.session.scalar(select(Commitment).where(
            Commitment.project_id == project.id, func.lower(Commitment.number) == number.lower()))
        if clash is not None and clash is not existing:
            errors["number"] = f"{clash.number} is already used on this project."
    if not data.title.strip():
        errors["title"] = "Enter a title."
    vendor = db.session.get(Vendor, data.vendor_id) if data.vendor_id else None
    if vendor is None or not may_choose(vendor, existing.vendor_id if existing else None):
        errors["vendor_id"] = "Choose a vendor."
    if data.status not in STATUSES_BY_TYPE[data.type]:
        errors["status"] = f"{data.status.label} is not a status of a {data.type.label}."
    return errors, vendor


def create_commitment(actor: User, project: Project, data: CommitmentInput) -> Commitment:
    require_project_role(actor, project, ProjectRole.STANDARD)
    errors, vendor = _validate_commitment(project, data, None)
    if errors:
        raise InvalidInput(errors)
    commitment = Commitment(project=project, vendor=vendor, type=data.type,
                            number=data.number.strip(), title=data.title.strip(),
                            description=data.description.strip(), status=data.status,
                            created_by_id=actor.id, updated_by=actor)
    history.record_created(actor, commitment, f"{data.type.label} {commitment.number}")
    return commitment


def update_commitment(actor: User, commitment: Commitment, data: CommitmentInput,
                      version: int | None) -> Commitment:
    require_project_role(actor, commitment.project, ProjectRole.STANDARD)
    _require_editable(commitment)
    check_version(commitment, version)
    errors, vendor = _validate_commitment(commitment.project, data, commitment)
    if errors:
        raise InvalidInput(errors)
    history.commit_changes(actor, commitment, commitment, {
        "type": data.type, "number": data.number.strip(), "title": data.title.strip(),
        "vendor": vendor, "status": data.status, "description": data.description.strip(),
    }, COMMITMENT_LABELS)
    return commitment


# ---- schedule of values ------------------------------------------------------------------------

def _validate_sov(data: SovInput, line: SovLine | None = None
                  ) -> tuple[dict[str, str], CostCode | None, Category | None]:
    """``line``: the line being edited, which may keep its own cost code and category."""
    errors: dict[str, str] = {}
    if not data.description.strip():
        errors["description"] = "Enter a description."
    cost_code, category = cost_code_and_category(data, errors, line=line)
    return errors, cost_code, category


def add_sov_line(actor: User, commitment: Commitment, data: SovInput) -> SovLine:
    require_project_role(actor, commitment.project, ProjectRole.STANDARD)
    _require_editable(commitment)
    errors, cost_code, category = _validate_sov(data)
    if errors:
        raise InvalidInput(errors)
    next_number = (db.session.scalar(select(func.max(SovLine.line_number))
                                     .where(SovLine.commitment_id == commitment.id)) or 0) + 1
    line = SovLine(commitment=commitment, line_number=next_number,
                   description=data.description.strip(), cost_code=cost_code, category=category,
                   amount=data.amount, updated_by=actor)
    history.record_added(actor, commitment, line, f"SOV line {next_number}",
                         f"{line.description}: {data.amount:,.2f}")
    return line


def update_sov_line(actor: User, line: SovLine, data: SovInput, version: int | None) -> SovLine:
    commitment = line.commitment
    require_project_role(actor, commitment.project, ProjectRole.STANDARD)
    _require_editable(commitment)
    check_version(line, version)
    errors, cost_code, category = _validate_sov(data, line)
    if errors:
        raise InvalidInput(errors)
    moved = _reclassified(line, cost_code, category)
    if moved:
        _require_no_cco_with_accounting(actor, line)
    withdrawn = []
    with committing(line):
        changed = history.record_changes(actor, commitment, line, {
            "description": data.description.strip(), "cost_code": cost_code,
            "category": category, "amount": data.amount,
        }, SOV_LABELS, prefix=f"SOV line {line.line_number} ")
        if changed:
            history.touch(actor, line)
        if moved:
            withdrawn = approvals.withdraw_for_sov_line(actor, line, moved)
    for cco in withdrawn:
        approvals.tell_reviewer(cco)
    return line


def _reclassified(line: SovLine, cost_code: CostCode | None,
                  category: Category | None) -> str | None:
    """The words for a change of the SOV line's cost code or category (where the money of the
    CCO lines that change it goes: docs/lifecycle.md, "Approval is a record"), or None."""
    moved = []
    if cost_code is not None and cost_code.id != line.cost_code_id:
        moved.append(f"cost code {line.cost_code.code} → {cost_code.code}")
    if category is not None and category.id != line.category_id:
        moved.append(f"category {line.category.name} → {category.name}")
    if not moved:
        return None
    return f"SOV line {line.line_number}. {line.description} " + ", ".join(moved)


IN_FLIGHT = (ErpStatus.READY_TO_EXPORT, ErpStatus.EXPORTING, ErpStatus.FAILED_TO_EXPORT)


def _require_no_cco_with_accounting(actor: User, line: SovLine) -> None:
    """A CCO with accounting (sent, exporting, failed) was approved with this SOV line's cost
    code and category: they stay until it comes back to the project."""
    busy = db.session.scalar(
        select(ChangeOrder).join(ChangeOrderLine)
        .where(ChangeOrderLine.sov_line_id == line.id, ChangeOrder.erp_status.in_(IN_FLIGHT))
        .order_by(ChangeOrder.id).limit(1))
    if busy is None:
        return
    which = (f"CCO #{busy.number}" if can_view(actor, busy)
             else "A commitment change order you can't view")
    raise Locked(f"{which} changes this line and is {busy.erp_status.label} in ERP "
                 "Integrations: the line keeps its cost code and category until it comes back "
                 "(Retrieve from ERP, or Reject).")


def delete_sov_line(actor: User, line: SovLine, version: int | None) -> None:
    commitment = line.commitment
    require_project_role(actor, commitment.project, ProjectRole.STANDARD)
    _require_editable(commitment)
    check_version(line, version, deleting=True)
    used_by = db.session.scalar(
        select(ChangeOrder).join(ChangeOrderLine).where(ChangeOrderLine.sov_line_id == line.id)
    )
    if used_by is not None:
        which = (f"CCO #{used_by.number}" if can_view(actor, used_by)
                 else "A commitment change order you can't view")
        raise InvalidInput({"sov_line": f"{which} changes this line, so it cannot be deleted."})
    with committing(line, deleting=True):
        history.record(actor, commitment, "changed", field=f"SOV line {line.line_number}",
                       old=f"{line.description}: {line.amount:,.2f}", new="deleted")
        db.session.delete(line)


def vendors_of(project: Project, chosen: int | None = None):
    """The list's vendor filter: the project's vendors by name, a bounded number of them
    (workflow/pages.py:vendor_choices), and the one chosen."""
    from models.list_totals import commitment_list_totals
    from workflow.pages import vendor_choices

    return vendor_choices(commitment_list_totals, project.id, chosen)
