"""Approval is a record (docs/lifecycle.md): what the designated reviewer approved, and whether
a CCO's lines are still exactly that.

When the reviewer approves, ``record_approval`` keeps who, when, each line's SOV line / cost
code / category / amount and the total. A later change that moves money or where it goes (an
amount, SOV line, cost code or category; a line added or deleted) withdraws it
(``withdraw_if_changed``, called by the line edits of workflow/change_orders.py inside their
transaction): the CCO is Pending - Revised again, the history says what changed, and the
reviewer gets a notice and an email. Send to ERP, Resend to ERP and Accept (workflow/erp.py)
refuse a CCO whose lines differ from its approval (``mismatch``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from extensions import db
from models import (
    ChangeOrder,
    ChangeOrderApproval,
    ChangeOrderLine,
    ChangeOrderStatus,
    Notice,
    NotificationKind,
    User,
)
from models.types import utcnow
from workflow import history, notifications, queue
from workflow.money import format_money

WITHDRAWN = "approval_withdrawn"  # the history action and the notice's ``about``


@dataclass(frozen=True)
class LineFacts:
    """One line as approved, or as it is now: what it changes, where, by how much."""

    line_id: int | None
    sov_line_id: int | None
    cost_code_id: int | None
    category_id: int | None
    amount: Decimal
    sov_line: str | None = None  # the words shown: "2. Footings"
    cost_code: str | None = None
    category: str | None = None
    description: str = ""
    # A line that changes an SOV line is charged to that SOV line's cost code and category:
    # re-classifying the SOV line moves the line's money too. (None in an approval recorded
    # before they were kept: not compared.)
    sov_cost_code_id: int | None = None
    sov_category_id: int | None = None

    @property
    def key(self) -> tuple:
        """What an approval covers; a description is not money and may change."""
        return (self.sov_line_id, self.cost_code_id, self.category_id, self.amount)

    @property
    def charged_to(self) -> tuple[int | None, int | None]:
        """The SOV line's cost code and category, for a line that changes one."""
        return (self.sov_cost_code_id, self.sov_category_id)

    def as_json(self) -> dict:
        return {"line_id": self.line_id, "sov_line_id": self.sov_line_id,
                "cost_code_id": self.cost_code_id, "category_id": self.category_id,
                "amount": f"{self.amount:.2f}", "sov_line": self.sov_line,
                "cost_code": self.cost_code, "category": self.category,
                "description": self.description,
                "sov_cost_code_id": self.sov_cost_code_id,
                "sov_category_id": self.sov_category_id}

    @classmethod
    def from_json(cls, data: dict) -> LineFacts:
        return cls(data.get("line_id"), data.get("sov_line_id"), data.get("cost_code_id"),
                   data.get("category_id"), Decimal(data["amount"]), data.get("sov_line"),
                   data.get("cost_code"), data.get("category"), data.get("description") or "",
                   data.get("sov_cost_code_id"), data.get("sov_category_id"))


def current_lines(cco: ChangeOrder, words: bool = True) -> list[LineFacts]:
    """The CCO's lines as they are; ``words=False`` reads only the columns (no SOV line, cost
    code or category is loaded: the inbox checks a page of cards in a fixed number of
    statements)."""
    facts = []
    for line in cco.lines:
        sov = line.sov_line if line.sov_line_id is not None else None
        charged = dict(sov_cost_code_id=sov.cost_code_id,
                       sov_category_id=sov.category_id) if sov else {}
        if not words:
            facts.append(LineFacts(line.id, line.sov_line_id, line.cost_code_id,
                                   line.category_id, line.amount, **charged))
            continue
        code, category = line.cost_code, line.category
        facts.append(LineFacts(
            line.id, line.sov_line_id, line.cost_code_id, line.category_id, line.amount,
            f"{sov.line_number}. {sov.description}" if sov else None,
            code.code if code else None, category.name if category else None,
            line.description, **charged))
    return facts


