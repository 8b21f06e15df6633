"""Starting from existing books, reviewed adversarially: crafted requests, lost answers, a
bookkeeper's records and what they must keep (docs/quickbooks.md, "Existing purchase orders:
link and import" and "Unlink"). Through the real clients against the sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from extensions import db
from models import Commitment, ErpPermission, ProjectRole
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import DEMO_REALM
from workflow import books


@pytest.fixture
def erp_admin(factory, people):
    """An ERP admin with Can Push who can open the project's pages (read only there)."""
    user = factory.user(name="Erin ERP-Admin", erp=ErpPermission.ADMIN, can_push=True)
    factory.member(people.project, user, ProjectRole.READ_ONLY)
    return user


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _text(response) -> str:
    import re
    from html import unescape

    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def _amounts(po: dict) -> list[Decimal]:
    return [Decimal(str(line["Amount"])) for line in po["Line"]]


# ---- import: a PurchaseOrder ChangeOrder Desk wrote for another commitment ---------------------

def test_a_crafted_import_of_a_po_written_for_another_commitment_is_refused(
        client, auth, sandbox, factory, people, erp_commitment, erp_admin, approver):
    """SC-1042 is exported, then unlinked (its PO stays in QuickBooks with our marker naming
    it). The import list leaves that PO out; a hand-made POST must not import it either:
    otherwise two commitments claim one PurchaseOrder and SC-1042 sent again adopts it."""
    synced = send_and_accept(erp_commitment, people, approver)
    po_id = synced.qbo_purchase_order_id
    books.unlink_commitment(erp_admin, synced, "Will send it again")
    other = factory.project(number="2025-077", name="Annex")
    other.qbo_customer_id = synced.project.qbo_customer_id
    db.session.commit()
    assert books.import_page(erp_admin, other).purchase_orders == []  # not offered
    sov = synced.sov_lines[0]
    choices = {f"choice-{po_id}-{line['Id']}": f"{sov.cost_code_id}:{sov.category_id}"
               for line in sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)["Line"]}
    auth.login(erp_admin)
    answer = client.post("/erp/books/import", data={"project": other.id, "po": po_id,
                                                    **choices})
    assert answer.status_code == 422
    assert "written by ChangeOrder Desk for another commitment" in _text(answer)
    assert db.session.scalar(select(Commitment).where(
        Commitment.qbo_purchase_order_id == po_id)) is None
