"""A company with books that existed before the app: the purchase orders of
``demo_company.EXISTING_PURCHASE_ORDERS`` entered as a bookkeeper would (``Sandbox.
add_purchase_order``). Idempotent: a DocNumber the realm already has is left alone."""

from __future__ import annotations

from qbo_sandbox import demo_company


def purchase_order_lines(po: dict) -> list[dict]:
    lines = []
    for description, amount, kind, target in po["Lines"]:
        if kind == "Item":
            detail_type = "ItemBasedExpenseLineDetail"
            detail = {"ItemRef": {"value": target}, "Qty": 1, "UnitPrice": float(amount)}
        else:
            detail_type = "AccountBasedExpenseLineDetail"
            detail = {"AccountRef": {"value": target}}
        detail.update(CustomerRef={"value": po["CustomerId"]}, BillableStatus="NotBillable")
        lines.append({"DetailType": detail_type, "Amount": float(amount),
                      "Description": description, detail_type: detail})
    return lines


def seed_existing_books(sandbox, realm_id: str = demo_company.DEMO_REALM_ID) -> list[dict]:
    """Enter the existing purchase orders in ``realm_id``; returns those it entered."""
    have = {po.get("DocNumber") for po in sandbox.purchase_orders(realm_id)}
    entered = []
    for po in demo_company.EXISTING_PURCHASE_ORDERS:
        if po["DocNumber"] in have:
            continue
        entered.append(sandbox.add_purchase_order(
            realm_id, po["VendorId"], purchase_order_lines(po), doc_number=po["DocNumber"],
            memo=po.get("Memo"), private_note=po.get("PrivateNote"), txn_date=po["TxnDate"]))
    return entered
