"""ERP Integrations → Settings: the QuickBooks connection and mappings (ERP admins only).

Connecting, disconnecting, importing QuickBooks' lists and saving links and mappings all
happen here (the routes in blueprints/erp/settings.py make one call each), as do the reads
the settings page shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from extensions import db
from models import (
    Category,
    Commitment,
    CostCode,
    CostMapping,
    Project,
    QboConnection,
    QboRecord,
    SovLine,
    User,
    Vendor,
)
from quickbooks_online import connection as qbo
from quickbooks_online import lists as qbo_lists
from quickbooks_online.errors import QboError
from workflow.errors import InvalidInput, PermissionDenied
from workflow.permissions import is_erp_admin

# QuickBooks account types a cost can be booked to (docs/quickbooks.md: "expense-type
# Account"); a PO line on any other account (A/P, bank, income ...) is refused by QuickBooks or
# books it wrongly.
EXPENSE_ACCOUNT_TYPES = ("Expense", "Cost of Goods Sold", "Other Expense")


def require_erp_admin(actor: User) -> None:
    if not is_erp_admin(actor):
        raise PermissionDenied("Only an ERP admin can change QuickBooks settings.")


# ---- the connection ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Connected:
    connection: QboConnection
    previous_realm: str | None  # the company connected before, when it was another one
    # Commitments linked to a PurchaseOrder of that company: kept as history, not exported
    # until unlinked (docs/quickbooks.md, "Switching QuickBooks company").
    kept_links: int = 0


def authorization_url(actor: User, state: str) -> str:
    """Where to send the admin to grant access (QuickBooks' consent page)."""
    require_erp_admin(actor)
    return qbo.authorization_url(state)


def connect(actor: User, code: str, realm_id: str) -> Connected:
    """Finish the OAuth round trip: keep the tokens and the company. If it is another company
    than before, its links are forgotten (``switch_company``). QboError: nothing changed."""
    require_erp_admin(actor)
    previous = qbo.get_connection()
    previous_realm = previous.realm_id if previous is not None else None
    try:
        connection = qbo.complete_connection(actor, code, realm_id)
    except QboError:
        db.session.rollback()
        raise
    changed = previous_realm if previous_realm and previous_realm != connection.realm_id else None
    kept = 0
    if changed:
        kept = db.session.scalar(select(func.count()).select_from(Commitment).where(
            Commitment.qbo_purchase_order_id.is_not(None), Commitment.qbo_realm_id == changed))
    return Connected(connection, changed, kept)


def disconnect(actor: User) -> bool:
    """Revoke the access and forget the tokens (links and mappings are kept); False if there
    was no live connection."""
    require_erp_admin(actor)
    connection = qbo.get_connection()
    if connection is None or not connection.is_connected:
        return False
    qbo.disconnect(connection)
    return True


def import_lists(actor: User) -> dict[str, int]:
    """Replace the imported QuickBooks lists with what QuickBooks holds now; counts by entity.
    QboError: nothing changed."""
    require_erp_admin(actor)
    try:
        return qbo_lists.import_lists()
    except QboError:
        db.session.rollback()
        raise


# ---- what the settings page shows ----------------------------------------------------------------

def imported_lists() -> dict[str, list[QboRecord]]:
    """The imported QuickBooks records each setting chooses from."""
    return {"Customer": qbo_lists.records("Customer"), "Vendor": qbo_lists.records("Vendor"),
            "Item": qbo_lists.records("Item", purchasable=True),
            "Account": qbo_lists.records("Account"),
            "AP": qbo_lists.records("Account", detail="Accounts Payable")}


def settings_overview(extra_pairs=()) -> dict:
    """Everything the settings page lists: the connection, the imported lists (when
    connected), projects and vendors to link, and the cost code and category pairs to map:
    those in use on schedules of values, those already mapped, and ``extra_pairs``."""
    connection = qbo.get_connection()
    connected = connection is not None and connection.is_connected
    lists = imported_lists() if connected else {}
    used = set(db.session.execute(select(SovLine.cost_code_id, SovLine.category_id)).all())
    mappings = {(m.cost_code_id, m.category_id): m for m in db.session.scalars(select(CostMapping))}
    pairs = sorted(used | set(mappings) | set(extra_pairs))
    cost_codes = {c.id: c for c in db.session.scalars(select(CostCode))}
    categories = {c.id: c for c in db.session.scalars(select(Category))}
    return {
        "connection": connection, "connected": connected,
        "needs_reconnect": qbo.needs_reconnect(connection), "lists": lists,
        "projects": db.session.scalars(select(Project).order_by(Project.number)).all(),
        "vendors": db.session.scalars(select(Vendor).order_by(Vendor.name)).all(),
        "pairs": [(cost_codes[a], categories[b], mappings.get((a, b))) for a, b in pairs
                  if a in cost_codes and b in categories],
        "all_cost_codes": cost_codes.values(), "all_categories": categories.values(),
        "expense_types": EXPENSE_ACCOUNT_TYPES,
        "vendor_suggestions": vendor_suggestions(lists.get("Vendor", [])),
    }


def cost_mapping(cost_code: CostCode, category: Category) -> CostMapping | None:
    return db.session.scalar(select(CostMapping).where(
        CostMapping.cost_code_id == cost_code.id, CostMapping.category_id == category.id))


# ---- links and mappings ------------------------------------------------------------------------

def _record(entity: str, qbo_id: str, field: str, *, detail: str | None = None) -> QboRecord:
    realm = qbo.require_connection().realm_id
    record = db.session.scalar(select(QboRecord).where(
        QboRecord.realm_id == realm, QboRecord.entity == entity, QboRecord.qbo_id == qbo_id,
        QboRecord.active.is_(True)))
    if record is None or (detail is not None and record.detail != detail):
        raise InvalidInput({field: f"Choose a QuickBooks {entity.lower()} from the list "
                                   "(import the lists again if it is missing)."})
    return record


# What a project and a vendor link to in QuickBooks: the entity and the column that holds its id.
LINKS = {Project: ("Customer", "qbo_customer_id"), Vendor: ("Vendor", "qbo_vendor_id")}


def link(actor: User, record: Project | Vendor, qbo_id: str | None) -> None:
    """Link a project to a QuickBooks customer / job, or a vendor to a vendor (empty: unlink)."""
    require_erp_admin(actor)
    entity, column = LINKS[type(record)]
    if qbo_id:
        _record(entity, qbo_id, "qbo_id")
    setattr(record, column, qbo_id or None)
    db.session.commit()


def map_cost(actor: User, cost_code: CostCode, category: Category, target: str | None,
             *, commit: bool = True) -> None:
    """``target`` is ``Item:<id>`` or ``Account:<id>``; empty removes the mapping."""
    require_erp_admin(actor)
    mapping = cost_mapping(cost_code, category)
    if not target:
        if mapping is not None:
            db.session.delete(mapping)
        if commit:
            db.session.commit()
        return
    entity, _, qbo_id = target.partition(":")
    if entity not in ("Item", "Account") or not qbo_id:
        raise InvalidInput({"target": "Choose a QuickBooks item or account."})
    record = _record(entity, qbo_id, "target")
    if entity == "Item" and record.detail.startswith("sales only"):
        raise InvalidInput({"target": f"{record.name} is an item QuickBooks sells but cannot "
                                      "buy (it has no expense account). Choose a purchasable "
                                      "item or an expense account."})
    if entity == "Account" and record.detail not in EXPENSE_ACCOUNT_TYPES:
        detail = record.detail or "non-expense"
        kind = f"an {detail}" if detail[0] in "AEIOU" else f"a {detail}"
        raise InvalidInput({"target": f"{record.name} is {kind} account. Choose an item or an "
                                      "expense account (Expense, Cost of Goods Sold or Other "
                                      "Expense)."})
    if mapping is None:
        mapping = CostMapping(cost_code=cost_code, category=category)
        db.session.add(mapping)
    mapping.qbo_item_id = qbo_id if entity == "Item" else None
    mapping.qbo_account_id = qbo_id if entity == "Account" else None
    mapping.qbo_name = record.name
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def map_costs(actor: User, choices: dict[tuple[int, int], str]) -> int:
    """Save many mappings in one transaction: (cost code id, category id) → target ("Item:<id>",
    "Account:<id>" or "" to unmap). All or nothing: InvalidInput keyed by the pair. Returns how
    many mappings changed."""
    require_erp_admin(actor)
    errors: dict = {}
    changed = 0
    for (cost_code_id, category_id), target in choices.items():
        cost_code = db.session.get(CostCode, cost_code_id)
        category = db.session.get(Category, category_id)
        if cost_code is None or category is None:
            errors[(cost_code_id, category_id)] = "Choose a cost code and a category."
            continue
        mapping = db.session.scalar(select(CostMapping).where(
            CostMapping.cost_code_id == cost_code_id, CostMapping.category_id == category_id))
        current = "" if mapping is None else (f"Item:{mapping.qbo_item_id}" if mapping.qbo_item_id
                                              else f"Account:{mapping.qbo_account_id}")
        if (target or "") == current:
            continue
        try:
            map_cost(actor, cost_code, category, target or None, commit=False)
            changed += 1
        except InvalidInput as error:
            errors[(cost_code_id, category_id)] = " ".join(error.errors.values())
    if errors:
        db.session.rollback()
        raise InvalidInput(errors)
    db.session.commit()
    return changed


def vendor_suggestions(qbo_vendors: list[QboRecord]) -> dict[int, str]:
    """Our unlinked vendor id → the QuickBooks vendor of the same name (case and spacing
    aside), to preselect in Settings."""
    by_name = {" ".join(r.name.lower().split()): r.qbo_id for r in qbo_vendors}
    return {v.id: by_name[key] for v in db.session.scalars(select(Vendor).where(
        Vendor.qbo_vendor_id.is_(None)))
            if (key := " ".join(v.name.lower().split())) in by_name}


def set_ap_account(actor: User, qbo_id: str | None) -> None:
    require_erp_admin(actor)
    connection = qbo.require_connection()
    if qbo_id:
        _record("Account", qbo_id, "ap_account_id", detail="Accounts Payable")
    connection.ap_account_id = qbo_id or None
    db.session.commit()
