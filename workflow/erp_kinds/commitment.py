"""A commitment as an ERP kind: its PurchaseOrder, created or updated in QuickBooks."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import joinedload

from extensions import db
from models import Commitment, CommitmentStatus, ProjectRole, SovLine
from quickbooks_online.export import commitment as exporter  # noqa: F401 (registers it)
from workflow.kinds import ErpKind, register
from workflow.money import format_money
from workflow.permissions import has_project_role


def purchase_order_synced(commitment: Commitment, result, *, added_to: bool = False) -> None:
    """The commitment's PurchaseOrder as our export left it: its Id, the company it is in,
    its total, and the SyncToken at which it holds what we hold (what drift is measured
    against, workflow/qbo_drift.py). ``added_to``: a CCO's update, which adds to the amounts
    QuickBooks held, so a bookkeeper's change there stays a difference."""
    from quickbooks_online.company import connected_realm
    from workflow.qbo_drift import after_export

    agreed_token = after_export(commitment.id, result, added_to=added_to)
    db.session.execute(
        update(Commitment).where(Commitment.id == commitment.id)
        .values(qbo_purchase_order_id=result.qbo_id,
                qbo_realm_id=result.realm_id or connected_realm(),
                qbo_sync_token=agreed_token, qbo_total=result.total)
        .execution_options(synchronize_session=False))


@register
class CommitmentKind(ErpKind):
    name = "commitment"
    slug = "commitments"
    model = Commitment
    rank = 0
    key_prefix = "commitment"
    noun = "commitment"
    checked_on_accept = True  # its PurchaseOrder may be another company's (accept_blocker)

    def heading(self, record) -> str:
        return f"{record.type.label} {record.number}"

    def amount(self, record) -> str:
        from workflow.commitments import totals

        return format_money(totals(record).original)

    def commitment_of(self, record):
        return record

    def page_path(self, record) -> str:
        return f"/projects/{record.project_id}/commitments/{record.id}"

    def send_blockers(self, record) -> list:
        from quickbooks_online.links import vendor_problem
        from quickbooks_online.mapping import Blocker, commitment_blockers

        problems = []
        if record.status != CommitmentStatus.APPROVED:
            problems.append(Blocker(f"The commitment must be Approved (it is "
                                    f"{record.status.label}).", "commitment_status"))
        wrong_vendor = vendor_problem(record)  # linked to a PO that is not its vendor's
        if wrong_vendor:
            problems.append(Blocker(wrong_vendor, "commitment_erp"))
        return problems + commitment_blockers(record)

    def accept_blocker(self, record) -> str | None:
        from quickbooks_online.company import elsewhere, elsewhere_message

        return elsewhere_message(record) if elsewhere(record) else None

    def restore_pending(self, record) -> bool:
        from workflow.qbo_drift import restore_requested

        return record.qbo_purchase_order_id is not None and restore_requested(record.id)

    def may_read(self, user, record) -> bool:
        return has_project_role(user, record.project, ProjectRole.READ_ONLY)

    def export_columns(self, record) -> dict:
        return {"commitment_id": record.id}

    def record_synced(self, record, result) -> None:
        purchase_order_synced(record, result)

    def lines(self, record) -> dict:
        return {line.id: line for line in record.sov_lines}

    def card_load_options(self) -> tuple:
        return (joinedload(Commitment.vendor), joinedload(Commitment.project),
                joinedload(Commitment.qbo_state),
                joinedload(Commitment.sov_lines).joinedload(SovLine.cost_code),
                joinedload(Commitment.sov_lines).joinedload(SovLine.category))

    def card_total(self, record, ledger):
        """What its PurchaseOrder's lines of ours add up to once accepted: the SOV, and for
        one already in QuickBooks (a Restore ours) the changes of its Synced CCOs too."""
        total = ledger.totals[record.id].original
        if record.qbo_purchase_order_id is None:
            return total
        return (total + sum(ledger.synced.get(record.id, {}).values(), Decimal("0"))
                + sum((line[3] for line in ledger.added_lines.get(record.id, [])),
                      Decimal("0")))

    def preview(self, record, cards):
        from quickbooks_online.company import elsewhere
        from quickbooks_online.links import link_preview

        if elsewhere(record):  # another company's PO: nothing will be written to it
            return None
        return link_preview(record)  # linked to a PO already in QuickBooks
