"""Which QuickBooks company (realm) a commitment's PurchaseOrder is in (docs/quickbooks.md,
"Switching QuickBooks company").

QuickBooks ids are per company: PurchaseOrder 42 of one company is an unrelated PO of another.
A commitment keeps the company of its PurchaseOrder (``Commitment.qbo_realm_id``) with the Id.
While the connection points at another company, that link is history: no export, change data
capture read, drift line, link or import uses the Id, and an export of such a record is
refused with ``elsewhere_message`` (the way forward is Unlink, workflow/books.py). A link
without a company recorded is the connected company's (``switch_company`` gives any such link
the old company before it switches).
"""

from __future__ import annotations

from models import Commitment
from quickbooks_online.connection import connection_this_transaction
from quickbooks_online.errors import QboOtherCompany


def connected_realm() -> str | None:
    """The company the connection points at (None: never connected)."""
    connection = connection_this_transaction()
    return connection.realm_id if connection is not None else None


def elsewhere(commitment: Commitment) -> bool:
    """The commitment's PurchaseOrder is in another company than the connected one."""
    if not commitment.qbo_purchase_order_id or not commitment.qbo_realm_id:
        return False
    realm = connected_realm()
    return realm is not None and commitment.qbo_realm_id != realm


def purchase_order_here(commitment: Commitment) -> str | None:
    """The Id of the commitment's PurchaseOrder in the connected company; None when it has
    none there (never exported, unlinked, or its PurchaseOrder is another company's)."""
    return None if elsewhere(commitment) else commitment.qbo_purchase_order_id


def held_here():
    """SQL: the commitment's PurchaseOrder link is the connected company's (or has no company
    recorded, which means the same)."""
    realm = connected_realm()
    if realm is None:
        return Commitment.qbo_realm_id.is_(None)
    return (Commitment.qbo_realm_id == realm) | Commitment.qbo_realm_id.is_(None)


def where_linked(commitment: Commitment) -> str:
    """"PurchaseOrder 42 in another QuickBooks company (company 9341…)"."""
    return (f"PurchaseOrder {commitment.qbo_purchase_order_id} in another QuickBooks company "
            f"(company {commitment.qbo_realm_id})")


def elsewhere_message(commitment: Commitment, *, of_change_order: bool = False) -> str:
    """Why an export of the commitment (or of one of its CCOs) is refused, and what to do."""
    if of_change_order:
        return (f"Commitment {commitment.number} is linked to {where_linked(commitment)}. "
                "Unlink the commitment (then send it again, or link it to this company's "
                "purchase order) before exporting its change orders.")
    return (f"Linked to {where_linked(commitment)}. Unlink it (then send it again, or link it "
            "to this company's purchase order) before exporting.")


def require_here(commitment: Commitment, *, of_change_order: bool = False) -> None:
    """QboOtherCompany, with what to do, if the commitment's PurchaseOrder is another
    company's: an export must then write nothing, anywhere."""
    if elsewhere(commitment):
        raise QboOtherCompany(elsewhere_message(commitment, of_change_order=of_change_order),
                              "other-company")
