"""What a page of ERP Integrations cards shows, read in a fixed number of statements for any
number of cards: the ledger of each commitment, the latest exports, the mappings and the
QuickBooks names the previews need, what QuickBooks holds (change data capture), and what the
viewer may do with each card. The route adds only the forms and the page's defaults
(blueprints/erp/routes.py); each kind builds its own total and preview (workflow/kinds.py)."""

from __future__ import annotations

from models import Commitment, ErpStatus, User
from quickbooks_online.company import elsewhere, purchase_order_here
from quickbooks_online.links import doc_number_of
from quickbooks_online.lists import names_for
from quickbooks_online.ours import ours_from
from workflow import erp, inbox, kinds, qbo_drift


class Cards:
    """The facts of the cards of ``subjects`` as ``viewer`` sees them."""

    def __init__(self, subjects: list, viewer: User) -> None:
        self.viewer = viewer
        of_cards = {kinds.of(s).commitment_of(s) for s in subjects}
        ledger = inbox.ledger([c.id for c in of_cards], viewer)
        self.totals, self.unsent, self.synced = ledger.totals, ledger.not_sent, ledger.synced
        self.hidden_synced = ledger.hidden_synced
        self.added_lines = ledger.added_lines
        self.exports = erp.latest_exports_of(subjects)
        self.mappings = {pair: mapping for s in subjects
                         for pair, mapping in kinds.of(s).card_mappings(s).items()}
        self.sendings = inbox.sendings(subjects)
        self.quickbooks = qbo_drift.drifts_of(list(of_cards), loaded=True)
        self.names = names_for({pair for c in of_cards for pair in (
            ("Vendor", c.vendor.qbo_vendor_id), ("Customer", c.project.qbo_customer_id))})

    def name_of(self, entity: str, qbo_id: str | None) -> str | None:
        return self.names.get((entity, qbo_id))

    def facts(self, subject) -> dict:
        """One card's facts: its kind, commitment, total, latest export, QuickBooks preview,
        drift line, the send that put it here and the actions the viewer may take."""
        record_kind = kinds.of(subject)
        commitment = record_kind.commitment_of(subject)
        drift = None
        if purchase_order_here(commitment):
            drift = erp.drift_from(commitment, self.totals[commitment.id].revised,
                                   self.unsent.get(commitment.id, []),
                                   self.quickbooks.get(commitment.id),
                                   hidden_synced=self.hidden_synced.get(commitment.id, 0))
        return {"subject": subject, "kind": record_kind.slug, "record_kind": record_kind,
                "commitment": commitment, "total": record_kind.card_total(subject, self),
                "export": self.exports.get((record_kind.name, subject.id)),
                "preview": record_kind.preview(subject, self),  # what QuickBooks will receive
                "drift": drift, "sending": self.sendings.get((record_kind.slug, subject.id)),
                "actions": erp.approver_actions(self.viewer, subject),
                "elsewhere": elsewhere(commitment),  # its PO is another company's
                "po_number": doc_number_of(commitment) or commitment.qbo_purchase_order_id,
                "po_words": _po_words(subject, commitment, record_kind),
                "name_of": self.name_of}


def _po_words(subject, commitment, record_kind) -> str:
    """What Accept does to the PurchaseOrder, in the card's words: "new" (a commitment not in
    QuickBooks yet), "changes" (a CCO, a linked PO's first update, a restore) or nothing (the
    commitment is Synced: it is that PurchaseOrder)."""
    if record_kind.changes_existing:
        return "changes"
    if commitment.qbo_purchase_order_id is None:
        return "new"
    return "" if subject.erp_status == ErpStatus.SYNCED else "changes"


def commitment_drift(commitment: Commitment, viewer: User) -> erp.Drift | None:
    """For a change order's ERP panel: its commitment's drift line, as a card shows it, only
    while that commitment is Synced and QuickBooks differs (its own edits, not acknowledged)
    or deleted the PurchaseOrder, as change data capture recorded it (``commitment.qbo_state``,
    read with the CCO's page); None otherwise. Then one statement, ``inbox.ledger``: the totals,
    the approved CCOs not yet in QuickBooks that ``viewer`` may see, and with the commitment's
    SOV lines (read with the page) what we wrote to the PO line by line (``ours_from``)."""
    state = commitment.qbo_state if commitment.erp_status == ErpStatus.SYNCED else None
    if state is None or not (state.deleted or state.differs) or not purchase_order_here(
            commitment):
        return None
    ledger = inbox.ledger([commitment.id], viewer)
    ours = ours_from(commitment.sov_lines, ledger.synced.get(commitment.id, {}),
                     ledger.added_lines.get(commitment.id, []))
    view = qbo_drift.drifts_of([commitment], loaded=True,
                               ours={commitment.id: ours}).get(commitment.id)
    if view is None or not (view.changes or view.state.deleted):
        return None
    return erp.drift_from(commitment, ledger.totals[commitment.id].revised,
                          ledger.not_sent.get(commitment.id, []), view,
                          hidden_synced=ledger.hidden_synced.get(commitment.id, 0))
