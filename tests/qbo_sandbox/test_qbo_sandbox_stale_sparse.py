"""A sparse update sent with the SyncToken of an earlier answer, as Intuit documents it: each
write raises the SyncToken by one; an update carrying an older one is refused with 5010 (Stale
Object Error, HTTP 400) and nothing of it is written; the current one is applied. This is what
lets a CCO's export send its update without reading first (docs/quickbooks.md, "CCOs")."""

from __future__ import annotations

import json

import pytest
from quickbooks.exceptions import QuickbooksException

from qbo_sandbox import DEMO_REALM_ID

R = DEMO_REALM_ID


def _sparse(qbo_client, answer: dict, **fields) -> dict:
    body = {"Id": answer["Id"], "SyncToken": answer["SyncToken"], "sparse": True, **fields}
    return qbo_client.update_object("PurchaseOrder", json.dumps(body))["PurchaseOrder"]


def test_a_sparse_update_with_the_token_of_an_earlier_answer_is_5010_and_writes_nothing(
        qbo_sandbox, qbo_client, qbo_po):
    created = qbo_po.purchase_order().save(qb=qbo_client).to_dict()
    ours = _sparse(qbo_client, created, PrivateNote="[ours]",
                   Line=[created["Line"][0], {**created["Line"][1], "Amount": 300}])
    assert ours["SyncToken"] == str(int(created["SyncToken"]) + 1)

    # A bookkeeper changes the PO in QuickBooks after our write: SyncToken + 1.
    theirs = qbo_sandbox.edit_purchase_order(R, ours["Id"], memo="Call first",
                                             lines={"1": {"Amount": 1600}})
    assert theirs["SyncToken"] == str(int(ours["SyncToken"]) + 1)
    writes = qbo_sandbox.counters(R)["writes"]

    # Our next update, computed from our last answer, carries its (now stale) SyncToken.
    with pytest.raises(QuickbooksException) as info:
        _sparse(qbo_client, ours, PrivateNote="[ours; CCO 001]",
                Line=[{**line, "Amount": 999} for line in ours["Line"]])
    assert info.value.error_code == 5010
    assert "Stale Object Error" in info.value.message
    assert qbo_sandbox.counters(R)["writes"] == writes
    held = qbo_sandbox.get(R, "PurchaseOrder", ours["Id"])
    assert held == theirs  # not a field of the refused update written
    [refused] = [e for e in qbo_sandbox.request_log(R) if e["code"] == "5010"]
    assert refused["status"] == 400

    # Sent again from what QuickBooks holds now: applied, their edits kept.
    again = _sparse(qbo_client, held, PrivateNote="[ours; CCO 001]",
                    Line=[{**line, "Amount": line["Amount"] + 100} for line in held["Line"]])
    assert again["SyncToken"] == str(int(theirs["SyncToken"]) + 1)
    assert again["Memo"] == "Call first"
    assert [line["Amount"] for line in again["Line"]] == [1700, 400]
