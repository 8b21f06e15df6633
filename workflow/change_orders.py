"""Commitment change orders: numbering, edits, lines, review, visibility."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select, update

from extensions import db
from models import (
    EDITOR_SETTABLE_CCO_STATUSES,
    REVIEWABLE_CCO_STATUSES,
    ChangeEventLine,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CommitmentStatus,
    ProjectMembership,
    ProjectRole,
    SovLine,
    User,
)
from models.types import utcnow
from workflow import approvals, history, notices
from workflow.errors import InvalidInput, Locked, PermissionDenied
from workflow.locking import check_version, committing
from workflow.numbering import next_number
from workflow.permissions import has_project_role, project_role, require_project_role
from workflow.reference import cost_code_and_category

CCO_LABELS = {"title": "Title", "description": "Description", "change_reason": "Change reason",
              "status": "Status", "designated_reviewer": "Designated reviewer",
              "due_date": "Due date", "executed": "Executed", "private": "Private",
              "viewers": "Visible to"}
LINE_LABELS = {"description": "Description", "amount": "Amount", "sov_line": "SOV line",
               "cost_code_own": "Cost code", "category_own": "Category"}

# A due date is a date of this business: between these, inclusive (said next to the field).
EARLIEST_DUE_DATE = date(2000, 1, 1)
LATEST_DUE_DATE = date(2099, 12, 31)
DUE_DATE_RANGE = (f"A date from {EARLIEST_DUE_DATE.isoformat()} to "
                  f"{LATEST_DUE_DATE.isoformat()}.")

CHANGE_REASONS = ("Client Request", "Design Development", "Allowance", "Existing Condition",
                  "Backcharge", "Owner Change", "Unforeseen Condition", "Value Engineering",
                  "Other")


@dataclass
class ChangeOrderInput:
    title: str
    description: str = ""
    change_reason: str = ""
    status: ChangeOrderStatus = ChangeOrderStatus.DRAFT
    designated_reviewer_id: int | None = None
    due_date: date | None = None
    executed: bool = False
    private: bool = False
    viewer_ids: list[int] = field(default_factory=list)


@dataclass
class LineInput:
    """``sov_line_id`` set: modify that SOV line; None: add a new line (cost code + category)."""

    sov_line_id: int | None
    description: str
    amount: Decimal
    cost_code_id: int | None = None
    category_id: int | None = None


# ---- visibility and who may do what ----------------------------------------------------------

def can_view(user: User, cco: ChangeOrder) -> bool:
    project = cco.commitment.project
    if not has_project_role(user, project, ProjectRole.READ_ONLY):
        return False
    if not cco.private or has_project_role(user, project, ProjectRole.ADMIN):
        return True
    return user.id in {cco.created_by_id, cco.designated_reviewer_id} | {v.id for v in cco.viewers}


def private_filter(user: User):
    """SQL: the CCOs ``user`` may see among those of any project (can_view for lists; the
    inbox shows approvers every CCO that is not private to others)."""
    from sqlalchemy import and_, exists, false, or_, true

    from models import cco_viewers

    if user.is_company_admin:
        return true()
    project_admin = exists().where(
        ProjectMembership.user_id == user.id, ProjectMembership.role == ProjectRole.ADMIN,
        ProjectMembership.project_id == Commitment.project_id)
    member = exists().where(ProjectMembership.user_id == user.id,
                            ProjectMembership.project_id == Commitment.project_id)
    listed = exists().where(cco_viewers.c.change_order_id == ChangeOrder.id,
                            cco_viewers.c.user_id == user.id)
    # Its creator, reviewer or a listed viewer only while a member (as can_view): one removed
    # from the project is no longer told of it (inbox, emails, digest).
    return or_(ChangeOrder.private == false(), project_admin,
               and_(member, or_(ChangeOrder.created_by_id == user.id,
                                ChangeOrder.designated_reviewer_id == user.id, listed)))


def visible_change_orders(user: User, commitment: Commitment) -> list[ChangeOrder]:
    return [cco for cco in commitment.change_orders if can_view(user, cco)]


def can_edit(user: User, cco: ChangeOrder) -> bool:
    return (has_project_role(user, cco.commitment.project, ProjectRole.STANDARD)
            and can_view(user, cco) and cco.erp_editable)


def lines_locked_reason(cco: ChangeOrder) -> str | None:
    """Why the lines of this CCO cannot change now, or None.

    docs/lifecycle.md: the ERP axis decides. An Approved CCO that is "Not Sent", or that accounting
    rejected, stays editable so it can be corrected and (re)sent.
    """
    if not cco.erp_editable:
        return (f"This change order is {cco.erp_status.label} in ERP Integrations and "
                "cannot be changed.")
    return None


def can_edit_lines(user: User, cco: ChangeOrder) -> bool:
    return can_edit(user, cco) and lines_locked_reason(cco) is None


def reviewers_of(cco: ChangeOrder) -> str:
    if cco.designated_reviewer:
        return cco.designated_reviewer.name
    return "a project admin"


def can_review(user: User, cco: ChangeOrder) -> bool:
    """The designated reviewer while they still hold standard rights or more on the project
    (read now, so one demoted to read-only no longer reviews); when none is named, a project
    admin."""
    if cco.status not in REVIEWABLE_CCO_STATUSES or not can_view(user, cco):
        return False
    if not has_project_role(user, cco.commitment.project, ProjectRole.STANDARD):
        return False
    if cco.designated_reviewer_id is not None:
        return user.id == cco.designated_reviewer_id
    return project_role(user, cco.commitment.project) == ProjectRole.ADMIN


def review_stage(cco: ChangeOrder) -> str:
    """Where the CCO's review is: "decided" (Approved or Rejected), "waiting" for the designated
    reviewer, or "not_asked" yet."""
    if cco.status in (ChangeOrderStatus.APPROVED, ChangeOrderStatus.REJECTED):
        return "decided"
    if cco.status in REVIEWABLE_CCO_STATUSES:
        return "waiting"
    return "not_asked"


def eligible_reviewers(commitment: Commitment) -> list[User]:
    """Project members with at least standard rights, who may be named reviewer."""
    return list(db.session.scalars(
        select(User).join(ProjectMembership)
        .where(ProjectMembership.project_id == commitment.project_id,
               ProjectMembership.role.in_([ProjectRole.STANDARD, ProjectRole.ADMIN]),
               User.active.is_(True))
        .order_by(User.name)
    ))


def project_people(commitment: Commitment) -> list[User]:
    return list(db.session.scalars(
        select(User).join(ProjectMembership)
        .where(ProjectMembership.project_id == commitment.project_id, User.active.is_(True))
        .order_by(User.name)
    ))


def _require_edit(actor: User, cco: ChangeOrder) -> None:
    require_project_role(actor, cco.commitment.project, ProjectRole.STANDARD)
    if not can_view(actor, cco):
        raise PermissionDenied()
    if not cco.erp_editable:
        raise Locked(f"This change order is {cco.erp_status.label} in ERP Integrations and "
                     "cannot be changed.")


# ---- creating and editing ----------------------------------------------------------------------

def _validate(actor: User, commitment: Commitment, data: ChangeOrderInput,
              existing: ChangeOrder | None) -> tuple[dict[str, str], User | None, list[User]]:
    errors: dict[str, str] = {}
    if not data.title.strip():
        errors["title"] = "Enter a title."
    if data.due_date is not None and not EARLIEST_DUE_DATE <= data.due_date <= LATEST_DUE_DATE:
        errors["due_date"] = DUE_DATE_RANGE
    current = existing.status if existing else None
    if data.status != current:
        if current in (ChangeOrderStatus.APPROVED,):
            errors["status"] = "An approved change order keeps its status."
        elif data.status not in EDITOR_SETTABLE_CCO_STATUSES:
            errors["status"] = (f"Only the designated reviewer can set {data.status.label}; "
                                "choose Pending – In Review to ask for review.")
        elif current == ChangeOrderStatus.VOID:
            # Voiding freed its change event items; one may be on another live CCO by now.
            conflict = unvoid_conflict(actor, existing)
            if conflict:
                errors["status"] = conflict
    people = {u.id: u for u in project_people(commitment)}
    reviewer = None
    if data.designated_reviewer_id:
        reviewer = {u.id: u for u in eligible_reviewers(commitment)}.get(
            data.designated_reviewer_id)
        if reviewer is None:
            errors["designated_reviewer_id"] = "Choose a project member with standard or " \
                                               "admin rights."
    viewers = [people[i] for i in data.viewer_ids if i in people]
    if len(viewers) != len(set(data.viewer_ids)):
        errors["viewer_ids"] = "Choose project members only."
    return errors, reviewer, viewers


def create_change_order(actor: User, commitment: Commitment,
                        data: ChangeOrderInput, *, commit: bool = True) -> ChangeOrder:
    """``commit=False`` leaves the transaction open for a caller that adds lines in it."""
    require_project_role(actor, commitment.project, ProjectRole.STANDARD)
    if commitment.status != CommitmentStatus.APPROVED:
        raise Locked(f"Change orders can be written only on an Approved commitment; "
                     f"{commitment.number} is {commitment.status.label}.")
    errors, reviewer, viewers = _validate(actor, commitment, data, None)
    if errors:
        raise InvalidInput(errors)
    cco = ChangeOrder(
        commitment=commitment,
        number=next_number(commitment, "last_cco_number", ChangeOrder.number,
                           ChangeOrder.commitment_id),
        title=data.title.strip(),
        description=data.description.strip(), change_reason=data.change_reason,
        status=data.status, designated_reviewer=reviewer, due_date=data.due_date,
        executed=data.executed, private=data.private, viewers=viewers,
        created_by=actor, updated_by=actor,
    )
    history.record_created(actor, cco, f"CCO #{cco.number} {cco.title}", commit=commit)
    return cco


def update_change_order(actor: User, cco: ChangeOrder, data: ChangeOrderInput,
                        version: int | None) -> ChangeOrder:
    _require_edit(actor, cco)
    check_version(cco, version)
    errors, reviewer, viewers = _validate(actor, cco.commitment, data, cco)
    if errors:
        raise InvalidInput(errors)
    with committing(cco):
        changed = history.record_changes(actor, cco, cco, {
            "title": data.title.strip(), "description": data.description.strip(),
            "change_reason": data.change_reason, "status": data.status,
            "designated_reviewer": reviewer, "due_date": data.due_date,
            "executed": data.executed, "private": data.private,
        }, CCO_LABELS)
        if {v.id for v in viewers} != {v.id for v in cco.viewers}:
            history.record(actor, cco, "changed", field="Visible to",
                           old=", ".join(v.name for v in cco.viewers),
                           new=", ".join(v.name for v in viewers))
            cco.viewers = viewers
            changed.append("viewers")
        if changed:
            history.touch(actor, cco)
    return cco


# ---- lines -------------------------------------------------------------------------------------

def _require_line_edit(actor: User, cco: ChangeOrder) -> None:
    _require_edit(actor, cco)
    reason = lines_locked_reason(cco)
    if reason:
        raise Locked(reason)


def _validate_line(cco: ChangeOrder, data: LineInput, line: ChangeOrderLine | None = None):
    """``line``: the line being edited, which may keep its own cost code and category."""
    errors: dict[str, str] = {}
    sov_line = cost_code = category = None
    if data.sov_line_id is not None:
        sov_line = db.session.get(SovLine, data.sov_line_id)
        if sov_line is None or sov_line.commitment_id != cco.commitment_id:
            errors["sov_line_id"] = "Choose a line of this commitment's schedule of values."
    else:
        cost_code, category = cost_code_and_category(data, errors, "A new line needs a {}.",
                                                 line)
    description = data.description.strip() or (sov_line.description if sov_line else "")
    if not description:
        errors["description"] = "Enter a description."
    return errors, sov_line, cost_code, category, description


def add_line(actor: User, cco: ChangeOrder, data: LineInput) -> ChangeOrderLine:
    _require_line_edit(actor, cco)
    errors, sov_line, cost_code, category, description = _validate_line(cco, data)
    if errors:
        raise InvalidInput(errors)
    line = ChangeOrderLine(change_order=cco, sov_line=sov_line, cost_code_own=cost_code,
                           category_own=category, description=description, amount=data.amount,
                           updated_by=actor)
    db.session.add(line)
    history.record(actor, cco, "changed", field="Line added",
                   new=f"{description}: {data.amount:,.2f}")
    history.touch(actor, cco)
    withdrawn = approvals.withdraw_if_changed(actor, cco)
    db.session.commit()
    if withdrawn:
        approvals.tell_reviewer(cco)
    return line


def update_line(actor: User, line: ChangeOrderLine, data: LineInput,
                version: int | None) -> ChangeOrderLine:
    cco = line.change_order
    _require_line_edit(actor, cco)
    check_version(line, version)
    errors, sov_line, cost_code, category, description = _validate_line(cco, data, line)
    if errors:
        raise InvalidInput(errors)
    withdrawn = None
    with committing(line):
        changed = history.record_changes(actor, cco, line, {
            "sov_line": sov_line, "cost_code_own": cost_code, "category_own": category,
            "description": description, "amount": data.amount,
        }, LINE_LABELS, prefix="Line ")
        if changed:
            history.touch(actor, line, cco)
            withdrawn = approvals.withdraw_if_changed(actor, cco)
    if withdrawn:
        approvals.tell_reviewer(cco)
    return line


def delete_line(actor: User, line: ChangeOrderLine, version: int | None) -> None:
    cco = line.change_order
    _require_line_edit(actor, cco)
    check_version(line, version, deleting=True)
    withdrawn = None
    with committing(line, deleting=True):
        history.record(actor, cco, "changed", field="Line deleted",
                       old=f"{line.description}: {line.amount:,.2f}")
        db.session.delete(line)
        history.touch(actor, cco)
        withdrawn = approvals.withdraw_if_changed(actor, cco)
    if withdrawn:
        approvals.tell_reviewer(cco)


# ---- review ------------------------------------------------------------------------------------

def review(actor: User, cco: ChangeOrder, *, approve: bool, comment: str,
           version: int | None) -> ChangeOrder:
    """The designated reviewer approves or rejects a CCO that is pending review."""
    if cco.status not in REVIEWABLE_CCO_STATUSES:
        raise Locked(f"This change order is {cco.status.label}; only one that is Pending – In "
                     "Review or Pending – Revised can be approved or rejected.")
    if not can_review(actor, cco):
        raise PermissionDenied(f"Only {reviewers_of(cco)} can review this change order.")
    check_version(cco, version)
    new_status = ChangeOrderStatus.APPROVED if approve else ChangeOrderStatus.REJECTED
    with committing(cco):
        history.record(actor, cco, "approved" if approve else "rejected", field="Status",
                       old=cco.status, new=new_status, comment=comment.strip() or None)
        cco.status = new_status
        cco.review_comment = comment.strip() or None
        cco.reviewed_by = actor
        cco.reviewed_at = utcnow()
        history.touch(actor, cco)
        if approve:
            approvals.record_approval(actor, cco)
        notices.settle("change_order", cco.id, approvals.WITHDRAWN)
    return cco


# ---- lines made from change event items --------------------------------------------------------

def with_change_order():
    """Loader options: a CCO line with its CCO, commitment, project and viewers (what a page
    names or checks of it), read with the line."""
    from sqlalchemy.orm import joinedload

    cco = joinedload(ChangeOrderLine.change_order)
    return (cco.joinedload(ChangeOrder.commitment).joinedload(Commitment.project),
            cco.selectinload(ChangeOrder.viewers))


def live_cco_lines(item_ids) -> dict[int, ChangeOrderLine]:
    """For each line item on a live CCO (status not Void), the CCO line made from it."""
    ids = list(item_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        select(ChangeOrderLine).join(ChangeOrder)
        .where(ChangeOrderLine.change_event_line_id.in_(ids),
               ChangeOrder.status != ChangeOrderStatus.VOID)
        .options(*with_change_order()).order_by(ChangeOrderLine.id))
    found: dict[int, ChangeOrderLine] = {}
    for line in rows:
        found.setdefault(line.change_event_line_id, line)
    return found


HIDDEN_CCO = "another commitment change order you can't view"


def used_on_message(item: ChangeEventLine, cco_line: ChangeOrderLine, viewer: User) -> str:
    """Where the item is used, naming the CCO only to someone who may see it (it may be
    private)."""
    cco = cco_line.change_order
    if can_view(viewer, cco):
        return f"{item.label} is already on CCO #{cco.number} of {cco.commitment.number}."
    return f"{item.label} is already on {HIDDEN_CCO}."


def lock_change_event_items(ids: list[int]) -> None:
    """Take the write lock on these line items before checking where they are used.

    An UPDATE locks the rows on PostgreSQL and the whole database on SQLite, where
    SELECT … FOR UPDATE does nothing: a second transaction waits here until the first commits,
    then sees its CCO lines. It writes the same version back, so a form open on the item is
    not made stale by it. Sorted ids keep the lock order the same for everyone."""
    for item_id in sorted(set(ids)):
        db.session.execute(
            update(ChangeEventLine).where(ChangeEventLine.id == item_id)
            .values(version=ChangeEventLine.version)
            .execution_options(synchronize_session=False))


def unvoid_conflict(actor: User, cco: ChangeOrder) -> str | None:
    """Why a Void CCO cannot come back to life: one of its items is on another live CCO.
    The items are write-locked first, as for "Create Commitment CO" (workflow/change_events.py)."""
    item_ids = [line.change_event_line_id for line in cco.lines if line.change_event_line_id]
    lock_change_event_items(item_ids)
    for item_id, other in live_cco_lines(item_ids).items():
        if other.change_order_id != cco.id:
            item = db.session.get(ChangeEventLine, item_id)
            return used_on_message(item, other, actor) + " Keep this change order Void."
    return None
