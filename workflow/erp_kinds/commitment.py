"""A commitment as an ERP kind: its PurchaseOrder, created or updated in QuickBooks."""

from __future__ import annotations

from sqlalchemy.orm import joinedload

from models import Commitment, CommitmentStatus, ProjectRole, SovLine
from quickbooks_online.export import commitment as exporter  # noqa: F401 (registers it)
from workflow.kinds import ErpKind, register
from workflow.money import format_money
from workflow.permissions import has_project_role


@register
class CommitmentKind(ErpKind):
    name = "commitment"
    slug = "commitments"
    model = Commitment
    rank = 0
    key_prefix = "commitment"

    def amount(self, record) -> str:
        from workflow.commitments import totals

        return format_money(totals(record).original)

    def commitment_of(self, record):
        return record

    def page_path(self, record) -> str:
        return f"/projects/{record.project_id}/commitments/{record.id}"

    def send_blockers(self, record) -> list:
        from quickbooks_online.mapping import Blocker, commitment_blockers

        problems = []
        if record.status != CommitmentStatus.APPROVED:
            problems.append(Blocker(f"The commitment must be Approved (it is "
                                    f"{record.status.label}).", "commitment_status"))
        return problems + commitment_blockers(record)

    def may_read(self, user, record) -> bool:
        return has_project_role(user, record.project, ProjectRole.READ_ONLY)

    def lines(self, record) -> dict:
        return {line.id: line for line in record.sov_lines}

    def card_load_options(self) -> tuple:
        return (joinedload(Commitment.vendor), joinedload(Commitment.project),
                joinedload(Commitment.qbo_state),
                joinedload(Commitment.sov_lines).joinedload(SovLine.cost_code),
                joinedload(Commitment.sov_lines).joinedload(SovLine.category))

    def card_total(self, record, ledger):
        return ledger.totals[record.id].original

    def preview(self, record, cards):
        from quickbooks_online.links import link_preview

        return link_preview(record)  # linked to a PO already in QuickBooks
