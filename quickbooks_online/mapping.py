"""Our records → QuickBooks PurchaseOrder JSON (docs/quickbooks.md, "Mapping"), and what must
be put right before a commitment or a CCO can be sent.

Payloads are plain JSON dicts sent through python-quickbooks' ``create_object`` /
``update_object``: that way a sparse update carries exactly the fields we own and never the
library's defaults (its ``to_json()`` would send ``"Line": []`` and friends).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, func, select, tuple_

from extensions import db
from models import (
    ChangeOrder,
    Commitment,
    CostMapping,
    ErpStatus,
    Project,
    QboConnection,
    QboRecord,
    SovLine,
)
from models.limits import DOC_NUMBER_LIMIT
from quickbooks_online.company import elsewhere, elsewhere_message
from quickbooks_online.connection import get_connection
from quickbooks_online.marker import Marker, join_note

SALES_ONLY = "sales only"  # QboRecord.detail prefix of an item with no expense account
ZERO = Decimal("0.00")


class Blocker(str):
    """Something that stops a send, in words, and where it is put right: ``fix`` a key of
    blueprints.commitments.erp_panel.FIXES (or None), ``where`` the ids that key needs to
    name the exact place (a line's id, a project's, a cost code and category…)."""

    fix: str | None
    where: dict

    def __new__(cls, message: str, fix: str | None = None, **where) -> Blocker:
        blocker = super().__new__(cls, message)
        blocker.fix = fix
        blocker.where = where
        return blocker

    @property
    def message(self) -> str:
        return str(self)


def not_mapped(code, category) -> str:
    """What stops a line whose (cost code, category) has no QuickBooks item or account."""
    return f"{code.code} {category.name} is not mapped to a QuickBooks item or account."


def mappings_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], CostMapping]:
    """The mappings of these (cost code, category) pairs, in one query."""
    if not pairs:
        return {}
    rows = db.session.scalars(select(CostMapping).where(
        tuple_(CostMapping.cost_code_id, CostMapping.category_id).in_(sorted(pairs))))
    return {(m.cost_code_id, m.category_id): m for m in rows}


def _mappings_and_sales_only(pairs: set[tuple[int, int]], realm_id: str | None
                             ) -> tuple[dict[tuple[int, int], CostMapping], set[str]]:
    """The mappings of these pairs and which of their items QuickBooks only sells, in one
    query however many lines use them."""
    if not pairs:
        return {}, set()
    sales_only = and_(QboRecord.realm_id == (realm_id or ""), QboRecord.entity == "Item",
                      QboRecord.qbo_id == CostMapping.qbo_item_id,
                      QboRecord.detail.startswith(SALES_ONLY))
    rows = db.session.execute(
        select(CostMapping, QboRecord.qbo_id).outerjoin(QboRecord, sales_only)
        .where(tuple_(CostMapping.cost_code_id, CostMapping.category_id).in_(sorted(pairs))))
    found, refused = {}, set()
    for mapping, sold_only in rows:
        found[(mapping.cost_code_id, mapping.category_id)] = mapping
        if sold_only is not None and realm_id:
            refused.add(sold_only)
    return found, refused


def _connection_blockers(connection: QboConnection | None) -> list[Blocker]:
    if connection is None or not connection.is_connected:
        return [Blocker("QuickBooks is not connected (ERP Integrations → Settings).",
                        "erp.connection")]
    if not connection.ap_account_id:
        return [Blocker("No AP account is chosen in ERP Integrations → Settings.",
                        "erp.ap_account")]
    return []


def _cost_blockers(pairs: list[tuple[object, object]], connection) -> list[Blocker]:
    """Each (cost code, category) used must map to an item that can be bought, or an account."""
    problems = []
    found, sales_only = _mappings_and_sales_only(
        {(code.id, category.id) for code, category in pairs},
        connection.realm_id if connection else None)
    seen = set()
    for code, category in pairs:
        key = (code.id, category.id)
        if key in seen:
            continue
        seen.add(key)
        mapping = found.get(key)
        if mapping is None:
            problems.append(Blocker(not_mapped(code, category), "erp.mapping",
                                    cost_code_id=code.id, category_id=category.id))
        elif mapping.qbo_item_id in sales_only:
            problems.append(Blocker(
                f"{code.code} {category.name} is mapped to {mapping.qbo_name}, an item "
                "QuickBooks sells but cannot buy (it has no expense account). Map it to a "
                "purchasable item or an expense account.", "erp.mapping",
                cost_code_id=code.id, category_id=category.id))
    return problems


def _company_blockers(commitment: Commitment, *, of_change_order: bool = False
                      ) -> list[Blocker]:
    """Its PurchaseOrder is another QuickBooks company's: Unlink, on the commitment's ERP
    panel, is the way forward (docs/quickbooks.md, "Switching QuickBooks company")."""
    if elsewhere(commitment):
        return [Blocker(elsewhere_message(commitment, of_change_order=of_change_order),
                        "commitment_erp")]
    return []


def _link_blockers(commitment: Commitment) -> list[Blocker]:
    problems = []
    if not commitment.project.qbo_customer_id:
        problems.append(Blocker(f"Project {commitment.project.number} is not linked to a "
                                "QuickBooks customer or job.", "erp.project_link",
                                project_id=commitment.project_id))
    if not commitment.vendor.qbo_vendor_id:
        problems.append(Blocker(f"Vendor {commitment.vendor.name} is not linked to a "
                                "QuickBooks vendor.", "erp.vendor_link",
                                vendor_id=commitment.vendor_id))
    return problems


def doc_number_blockers(commitment: Commitment) -> list[Blocker]:
    """DocNumbers are unique per QuickBooks company, commitment numbers only per project."""
    doc_number = commitment.doc_number
    if len(doc_number) > DOC_NUMBER_LIMIT:
        return [Blocker(f"The QuickBooks DocNumber {doc_number} would be longer than "
                        f"{DOC_NUMBER_LIMIT} characters; shorten the project's DocNumber "
                        "prefix or the commitment number.", "admin.project_prefix",
                        project_id=commitment.project_id)]
    others = db.session.execute(
        select(Commitment.number, Project.number, Project.qbo_doc_prefix)
        .join(Project, Project.id == Commitment.project_id)
        .where(Commitment.id != commitment.id,
               Commitment.erp_status != ErpStatus.NOT_SENT,
               (Project.qbo_doc_prefix + Commitment.number) == doc_number)).first()
    if others is not None:
        return [Blocker(
            f"Commitment {others[0]} of project {others[1]} already uses DocNumber "
            f"{doc_number} in QuickBooks. Give project {commitment.project.number} a "
            "DocNumber prefix (Admin → Projects) so its purchase orders get numbers of their "
            "own.", "admin.project_prefix", project_id=commitment.project_id)]
    return []


def commitment_blockers(commitment: Commitment) -> list[Blocker]:
    """Everything unmapped, unset or refused by QuickBooks that stops this commitment."""
    connection = get_connection()
    problems = _connection_blockers(connection) + _company_blockers(commitment) \
        + _link_blockers(commitment)
    if not commitment.qbo_link:  # a linked PO keeps its own DocNumber (links.vendor_problem)
        problems += doc_number_blockers(commitment)
    if not commitment.sov_lines:
        problems.append(Blocker("The schedule of values has no lines.", "sov_new"))
    for line in commitment.sov_lines:
        if line.amount < 0:
            problems.append(Blocker(f"SOV line {line.line_number} is negative "
                                    f"({line.amount:,.2f}); QuickBooks refuses negative "
                                    "purchase order lines.", "sov_line", line_id=line.id))
    problems += _cost_blockers([(line.cost_code, line.category) for line in commitment.sov_lines],
                               connection)
    return problems


def synced_changes(commitment: Commitment) -> dict[int, Decimal]:
    """SOV line id → the sum of the changes of this commitment's CCOs already in QuickBooks."""
    return synced_changes_by_commitment([commitment.id]).get(commitment.id, {})