def _charged_elsewhere(old: LineFacts, now: LineFacts) -> bool:
    """Both change the same SOV line, and its cost code or category is not what the approval
    recorded (an approval recorded before they were kept is not compared)."""
    return (old.sov_line_id is not None and old.sov_line_id == now.sov_line_id
            and old.sov_cost_code_id is not None and old.charged_to != now.charged_to)


def _same(approved: list[LineFacts], now: list[LineFacts]) -> bool:
    if [(line.line_id, *line.key) for line in approved] != \
            [(line.line_id, *line.key) for line in now]:
        return False
    return not any(_charged_elsewhere(old, line) for old, line in zip(approved, now, strict=True))


def approved_lines(approval: ChangeOrderApproval) -> list[LineFacts]:
    return [LineFacts.from_json(item) for item in json.loads(approval.lines or "[]")]


def record_approval(actor: User, cco: ChangeOrder) -> ChangeOrderApproval:
    """Keep what ``actor`` approves now (in the caller's transaction)."""
    db.session.flush()
    lines = current_lines(cco)
    approval = ChangeOrderApproval(
        change_order_id=cco.id, approved_by=actor, approved_at=utcnow(),
        total=sum((line.amount for line in lines), Decimal("0.00")),
        lines=json.dumps([line.as_json() for line in lines]))
    db.session.add(approval)
    return approval


def _where(line: LineFacts) -> str:
    if line.sov_line:
        return f"SOV line {line.sov_line}"
    return f"{line.cost_code or '?'} {line.category or '?'}"


def differences(approved: list[LineFacts], now: list[LineFacts]) -> list[str]:
    """What moved between the approved lines and the lines now, in words, line by line:
    "line 2 $2,400.00 → $2,600.00". Lines are numbered as the CCO page lists them."""
    before = {line.line_id: (n, line) for n, line in enumerate(approved, 1)}
    seen = set()
    changes = []
    for n, line in enumerate(now, 1):
        old = before.get(line.line_id)
        if old is None:
            changes.append(f"line {n} added: {format_money(line.amount)} ({_where(line)})")
            continue
        seen.add(line.line_id)
        old = old[1]
        if old.sov_line_id != line.sov_line_id:
            changes.append(f"line {n} {_where(old)} → {_where(line)}")
        elif line.sov_line_id is None:
            if old.cost_code_id != line.cost_code_id:
                changes.append(f"line {n} cost code {old.cost_code} → {line.cost_code}")
            if old.category_id != line.category_id:
                changes.append(f"line {n} category {old.category} → {line.category}")
        elif _charged_elsewhere(old, line):  # its SOV line was re-classified
            if old.sov_cost_code_id != line.sov_cost_code_id:
                changes.append(f"line {n} cost code {old.cost_code} → {line.cost_code}")
            if old.sov_category_id != line.sov_category_id:
                changes.append(f"line {n} category {old.category} → {line.category}")
        if old.amount != line.amount:
            changes.append(f"line {n} {format_money(old.amount)} → {format_money(line.amount)}")
    for n, line in enumerate(approved, 1):
        if line.line_id not in seen:
            changes.append(f"line {n} deleted: {format_money(line.amount)} ({_where(line)})")
    return changes


def _total(lines: list[LineFacts]) -> Decimal:
    return sum((line.amount for line in lines), Decimal("0.00"))


def mismatch(cco: ChangeOrder) -> str | None:
    """Why an Approved CCO's lines are not what was approved, in words; None when they are."""
    if cco.status != ChangeOrderStatus.APPROVED:
        return None
    approval = cco.approval
    if approval is None:
        return ("There is no record of what was approved; the designated reviewer must "
                "approve it again.")
    approved = approved_lines(approval)
    if _same(approved, current_lines(cco, words=False)) and _total(approved) == approval.total:
        return None
    changes = differences(approved, current_lines(cco))
    who = approval.approved_by.name if approval.approved_by else "the reviewer"
    return (f"Its lines are not what {who} approved on {approval.approved_at:%Y-%m-%d} for "
            f"{format_money(approval.total)} ({'; '.join(changes) or 'the total differs'}); "
            "it must be approved again.")


