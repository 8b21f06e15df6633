"""The demo's QuickBooks side: connected to the built-in sandbox's demo company, with every
demo project, vendor and cost code + category mapped. Existing links are left alone."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from extensions import db
from models import (
    Category,
    ChangeOrderStatus,
    Commitment,
    CostCode,
    CostMapping,
    ErpStatus,
    Project,
    QboRecord,
    User,
    Vendor,
)
from quickbooks_online.builtin import connect_demo_company
from quickbooks_online.connection import get_connection

PROJECT_JOBS = {
    "2024-015": "Riverside Holdings:Riverside Medical Office Building",
    "2024-022": "Harbor Point Partners:Harbor Point Parking Structure",
}
# (cost code, category) → ("Item" or "Account", QuickBooks name)
COST_MAPPINGS = {
    ("03-300", "Subcontract"): ("Item", "Concrete - Subcontract"),
    ("03-300", "Material"): ("Item", "Concrete - Material"),
    ("05-120", "Subcontract"): ("Item", "Structural Steel - Subcontract"),
    ("26-050", "Subcontract"): ("Item", "Electrical - Subcontract"),
    ("26-050", "Material"): ("Item", "Electrical - Material"),
    ("09-290", "Subcontract"): ("Item", "Drywall - Subcontract"),
    ("09-290", "Material"): ("Account", "Job Materials"),
    ("01-500", "Labor"): ("Item", "General Conditions - Labor"),
    ("01-500", "Equipment"): ("Item", "Equipment Rental"),
}
AP_ACCOUNT = "Accounts Payable (A/P)"


def _qbo_id(entity: str, name: str) -> str | None:
    return db.session.scalar(select(QboRecord.qbo_id).where(QboRecord.entity == entity,
                                                            QboRecord.name == name))


def seed_quickbooks() -> str | None:
    """Connect and map; returns the company name, or None without the built-in sandbox."""
    company = connect_demo_company(current_app._get_current_object())
    if company is None:
        return None
    from qbo_sandbox.books import seed_existing_books
    from quickbooks_online.builtin import EXTENSION_KEY

    # Books from before the app: SC-1044 to link, PO-2050 and PO-2051 to import.
    seed_existing_books(current_app.extensions[EXTENSION_KEY])
    link_and_map()
    return company


def link_and_map() -> None:
    """Link the demo's projects and vendors to QuickBooks, map its cost codes, choose the AP
    account (whatever is linked already is left alone)."""
    connection = get_connection()
    connection.ap_account_id = connection.ap_account_id or _qbo_id("Account", AP_ACCOUNT)
    for number, job in PROJECT_JOBS.items():
        project = db.session.scalar(select(Project).filter_by(number=number))
        if project is not None and not project.qbo_customer_id:
            project.qbo_customer_id = _qbo_id("Customer", job)
    for vendor in db.session.scalars(select(Vendor)):
        vendor.qbo_vendor_id = vendor.qbo_vendor_id or _qbo_id("Vendor", vendor.name)
    for (code, category_name), (entity, name) in COST_MAPPINGS.items():
        cost_code = db.session.scalar(select(CostCode).filter_by(code=code))
        category = db.session.scalar(select(Category).filter_by(name=category_name))
        qbo_id = _qbo_id(entity, name)
        if cost_code is None or category is None or qbo_id is None:
            continue
        if db.session.scalar(select(CostMapping).filter_by(cost_code_id=cost_code.id,
                                                           category_id=category.id)) is None:
            db.session.add(CostMapping(
                cost_code=cost_code, category=category, qbo_name=name,
                qbo_item_id=qbo_id if entity == "Item" else None,
                qbo_account_id=qbo_id if entity == "Account" else None))
    db.session.commit()


def seed_erp_round_trip() -> None:
    """So a newcomer can walk the whole round trip after ``make run``: SC-1042 is already in
    QuickBooks (Synced) with its approved CCO #001 sent and waiting in ERP Integrations for the
    approver; PO-2001 is Synced too, and its approved CCO #001 is Not Sent, for the PM to send.

    Runs before the web server is up, so the built-in sandbox is served on a loopback port
    for the few seconds the exports take (the same company: one shared state file)."""
    from qbo_sandbox import SandboxServer
    from quickbooks_online.builtin import EXTENSION_KEY
    from workflow import erp

    app = current_app._get_current_object()
    sandbox = app.extensions.get(EXTENSION_KEY)
    if sandbox is None:
        return
    people = {u.email: u for u in db.session.scalars(select(User))}
    manager, approver = people.get("pm@example.com"), people.get("approver@example.com")
    if manager is None or approver is None:
        return
    server = SandboxServer(sandbox=sandbox).start()
    saved = {key: app.config[key] for key in ("QBO_API_URL", "QBO_ENVIRONMENT")}
    app.config.update(QBO_API_URL=server.api_url_v3, QBO_ENVIRONMENT=server.discovery_url)
    try:
        for number in ("SC-1042", "PO-2001"):
            commitment = db.session.scalar(select(Commitment).filter_by(number=number))
            if commitment is None or commitment.erp_status != ErpStatus.NOT_SENT:
                continue
            erp.send_to_erp(manager, commitment)
            erp.accept(approver, commitment)
        sc = db.session.scalar(select(Commitment).filter_by(number="SC-1042"))
        if sc is not None and sc.erp_status == ErpStatus.SYNCED:
            for cco in sc.change_orders:
                if cco.status == ChangeOrderStatus.APPROVED and \
                        cco.erp_status == ErpStatus.NOT_SENT:
                    erp.send_to_erp(manager, cco)
                    break
    finally:
        app.config.update(saved)
        server.stop()
