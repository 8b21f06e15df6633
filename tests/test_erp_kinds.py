"""ERP Integrations is open to a new kind of record: a throwaway kind registered here, with its
own tiny model and exporter, goes through the inbox, Send, Accept, the export through the
sandbox, and Reject, without a line of the app changed (docs/architecture.md, "Adding an ERP
kind"). Everything it registers is taken away again after the test."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from extensions import db
from models import Commitment, ErpStatus, Export, ExportStatus, HistoryEvent, ProjectRole
from models import subjects as history_subjects
from models.types import ErpColumns, UTCDateTime, utcnow
from quickbooks_online import purchase_orders
from quickbooks_online.export import EXPORTERS, ExportResult, register, request_id, result_of
from quickbooks_online.mapping import line_payload, mappings_for, ref
from tests.qbo_helpers import DEMO_REALM, run_jobs
from workflow import erp, kinds
from workflow.kinds import ErpKind
from workflow.money import format_money
from workflow.permissions import has_project_role

HTMX = {"HX-Request": "true"}


class Base(DeclarativeBase):  # its own metadata: the app's schema stays as it is
    pass


class Bill(ErpColumns, Base):
    """A subcontractor's approved invoice against a commitment (the tiny model)."""

    __tablename__ = "throwaway_bills"

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int]
    number: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(200))
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[object] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None]

    @property
    def commitment(self) -> Commitment:
        return db.session.get(Commitment, self.commitment_id)

    @property
    def project(self):
        return self.commitment.project


class BillKind(ErpKind):
    name = "throwaway_bill"
    slug = "throwaway-bills"
    model = Bill
    rank = 2
    key_prefix = "bill"

    def amount(self, record) -> str:
        return format_money(record.amount)

    def commitment_of(self, record):
        return record.commitment

    def target_key(self, record) -> str:
        return f"bill:{record.id}"

    def page_path(self, record) -> str:
        return f"/projects/{record.project.id}/commitments/{record.commitment_id}"

    def may_read(self, user, record) -> bool:
        return has_project_role(user, record.project, ProjectRole.READ_ONLY)

    def with_commitment(self, query):
        return query.join(Commitment, Commitment.id == Bill.commitment_id)

    def card_total(self, record, ledger):
        return record.amount


def export_bill(export: Export) -> ExportResult:
    """The tiny exporter: the bill as a new PurchaseOrder of its commitment's vendor (the
    sandbox keeps PurchaseOrders), one line on the commitment's first SOV line's mapping."""
    bill = db.session.get(Bill, export.record_id)
    commitment = bill.commitment
    sov = commitment.sov_lines[0]
    mapping = mappings_for({(sov.cost_code_id, sov.category_id)})[
        (sov.cost_code_id, sov.category_id)]
    from quickbooks_online.connection import get_connection

    body = {"VendorRef": ref(commitment.vendor.qbo_vendor_id), "DocNumber": bill.number,
            "APAccountRef": ref(get_connection().ap_account_id),
            "Line": [line_payload(bill.title, bill.amount, mapping,
                                  commitment.project.qbo_customer_id)]}
    po = purchase_orders.create(body, request_id(export.idempotency_key, export.attempts))
    return result_of(po, {})


@pytest.fixture
def bill_kind(app):
    """The throwaway kind: its table, its kind, its exporter, its Change History; all gone
    afterwards."""
    Base.metadata.create_all(db.session.connection())  # in the test's transaction
    history_subjects.history_subject(
        "throwaway_bill", project_id=lambda record: record.project.id)(Bill)
    kinds.register(BillKind)
    register("throwaway_bill")(export_bill)
    try:
        yield kinds.named("throwaway_bill")
    finally:
        db.session.rollback()
        db.session.execute(sa.delete(HistoryEvent).where(
            HistoryEvent.subject_type == "throwaway_bill"))
        db.session.commit()
        EXPORTERS.pop("throwaway_bill", None)
        kinds.unregister("throwaway_bill")
        history_subjects._by_model.pop(Bill, None)
        history_subjects._by_kind.pop("throwaway_bill", None)
        Base.metadata.drop_all(db.session.connection())


