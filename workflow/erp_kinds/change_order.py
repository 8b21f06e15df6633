"""A commitment change order (CCO) as an ERP kind: one sparse update of its commitment's
PurchaseOrder. Private CCOs are seen only by those who may see them; a rejected CCO is handed
back to its project by a job (``reopens_when_rejected``)."""

from __future__ import annotations

from sqlalchemy.orm import joinedload

from models import (
    ChangeOrder,
    ChangeOrderApproval,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    ErpStatus,
)
from quickbooks_online.export import change_order as exporter  # noqa: F401 (registers it)
from workflow import approvals
from workflow.change_orders import can_view, private_filter
from workflow.erp_kinds.commitment import purchase_order_synced
from workflow.kinds import ErpKind, register
from workflow.money import format_money


@register
class ChangeOrderKind(ErpKind):
    name = "change_order"
    slug = "change-orders"
    model = ChangeOrder
    rank = 1
    key_prefix = "cco"
    noun = "change order"
    reopens_when_rejected = True
    checked_on_accept = True

    def title(self, record) -> str:
        return f"CCO #{record.number} of {record.commitment.number}"

    changes_existing = True
    shows_approval = True

    def short_name(self, record) -> str:
        return f"CCO #{record.number}"

    def amount(self, record) -> str:
        return format_money(record.grand_total)

    def commitment_of(self, record):
        return record.commitment

    def page_path(self, record) -> str:
        return approvals.page_path(record)

    def send_blockers(self, record) -> list:
        from quickbooks_online.mapping import Blocker, change_order_blockers

        problems = []
        if record.status != ChangeOrderStatus.APPROVED:
            problems.append(Blocker(f"The change order must be Approved (it is "
                                    f"{record.status.label}).", "cco_review"))
        differs = approvals.mismatch(record)
        if differs:
            problems.append(Blocker(differs, "cco_review"))
        return problems + change_order_blockers(record)

    def accept_blocker(self, record) -> str | None:
        from quickbooks_online.company import elsewhere, elsewhere_message
        from workflow.qbo_drift import restore_requested

        commitment = record.commitment
        if elsewhere(commitment):
            return elsewhere_message(commitment, of_change_order=True)
        if commitment.erp_status != ErpStatus.SYNCED and commitment.qbo_purchase_order_id \
                and restore_requested(commitment.id):
            # Its PurchaseOrder is still linked: a "Restore ours" of it goes first.
            return (f"Commitment {commitment.number} is {commitment.erp_status.label}: a "
                    "Restore ours of its PurchaseOrder is to be accepted or rejected first. "
                    "This change order can be exported once the commitment is Synced again.")
        if commitment.erp_status != ErpStatus.SYNCED or not commitment.qbo_purchase_order_id:
            # Unlinked since the CCO was sent: there is no PurchaseOrder for it to change.
            return (f"Commitment {commitment.number} is not Synced to QuickBooks any more (it is "
                    f"{commitment.erp_status.label}): its PurchaseOrder was unlinked. This "
                    "change order can be exported only once the commitment is Synced again.")
        if record.status != ChangeOrderStatus.APPROVED:  # no approval stands behind it
            return f"The change order must be Approved (it is {record.status.label})."
        return approvals.mismatch(record)

    def locks_before_send(self, record) -> list:
        return [record.commitment]  # SOV edits take it too

    def may_read(self, user, record) -> bool:
        return can_view(user, record)

    def hidden_from(self, viewer, record) -> bool:
        return record.private and not can_view(viewer, record)

    def visible_sql(self, viewer):
        return private_filter(viewer)

    def with_commitment(self, query):
        return query.join(ChangeOrder.commitment)

    def export_columns(self, record) -> dict:
        return {"commitment_id": record.commitment_id, "change_order_id": record.id}

    def record_synced(self, record, result) -> None:
        purchase_order_synced(record.commitment, result, added_to=True)

    def lines(self, record) -> dict:
        return {line.id: line for line in record.lines}

    def card_load_options(self) -> tuple:
        return (joinedload(ChangeOrder.commitment).joinedload(Commitment.vendor),
                joinedload(ChangeOrder.commitment).joinedload(Commitment.qbo_state),
                joinedload(ChangeOrder.commitment).joinedload(Commitment.project),
                joinedload(ChangeOrder.lines).joinedload(ChangeOrderLine.sov_line),
                joinedload(ChangeOrder.lines).joinedload(ChangeOrderLine.cost_code_own),
                joinedload(ChangeOrder.lines).joinedload(ChangeOrderLine.category_own),
                joinedload(ChangeOrder.lines).joinedload(ChangeOrderLine.mapping),
                joinedload(ChangeOrder.approval).joinedload(ChangeOrderApproval.approved_by))

    def card_mappings(self, record) -> dict:
        return {(line.cost_code_id, line.category_id): line.mapping for line in record.lines
                if line.sov_line_id is None and line.mapping}

    def card_total(self, record, ledger):
        return record.grand_total

    def preview(self, record, cards):
        """What QuickBooks will receive, by the export's own arithmetic (plan_change_order),
        on the PurchaseOrder as we last synced it: each line now, change, after. Once the CCO
        is Synced, what it applied: the line before it, its change, after it. ``cards``: the
        page's ``synced`` sums per SOV line and new lines' ``mappings``, read once."""
        from quickbooks_online.export.change_order import plan_change_order
        from quickbooks_online.mapping import change_order_sums

        synced = dict(cards.synced.get(record.commitment_id, {}))
        if record.erp_status == ErpStatus.SYNCED:  # its own change is in QuickBooks already
            for sov_line_id, change in change_order_sums(record).items():
                synced[sov_line_id] = synced.get(sov_line_id, 0) - change
        touched = {line.sov_line for line in record.lines if line.sov_line is not None}
        lines = [{"Id": line.qbo_line_id, "Amount": str(line.amount + synced.get(line.id, 0))}
                 for line in sorted(touched, key=lambda sov: sov.line_number)
                 if line.qbo_line_id]
        return plan_change_order(record, lines, cards.mappings)