def synced_changes_by_commitment(commitment_ids: list[int]) -> dict[int, dict[int, Decimal]]:
    """Commitment → SOV line → the sum of its CCO changes already in QuickBooks, one query."""
    from models import ChangeOrderLine

    if not commitment_ids:
        return {}
    rows = db.session.execute(
        select(ChangeOrder.commitment_id, ChangeOrderLine.sov_line_id,
               func.sum(ChangeOrderLine.amount))
        .join(ChangeOrder, ChangeOrder.id == ChangeOrderLine.change_order_id)
        .where(ChangeOrder.commitment_id.in_(commitment_ids),
               ChangeOrder.erp_status == ErpStatus.SYNCED,
               ChangeOrderLine.sov_line_id.is_not(None))
        .group_by(ChangeOrder.commitment_id, ChangeOrderLine.sov_line_id)).all()
    result: dict[int, dict[int, Decimal]] = {}
    for commitment_id, sov_line_id, total in rows:
        result.setdefault(commitment_id, {})[sov_line_id] = Decimal(total)
    return result


def change_order_sums(cco: ChangeOrder) -> dict[int, Decimal]:
    """SOV line id → the sum of this CCO's changes to it (QuickBooks takes one per line)."""
    sums: dict[int, Decimal] = {}
    for line in cco.lines:
        if line.sov_line_id is not None:
            sums[line.sov_line_id] = sums.get(line.sov_line_id, ZERO) + line.amount
    return sums