def _bill(commitment, number: str, amount: str) -> Bill:
    bill = Bill(commitment_id=commitment.id, number=number, title=f"Invoice {number}",
                amount=Decimal(amount))
    db.session.add(bill)
    db.session.commit()
    return bill


def test_a_new_kind_goes_through_erp_integrations_without_a_change_to_the_app(
        bill_kind, client, auth, people, approver, erp_commitment, sandbox):
    first = _bill(erp_commitment, "INV-7", "1250.00")
    second = _bill(erp_commitment, "INV-8", "99.95")
    assert kinds.of(first) is bill_kind

    erp.send_to_erp(people.project_admin, first)
    # Send to ERP from its ERP panel, in the /erp/<kind>/<id> family like any kind's.
    auth.login(people.project_admin)
    panel = client.get(f"/erp/throwaway-bills/{second.id}/panel", headers=HTMX)
    assert panel.status_code == 200 and "Send to ERP" in panel.text
    sent = client.post(f"/erp/throwaway-bills/{second.id}/send", headers=HTMX)
    assert sent.status_code == 200 and "Retrieve from ERP" in sent.text
    db.session.expire_all()
    first, second = db.session.get(Bill, first.id), db.session.get(Bill, second.id)
    assert (first.erp_status, second.erp_status) == (ErpStatus.READY_TO_EXPORT,) * 2
    auth.logout()

    # The inbox shows it, counts it, and its card has its own page.
    auth.login(approver)
    inbox = client.get("/erp/")
    assert inbox.status_code == 200
    assert "INV-7" in inbox.text and "INV-8" in inbox.text and "$1,250.00" in inbox.text
    assert erp.waiting_on(approver) == 2
    card = client.get(f"/erp/throwaway-bills/{first.id}")
    assert card.status_code == 200 and "Invoice INV-7" in card.text

    # Accept exports it through the sandbox, once.
    accepted = client.post(f"/erp/throwaway-bills/{first.id}/accept", headers=HTMX)
    assert accepted.status_code == 200
    run_jobs()
    db.session.expire_all()
    first = db.session.get(Bill, first.id)
    assert first.erp_status == ErpStatus.SYNCED
    export = erp.latest_export(first)
    assert (export.subject_type, export.record_id, export.target_key, export.status,
            export.commitment_id) == ("throwaway_bill", first.id, f"bill:{first.id}",
                                      ExportStatus.SYNCED, None)
    [po] = [po for po in sandbox.purchase_orders(DEMO_REALM) if po.get("DocNumber") == "INV-7"]
    assert Decimal(str(po["TotalAmt"])) == Decimal("1250.00")

    # Reject hands the other one back with the reason.
    rejected = client.post(f"/erp/throwaway-bills/{second.id}/reject",
                           data={"comment": "Wrong amount."}, headers=HTMX)
    assert rejected.status_code == 200
    db.session.expire_all()
    second = db.session.get(Bill, second.id)
    assert (second.erp_status, second.erp_rejection_reason) == (ErpStatus.REJECTED,
                                                               "Wrong amount.")
    assert erp.waiting_on(approver) == 0
    assert [e.action for e in db.session.scalars(sa.select(HistoryEvent).where(
        HistoryEvent.subject_type == "throwaway_bill").order_by(HistoryEvent.id))] == [
        "sent", "sent", "accepted", "exported", "rejected"]


def test_the_throwaway_kind_leaves_nothing_behind(app):
    """Run after the one above (in file order): no kind, exporter or table is left."""
    assert kinds.named("throwaway_bill") is None and "throwaway_bill" not in EXPORTERS
    assert [kind.name for kind in kinds.all_kinds()] == ["commitment", "change_order"]
    assert "throwaway_bills" not in sa.inspect(db.session.connection()).get_table_names()
