"""Accept means what the approver saw (docs/lifecycle.md, "Accept is of what was seen").

1. The card's Confirm Accept and bulk "Accept selected" carry each record's version as shown;
   a record changed since (retrieved, edited, approved again, resent) is refused: 409, nothing
   queued, the card as it is now with the new amount in words. What does not change the record
   (the live inbox's reads, notifications, another CCO numbered on the commitment) does not
   refuse it.
2. A CCO whose commitment was unlinked from its PurchaseOrder (Not Sent, no PO) cannot be
   accepted or retried; the card says why next to Reject, which stays available; nothing is
   written to QuickBooks.

Everything against the QuickBooks sandbox; the forms are posted as the card renders them.
In a browser: tests/browser/test_accept_seen_browser.py."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from extensions import db
from models import ChangeOrder, ChangeOrderStatus, Commitment, ErpStatus, Export, ProjectRole
from tests.qbo_helpers import DEMO_REALM, run_jobs
from workflow import books, erp
from workflow.change_orders import LineInput, review, update_line
from workflow.errors import Locked

HTMX = {"HX-Request": "true"}


# ---- helpers -----------------------------------------------------------------------------------

class _Forms(HTMLParser):
    """Every <form> of a page: (method, action, [(name, value) of its inputs])."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, list]] = []
        self._open = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._open = (attrs.get("method", "get"), attrs.get("action", ""), [])
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and attrs.get("name"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self._open[2].append((attrs["name"], attrs.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def _form(html: str, action_ends: str) -> tuple[str, list]:
    """The one POST form whose action ends with ``action_ends``: (action, its fields)."""
    parser = _Forms()
    parser.feed(html)
    found = [(action, fields) for method, action, fields in parser.forms
             if method.lower() == "post" and action.endswith(action_ends)]
    assert len(found) == 1, [f[1] for f in parser.forms]
    return found[0]


def _words(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _exports(record) -> int:
    return db.session.scalar(select(func.count()).select_from(Export).where(
        Export.subject_type == erp.subject_type(record), Export.record_id == record.id))


def _opened_confirm(client, slug: str, record_id: int) -> tuple[str, list]:
    """The approver opens the card's Accept confirmation (as without JavaScript): the Confirm
    Accept form as rendered."""
    page = client.get(f"/erp/{slug}/{record_id}?open=accept")
    assert page.status_code == 200
    return _form(page.get_data(as_text=True), "/accept")


@pytest.fixture
def sam(factory, people):
    user = factory.user(name="Sam Ortiz")
    factory.member(people.project, user, ProjectRole.STANDARD)
    return user


@pytest.fixture
def cco(factory, people, synced, sam):
    """CCO #001 of the Synced SC-1042: +1,000.00 on SOV line 1, approved by Sam, Ready to
    Export."""
    record = factory.change_order(synced, status="approved", reviewer=sam,
                                  lines=((synced.sov_lines[0], "1000.00"),))
    erp.send_to_erp(people.project_admin, record)
    return _fresh(ChangeOrder, record.id)


def _retrieve_edit_reapprove_resend(people, sam, cco_id: int, amount: str) -> ChangeOrder:
    """The project manager retrieves the CCO, changes its line, Sam approves it again, the
    project manager resends it: Ready to Export again, at another amount."""
    cco = _fresh(ChangeOrder, cco_id)
    erp.retrieve_from_erp(people.project_admin, cco)
    line = _fresh(ChangeOrder, cco_id).lines[0]
    update_line(people.project_admin, line,
                LineInput(line.sov_line_id, line.description, Decimal(amount)), line.version)
    cco = _fresh(ChangeOrder, cco_id)
    assert cco.status == ChangeOrderStatus.PENDING_REVISED
    review(sam, cco, approve=True, comment="", version=cco.version)
    erp.send_to_erp(people.project_admin, _fresh(ChangeOrder, cco_id))
    cco = _fresh(ChangeOrder, cco_id)
    assert cco.erp_status == ErpStatus.READY_TO_EXPORT and cco.grand_total == Decimal(amount)
    return cco


# ---- 1. Accept is of what the approver saw -----------------------------------------------------

def test_the_confirm_form_carries_the_version_and_send_open_accept_works(
        client, auth, people, approver, cco, sandbox):
    """Send → open the card → (the live inbox polls, notifications go out) → Confirm Accept,
    the form posted exactly as rendered: accepted, exported once."""
    auth.login(approver)
    action, fields = _opened_confirm(client, "change-orders", cco.id)
    assert ("version", str(cco.version)) in fields
    # What happens meanwhile without changing the CCO: the inbox's live poll and page, the
    # notifications mailed, another CCO numbered on the commitment.
    assert client.get("/erp/changes?seen=x").status_code in (200, 204)
    assert client.get("/erp/").status_code == 200
    erp.deliver_notifications()
    run_jobs()
    from workflow.change_orders import ChangeOrderInput, create_change_order
    create_change_order(people.project_admin, cco.commitment, ChangeOrderInput(title="Later"))
    response = client.post(action, data=dict(fields))
    assert response.status_code == 303
    run_jobs()
    record = _fresh(ChangeOrder, cco.id)
    assert record.erp_status == ErpStatus.SYNCED and _exports(record) == 1


def test_an_old_card_cannot_accept_what_was_changed_and_resent_since(
        client, auth, people, approver, sam, cco, sandbox):
    auth.login(approver)
    action, fields = _opened_confirm(client, "change-orders", cco.id)  # the phone left open
    po_before = sandbox.get(DEMO_REALM, "PurchaseOrder", cco.commitment.qbo_purchase_order_id)
    _retrieve_edit_reapprove_resend(people, sam, cco.id, "25000.00")
    response = client.post(action, data=dict(fields), headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert ("This change order changed since you opened it: it is now $25,000.00. Look at it "
            "again before accepting.") in _words(html)
    assert "Accept $25,000.00" in html  # the card as it is now
    record = _fresh(ChangeOrder, cco.id)
    assert record.erp_status == ErpStatus.READY_TO_EXPORT and _exports(record) == 0
    # Without JavaScript: back to the card's page, which says so.
    response = client.post(action, data=dict(fields))
    assert response.status_code == 303
    page = client.get(response.location)
    assert "This change order changed since you opened it" in _words(page.get_data(as_text=True))
    assert _exports(_fresh(ChangeOrder, cco.id)) == 0
    run_jobs()
    po_after = sandbox.get(DEMO_REALM, "PurchaseOrder", cco.commitment.qbo_purchase_order_id)
    assert po_after["TotalAmt"] == po_before["TotalAmt"]  # nothing written to QuickBooks
    # The card opened again: its Accept is of $25,000.00 and goes through.
    action, fields = _opened_confirm(client, "change-orders", cco.id)
    assert client.post(action, data=dict(fields), headers=HTMX).status_code == 200
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED


def test_a_post_without_a_version_is_checked_as_before(client, auth, people, approver, sam,
                                                        cco):
    _retrieve_edit_reapprove_resend(people, sam, cco.id, "1500.00")
    auth.login(approver)
    response = client.post(f"/erp/change-orders/{cco.id}/accept", headers=HTMX)
    assert response.status_code == 200
    assert _fresh(ChangeOrder, cco.id).erp_status in (ErpStatus.EXPORTING, ErpStatus.SYNCED)


def test_a_garbled_version_is_refused(client, auth, approver, cco):
    auth.login(approver)
    response = client.post(f"/erp/change-orders/{cco.id}/accept", data={"version": "3x"},
                           headers=HTMX)
    assert response.status_code == 409
    assert _exports(_fresh(ChangeOrder, cco.id)) == 0


def test_an_old_commitment_card_is_refused_after_retrieve_edit_resend(
        client, auth, people, approver, erp_commitment):
    from workflow.commitments import SovInput, update_sov_line

    erp.send_to_erp(people.project_admin, erp_commitment)
    auth.login(approver)
    action, fields = _opened_confirm(client, "commitments", erp_commitment.id)
    erp.retrieve_from_erp(people.project_admin, _fresh(Commitment, erp_commitment.id))
    line = _fresh(Commitment, erp_commitment.id).sov_lines[1]
    update_sov_line(people.project_admin, line,
                    SovInput(line.description, line.cost_code_id, line.category_id,
                             Decimal("100500.50")), line.version)
    erp.send_to_erp(people.project_admin, _fresh(Commitment, erp_commitment.id))
    response = client.post(action, data=dict(fields), headers=HTMX)
    assert response.status_code == 409
    assert ("This commitment changed since you opened it: it is now $285,500.50. Look at it "
            "again before accepting.") in _words(response.get_data(as_text=True))
    assert _exports(erp_commitment) == 0


def test_accept_selected_skips_what_changed_since_the_list_and_accepts_the_rest(
        client, auth, factory, people, approver, sam, cco, sandbox):
    other = factory.change_order(cco.commitment, status="approved", reviewer=sam,
                                 lines=((cco.commitment.sov_lines[1], "200.00"),))
    erp.send_to_erp(people.project_admin, other)
    auth.login(approver)
    values = [f"change-orders:{cco.id}", f"change-orders:{other.id}"]
    listing = client.get("/erp/accept-selected", query_string={"selected": values})
    assert listing.status_code == 200
    action, fields = _form(listing.get_data(as_text=True), "/accept-selected")
    assert (f"version:change-orders:{cco.id}", str(cco.version)) in fields
    _retrieve_edit_reapprove_resend(people, sam, cco.id, "25000.00")
    response = client.post(action, data=_multi(fields))
    assert response.status_code == 303
    run_jobs()
    assert _fresh(ChangeOrder, other.id).erp_status == ErpStatus.SYNCED
    changed = _fresh(ChangeOrder, cco.id)
    assert changed.erp_status == ErpStatus.READY_TO_EXPORT and _exports(changed) == 0
    page = _words(client.get(response.location).get_data(as_text=True))
    assert (f"CCO #{changed.number} of SC-1042: This change order changed since you opened it: "
            "it is now $25,000.00. Look at it again before accepting.") in page


def _multi(fields: list) -> dict:
    data: dict[str, list] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return data


# ---- 2. a CCO whose commitment was unlinked ----------------------------------------------------

UNLINKED = ("Commitment SC-1042 is not Synced to QuickBooks any more (it is Not Sent): its "
            "PurchaseOrder was unlinked. This change order can be exported only once the "
            "commitment is Synced again.")


def test_a_cco_whose_commitment_was_unlinked_cannot_be_accepted_and_can_be_rejected(
        client, auth, people, approver, erp_admin, cco, sandbox):
    po_id = cco.commitment.qbo_purchase_order_id
    before = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)
    books.unlink_commitment(erp_admin, _fresh(Commitment, cco.commitment_id),
                            "PO replaced in QuickBooks")
    auth.login(approver)
    card = _words(client.get(f"/erp/change-orders/{cco.id}").get_data(as_text=True))
    assert f"Accept: {UNLINKED}" in card and "Reject it back to the project." in card
    assert "Accept $1,000.00" not in card and "Reject" in card
    # A card opened before the unlink, a direct Accept, bulk: each refused, nothing queued.
    response = client.post(f"/erp/change-orders/{cco.id}/accept",
                           data={"version": str(_fresh(ChangeOrder, cco.id).version)},
                           headers=HTMX)
    assert response.status_code == 409 and UNLINKED in _words(response.get_data(as_text=True))
    with pytest.raises(Locked, match="not Synced to QuickBooks any more"):
        erp.accept(approver, _fresh(ChangeOrder, cco.id))
    response = client.post("/erp/accept-selected",
                           data={"selected": f"change-orders:{cco.id}", "confirm": "yes"})
    page = _words(client.get(response.location).get_data(as_text=True))
    assert UNLINKED in page
    run_jobs()
    record = _fresh(ChangeOrder, cco.id)
    assert record.erp_status == ErpStatus.READY_TO_EXPORT and _exports(record) == 0
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", po_id) == before
    # Reject sends it back to the project, editable.
    response = client.post(f"/erp/change-orders/{cco.id}/reject",
                           data={"comment": "The PO was unlinked; wait for the new one."},
                           headers=HTMX)
    assert response.status_code == 200
    run_jobs()
    record = _fresh(ChangeOrder, cco.id)
    assert record.erp_status == ErpStatus.REJECTED and record.erp_editable


def test_retry_export_is_refused_once_the_commitment_was_unlinked(
        client, auth, people, approver, erp_admin, cco, sandbox):
    po_id = cco.commitment.qbo_purchase_order_id
    first = cco.commitment.sov_lines[0].qbo_line_id
    # The bookkeeper deletes the first line in QuickBooks: the export fails for good.
    sandbox.edit_purchase_order(DEMO_REALM, po_id, remove_line_ids=[first])
    record = send_and_accept_existing(cco, approver)
    assert record.erp_status == ErpStatus.FAILED_TO_EXPORT
    books.unlink_commitment(erp_admin, _fresh(Commitment, cco.commitment_id), "PO replaced")
    before = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)
    auth.login(erp_admin)
    card = _words(client.get(f"/erp/change-orders/{cco.id}").get_data(as_text=True))
    assert f"Retry Export: {UNLINKED}" in card
    response = client.post(f"/erp/change-orders/{cco.id}/retry", headers=HTMX)
    assert response.status_code == 409 and UNLINKED in _words(response.get_data(as_text=True))
    run_jobs()
    record = _fresh(ChangeOrder, cco.id)
    assert record.erp_status == ErpStatus.FAILED_TO_EXPORT
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", po_id) == before
    auth.logout()
    auth.login(approver)  # Reject stays: back to the project
    response = client.post(f"/erp/change-orders/{cco.id}/reject",
                           data={"comment": "Unlinked"}, headers=HTMX)
    assert response.status_code == 200
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.REJECTED


def send_and_accept_existing(cco, approver) -> ChangeOrder:
    erp.accept(approver, _fresh(ChangeOrder, cco.id))
    run_jobs()
    return _fresh(ChangeOrder, cco.id)


def test_unlink_of_the_commitment_is_refused_while_a_cco_of_it_is_exporting(
        app, people, approver, erp_admin, cco):
    """Redis down at Accept: the CCO is Exporting, its export queued in the outbox."""
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions["changeorder.queue"] = None
    erp.accept(approver, _fresh(ChangeOrder, cco.id))
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.EXPORTING
    with pytest.raises(Locked, match="queued or running"):
        books.unlink_commitment(erp_admin, _fresh(Commitment, cco.commitment_id), "why")
    commitment = _fresh(Commitment, cco.commitment_id)
    assert commitment.qbo_purchase_order_id and commitment.erp_status == ErpStatus.SYNCED


def test_a_synced_commitments_cco_is_still_accepted(people, approver, cco, sandbox):
    """The check does not refuse the ordinary case."""
    record = send_and_accept_existing(cco, approver)
    assert record.erp_status == ErpStatus.SYNCED