def change_order_blockers(cco: ChangeOrder) -> list[Blocker]:
    commitment = cco.commitment
    connection = get_connection()
    problems = _connection_blockers(connection) \
        + _company_blockers(commitment, of_change_order=True) + _link_blockers(commitment)
    if commitment.erp_status != ErpStatus.SYNCED or not commitment.qbo_purchase_order_id:
        problems.append(Blocker(f"Commitment {commitment.number} must be Synced to QuickBooks "
                                f"first (it is {commitment.erp_status.label}).",
                                "commitment_erp"))
    if not cco.lines:
        problems.append(Blocker("The change order has no lines.", "cco_line_new"))
    before = synced_changes(commitment)
    changed = {line.sov_line_id: line.sov_line for line in cco.lines if line.sov_line_id}
    first_on = {}  # SOV line id -> this CCO's first line that changes it (where it is fixed)
    for line in cco.lines:
        if line.sov_line_id:
            first_on.setdefault(line.sov_line_id, line.id)
    for sov_line_id, change in change_order_sums(cco).items():
        sov_line = changed[sov_line_id]
        after = sov_line.amount + before.get(sov_line_id, ZERO) + change
        if after < 0:
            problems.append(Blocker(
                f"SOV line {sov_line.line_number} would go below zero ({after:,.2f}); "
                "QuickBooks refuses negative purchase order lines.", "cco_line",
                line_id=first_on[sov_line_id]))
    for line in cco.lines:
        if line.sov_line_id is None and line.amount < 0:
            problems.append(Blocker(f"The new line \u201c{line.description}\u201d is negative "
                                    f"({line.amount:,.2f}); QuickBooks refuses negative "
                                    "purchase order lines.", "cco_line", line_id=line.id))
        if line.cost_code is None or line.category is None:
            problems.append(Blocker(f"The line \u201c{line.description}\u201d needs a cost code "
                                    "and a category.", "cco_line", line_id=line.id))
    problems += _cost_blockers([(line.cost_code, line.category) for line in cco.lines
                                if line.cost_code is not None and line.category is not None],
                               connection)
    return problems


# ---- JSON payloads ------------------------------------------------------------------------------

def money(amount: Decimal) -> float:
    """A JSON number for an amount of two decimals (float's repr keeps them exact)."""
    return float(amount.quantize(Decimal("0.01")))


def ref(value: str) -> dict:
    return {"value": str(value)}


def line_payload(description: str, amount: Decimal, mapping: CostMapping,
                 customer_id: str) -> dict:
    """One expense line, billed to the job: an item line (Qty 1) or an account line."""
    if mapping.qbo_item_id:
        detail_type = "ItemBasedExpenseLineDetail"
        detail = {"ItemRef": ref(mapping.qbo_item_id), "Qty": 1, "UnitPrice": money(amount)}
    else:
        detail_type = "AccountBasedExpenseLineDetail"
        detail = {"AccountRef": ref(mapping.qbo_account_id)}
    detail.update(BillableStatus="NotBillable", CustomerRef=ref(customer_id))
    return {"DetailType": detail_type, "Amount": money(amount),
            "Description": description[:4000], detail_type: detail}


def set_amount(line: dict, amount: Decimal) -> dict:
    """A PO line as read, with a new amount (an item line's UnitPrice follows its Qty)."""
    line = dict(line)
    line["Amount"] = money(amount)
    detail = line.get("ItemBasedExpenseLineDetail")
    if isinstance(detail, dict):
        detail = dict(detail)
        qty = Decimal(str(detail.get("Qty") or 1)) or Decimal(1)
        detail["UnitPrice"] = float((amount / qty).quantize(Decimal("0.0000001")))
        line["ItemBasedExpenseLineDetail"] = detail
    return line


def sov_line_description(line: SovLine) -> str:
    return f"{line.line_number}. {line.description}"


def cco_line_description(cco: ChangeOrder, description: str) -> str:
    return f"CCO {cco.number}: {description}"


def sov_lines_payload(commitment: Commitment) -> list[tuple[SovLine, dict]]:
    mappings = mappings_for({(line.cost_code_id, line.category_id)
                             for line in commitment.sov_lines})
    customer = commitment.project.qbo_customer_id
    return [(line, line_payload(sov_line_description(line), line.amount,
                                mappings[(line.cost_code_id, line.category_id)], customer))
            for line in commitment.sov_lines]


def purchase_order_payload(commitment: Commitment, connection: QboConnection,
                           user_note: str = "") -> dict:
    """A new PurchaseOrder: one line per SOV line, DocNumber = the commitment's."""
    return {
        "DocNumber": commitment.doc_number,
        "VendorRef": ref(commitment.vendor.qbo_vendor_id),
        "APAccountRef": ref(connection.ap_account_id),
        "POStatus": "Open",
        "PrivateNote": join_note(user_note, Marker(commitment.id)),
        "Line": [payload for _, payload in sov_lines_payload(commitment)],
    }
