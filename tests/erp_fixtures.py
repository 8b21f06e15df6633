"""Fixtures for the ERP tests: a connected sandbox company, a mapped Approved commitment and
an approver. Loaded by ``tests/conftest.py``; a test module's own fixture of the same name wins."""

from __future__ import annotations

import pytest

from extensions import db
from quickbooks_online.connection import get_connection
from tests import qbo_helpers
from tests.qbo_helpers import run_jobs
from workflow import erp


@pytest.fixture
def approver(factory):
    from models import ErpPermission

    return factory.user(name="Alex Approver", erp=ErpPermission.STANDARD, can_push=True)


@pytest.fixture
def erp_admin(factory, people):
    """An ERP admin with Can Push who can open the project's pages (read only there)."""
    from models import ErpPermission, ProjectRole

    user = factory.user(name="Erin ERP-Admin", erp=ErpPermission.ADMIN, can_push=True)
    factory.member(people.project, user, ProjectRole.READ_ONLY)
    return user


@pytest.fixture
def bookkeeper_po(sandbox):
    """SC-1042 as the bookkeeper entered it before the app (to link): two concrete lines, a
    freight line of their own, a Memo and a note."""
    from tests.qbo_helpers import DEMO_REALM
    from tests.test_books import SUMMIT, account_line, item_line

    return sandbox.add_purchase_order(
        DEMO_REALM, SUMMIT, [item_line("180000.00", "Slab on grade and footings"),
                             item_line("90000.00", "Retaining walls"),
                             account_line("1500.00", "Freight (bookkeeper)")],
        doc_number="SC-1042", memo="Call the site before delivery",
        private_note="Entered by Dana from the signed subcontract.")


@pytest.fixture
def connected(app, sandbox, people):
    qbo_helpers.connect(people.company_admin)
    return get_connection()


@pytest.fixture
def erp_commitment(factory, people, connected):
    """SC-1042, Approved, two SOV lines, every link and mapping in place."""
    summit = factory.vendor("Summit Concrete Co.")
    record = factory.commitment(people.project, vendor=summit, number="SC-1042",
                                title="Cast-in-place concrete",
                                sov=("185000.00", "96500.50"))
    qbo_helpers.map_for(record)
    return record


@pytest.fixture
def synced(erp_commitment, people, approver):
    """SC-1042 (185,000.00 + 96,500.50) Synced to QuickBooks as a PurchaseOrder."""
    from models import ErpStatus

    record = send_and_accept(erp_commitment, people, approver)
    assert record.erp_status == ErpStatus.SYNCED
    return record


def send_and_accept(record, people, approver):
    """Send to ERP, Accept, run the job; the record (a commitment or a CCO) as it is
    afterwards."""
    erp.send_to_erp(people.project_admin, record)
    erp.accept(approver, record)
    run_jobs()
    db.session.expire_all()
    return db.session.get(type(record), record.id)


def ready_to_export(people, factory):
    """(SC-2040 of a new vendor, mapped and sent: Ready to Export; an approver who may push),
    with the sandbox company connected: for tests whose real worker exports it."""
    from models import ErpPermission

    qbo_helpers.connect(people.company_admin)
    summit = factory.vendor("Summit Concrete Co.")
    commitment = factory.commitment(people.project, vendor=summit, number="SC-2040",
                                    sov=("1200.00", "300.00"))
    qbo_helpers.map_for(commitment)
    erp.send_to_erp(people.project_admin, commitment)
    approver = factory.user(erp=ErpPermission.STANDARD, can_push=True)
    return commitment, approver