def withdraw_if_changed(actor: User, cco: ChangeOrder, moved: str | None = None) -> str | None:
    """After a line change (flushed, not committed): if it moved money or where it goes on an
    Approved CCO, withdraw the approval (Pending - Revised), history, a notice for the
    reviewer (the email is queued by ``tell_reviewer`` after the commit). What changed, or
    None. ``moved``: the words of a change made elsewhere that moved this CCO's money (an SOV
    line it changes re-classified); it withdraws the approval even if the approval is too old
    to have recorded what it changes."""
    if cco.status != ChangeOrderStatus.APPROVED:
        return None
    db.session.flush()
    db.session.expire(cco, ["lines", "approval"])
    approval = cco.approval
    approved = approved_lines(approval) if approval else []
    if approval is not None and not moved and _same(approved, current_lines(cco, words=False)):
        return None
    changes = differences(approved, current_lines(cco)) or [moved or "the lines changed"]
    what = "; ".join(changes)
    if approval is not None:
        approval.withdrawn_at = utcnow()
        approval.withdrawn_by = actor
        approval.withdrawn_because = what
        db.session.expire(cco, ["approval"])  # none is in force now (a save may keep the CCO)
    history.record(actor, cco, WITHDRAWN, field="Status", old=ChangeOrderStatus.APPROVED,
                   new=ChangeOrderStatus.PENDING_REVISED,
                   comment=f"Approval withdrawn: {what}")
    cco.status = ChangeOrderStatus.PENDING_REVISED
    reviewer = _reviewer(approval, cco)
    if reviewer is not None and reviewer.id != actor.id:
        db.session.add(Notice(
            user_id=reviewer.id, subject_type="change_order", subject_id=cco.id, about=WITHDRAWN,
            message=(f"{actor.name} changed CCO #{cco.number} of {cco.commitment.number} "
                     f"({cco.title}) after you approved it: {what}. Your approval is withdrawn; "
                     "review it again."),
            link=page_path(cco)))
    notifications.record(NotificationKind.WITHDRAWN, "change_order", cco.id)
    return what


def withdraw_for_sov_line(actor: User, sov_line, moved: str) -> list[ChangeOrder]:
    """After the cost code or category of ``sov_line`` changed (not committed): withdraw the
    approval of every Approved CCO with a line that changes it, since that line's money now
    goes to another cost code or category. The CCOs whose approval was withdrawn (tell their
    reviewers after the commit)."""
    db.session.flush()
    ccos = db.session.scalars(
        select(ChangeOrder).where(ChangeOrder.status == ChangeOrderStatus.APPROVED,
                                  ChangeOrder.id.in_(
                                      select(ChangeOrderLine.change_order_id)
                                      .where(ChangeOrderLine.sov_line_id == sov_line.id)))
        .order_by(ChangeOrder.id)).all()
    return [cco for cco in ccos if withdraw_if_changed(actor, cco, moved)]


def _reviewer(approval: ChangeOrderApproval | None, cco: ChangeOrder) -> User | None:
    """Who approved it (the designated reviewer, or the project admin who did)."""
    if approval is not None and approval.approved_by is not None:
        return approval.approved_by
    return cco.reviewed_by or cco.designated_reviewer


def tell_reviewer(cco: ChangeOrder) -> None:
    """After the commit of a withdrawal (its email row written with it): ask the worker to mail
    it now; the worker's regular pass mails it anyway if the queue is down."""
    queue.mail_notifications(f"email: approval withdrawn {cco.id}")


def page_path(cco: ChangeOrder) -> str:
    commitment = cco.commitment
    return (f"/projects/{commitment.project_id}/commitments/{commitment.id}"
            f"/change-orders/{cco.id}")
