"""Drift wherever a synced commitment appears (docs/quickbooks.md, "Seeing QuickBooks"): the
commitments list says in words which Synced commitments QuickBooks holds otherwise, and a
change order's page shows its commitment's drift. A bookkeeper's edits are made in the
sandbox and read by a change data capture poll, through the real clients."""

from __future__ import annotations

import re
from html import unescape

import pytest

from extensions import db
from models import Commitment, ErpStatus
from qbo_sandbox import DEMO_REALM_ID
from tests import test_cco_export as cco_tests
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import map_for
from tests.test_cco_export import _approved_cco, _send_accept
from tests.test_statement_counts import statements
from workflow import qbo_drift

R = DEMO_REALM_ID
new_code = cco_tests.new_code  # the fixture: a cost code mapped to a QuickBooks item


def _text(response) -> str:
    assert response.status_code == 200
    return " ".join(unescape(response.get_data(as_text=True)).split())


def _list_url(commitment) -> str:
    return f"/projects/{commitment.project_id}/commitments/"


def _cco_url(cco) -> str:
    return (f"/projects/{cco.commitment.project_id}/commitments/{cco.commitment_id}"
            f"/change-orders/{cco.id}")


def _row(page: str, number: str) -> str:
    """The list's row of commitment ``number``."""
    match = re.search(rf'<tr[^>]*>\s*<td data-label="#"><a href="[^"]+">{re.escape(number)}</a>'
                      r'.*?</tr>', page)
    assert match, f"no row {number}"
    return match.group(0)


def _erp(page: str) -> str:
    """The page's ERP panel alone (its history also names changes)."""
    start = page.index('id="erp"')
    return page[start:page.index("</section>", start)]


@pytest.fixture
def two_synced(erp_commitment, people, approver, factory):
    """SC-1042 and SC-1043 in QuickBooks, both read once by change data capture (agreeing)."""
    other = factory.commitment(people.project, vendor=erp_commitment.vendor, number="SC-1043",
                               title="Rebar supply", sov=("1200.00",))
    map_for(other)
    first = send_and_accept(erp_commitment, people, approver)
    second = send_and_accept(other, people, approver)
    assert first.erp_status == second.erp_status == ErpStatus.SYNCED
    qbo_drift.poll()
    return first, second


def _edit_in_quickbooks(sandbox, commitment) -> None:
    """The bookkeeper changes line 2 and adds Freight; the next poll reads it."""
    po_id = commitment.qbo_purchase_order_id
    second = sandbox.get(R, "PurchaseOrder", po_id)["Line"][1]["Id"]
    sandbox.edit_purchase_order(R, po_id, lines={second: {"Amount": 97000}})
    sandbox.add_purchase_order_line(R, po_id, 350, description="Freight", account_id="81")
    qbo_drift.poll()


def test_the_list_says_which_synced_commitments_quickbooks_holds_otherwise(
        client, auth, people, sandbox, two_synced):
    edited, _agreeing = two_synced
    auth.login(people.read_only)  # whoever may see the list sees it: a fact of the commitment
    page = _text(client.get(_list_url(edited)))
    assert "in QuickBooks" not in page  # both agree
    before = statements(client, _list_url(edited))

    _edit_in_quickbooks(sandbox, edited)
    page = _text(client.get(_list_url(edited)))
    row = _row(page, "SC-1042")
    assert "Synced" in row and "Differs in QuickBooks" in row
    assert (f'href="/projects/{edited.project_id}/commitments/{edited.id}#quickbooks-drift"'
            in row)
    assert "in QuickBooks" not in _row(page, "SC-1043")  # the one that agrees: nothing
    assert statements(client, _list_url(edited)) == before  # read in the list's own statement

    # the link lands on the commitment page's drift summary
    commitment_page = _text(client.get(f"{_list_url(edited)}{edited.id}"))
    assert 'id="quickbooks-drift"' in commitment_page
    assert "Freight $350.00 added in QuickBooks" in commitment_page

    sandbox.delete_purchase_order(R, edited.qbo_purchase_order_id)
    qbo_drift.poll()
    row = _row(_text(client.get(_list_url(edited))), "SC-1042")
    assert "Deleted in QuickBooks" in row and "Differs in QuickBooks" not in row


def test_an_acknowledged_difference_leaves_the_list(client, auth, people, sandbox, two_synced):
    edited, _agreeing = two_synced
    _edit_in_quickbooks(sandbox, edited)
    auth.login(people.company_admin)
    assert "Differs in QuickBooks" in _row(_text(client.get(_list_url(edited))), "SC-1042")
    client.post(f"{_list_url(edited)}{edited.id}/erp/quickbooks-changes/acknowledge")
    assert "in QuickBooks" not in _row(_text(client.get(_list_url(edited))), "SC-1042")


def test_a_change_orders_page_shows_its_commitments_drift(client, auth, people, sandbox,
                                                         two_synced, factory):
    edited, agreeing = two_synced
    line = edited.sov_lines[0]
    waiting = factory.change_order(edited, status="approved", lines=((line, "2500.00"),),
                                   reviewer=people.project_admin, title="Added footing")
    private = factory.change_order(edited, status="approved", lines=((line, "100.00"),),
                                   reviewer=people.project_admin, private=True,
                                   title="Private one")
    other = factory.change_order(agreeing, status="approved",
                                 lines=((agreeing.sov_lines[0], "10.00"),),
                                 reviewer=people.project_admin)
    auth.login(people.read_only)
    panel = _erp(_text(client.get(_cco_url(waiting))))
    assert "In QuickBooks" not in panel  # QuickBooks agrees: no drift on a CCO's page
    agreeing_count = statements(client, _cco_url(waiting))

    _edit_in_quickbooks(sandbox, edited)
    panel = _erp(_text(client.get(_cco_url(waiting))))
    assert "Commitment SC-1042's PurchaseOrder" in panel  # not this CCO's: its commitment's
    # here: the revised total this viewer's totals say, without the private CCO's $100.00
    assert "In QuickBooks $282,350.00 · here $284,000.50" in panel
    assert f"CCO #{waiting.number} not sent" in panel  # approved, not yet in QuickBooks
    assert f"CCO #{private.number}" not in panel  # a private CCO this viewer may not see
    assert "Changed in QuickBooks" in panel
    assert "ours $96,500.50, QuickBooks $97,000.00" in panel
    assert "Freight $350.00 added in QuickBooks" in panel
    assert (f'href="/projects/{edited.project_id}/commitments/{edited.id}#quickbooks-drift"'
            in panel)
    assert "Acknowledge" not in panel and "Restore ours" not in panel  # on the commitment's
    # the drift costs the CCO page one statement (inbox.ledger), none per line or CCO
    assert statements(client, _cco_url(waiting)) == agreeing_count + 1
    # the CCO ERP panel alone (its htmx refresh) says it too
    partial = _text(client.get(_cco_url(waiting) + "/erp", headers={"HX-Request": "true"}))
    assert "Freight $350.00 added in QuickBooks" in partial

    assert "In QuickBooks" not in _erp(_text(client.get(_cco_url(other))))  # agrees

    sandbox.delete_purchase_order(R, edited.qbo_purchase_order_id)
    qbo_drift.poll()
    panel = _erp(_text(client.get(_cco_url(waiting))))
    assert "In QuickBooks: deleted" in panel and "deleted in QuickBooks on" in panel


def test_a_commitment_sent_back_to_be_restored_is_no_longer_marked(client, auth, people,
                                                                    sandbox, two_synced):
    """Restore ours puts it back to Ready to Export: the list shows that, not a Synced drift."""
    edited, _agreeing = two_synced
    _edit_in_quickbooks(sandbox, edited)
    auth.login(people.company_admin)
    client.post(f"{_list_url(edited)}{edited.id}/erp/quickbooks-changes/restore")
    db.session.expire_all()
    assert db.session.get(Commitment, edited.id).erp_status == ErpStatus.READY_TO_EXPORT
    row = _row(_text(client.get(_list_url(edited))), "SC-1042")
    assert "Ready to Export" in row and "in QuickBooks" not in row


def _changes(panel: str) -> list[str]:
    listed = re.search(r'<ul class="drift-changes">(.*?)</ul>', panel)
    assert listed, panel
    return re.findall(r"<li>(.*?)</li>", listed.group(1))


def test_a_change_orders_page_reads_our_lines_as_the_commitment_page_does(
        client, auth, people, sandbox, approver, factory, new_code, two_synced):
    """A Synced CCO changed an SOV line and added a line of its own: the CCO page compares
    QuickBooks with the same lines as the commitment page (not its own line as "added")."""
    edited, _agreeing = two_synced
    sov = edited.sov_lines[0]
    synced_cco = _send_accept(_approved_cco(factory, edited, changes=((sov, "1000.00"),),
                                            new=(("Winter protection", "250.00", *new_code),)),
                              people, approver)
    assert synced_cco.erp_status == ErpStatus.SYNCED
    qbo_drift.poll()
    po_id = edited.qbo_purchase_order_id
    lines = sandbox.get(R, "PurchaseOrder", po_id)["Line"]
    winter = next(line["Id"] for line in lines if "Winter protection" in
                  (line.get("Description") or ""))
    sandbox.edit_purchase_order(R, po_id, lines={winter: {"Amount": 300}})
    qbo_drift.poll()
    auth.login(people.standard)
    on_commitment = _changes(_erp(_text(client.get(f"{_list_url(edited)}{edited.id}"))))
    on_cco = _changes(_erp(_text(client.get(_cco_url(synced_cco)))))
    assert on_cco == on_commitment
    assert len(on_cco) == 1 and "Winter protection: ours $250.00, QuickBooks $300.00" in on_cco[0]


def test_a_po_of_a_company_no_longer_connected_is_not_marked(client, auth, people, sandbox,
                                                            two_synced, factory):
    """Once the connection points at another company, the old company's PO is history: the
    list and a CCO's page compare nothing with it (docs/quickbooks.md)."""
    from tests.test_switch_company import OTHER, _switch

    edited, _agreeing = two_synced
    cco = factory.change_order(edited, status="approved", lines=((edited.sov_lines[0], "5.00"),),
                               reviewer=people.project_admin)
    _edit_in_quickbooks(sandbox, edited)
    sandbox.add_company(OTHER, "Harbor Renovations Inc (Sandbox)")
    auth.login(people.project_admin)
    assert "Differs in QuickBooks" in _row(_text(client.get(_list_url(edited))), "SC-1042")
    assert "Changed in QuickBooks" in _erp(_text(client.get(_cco_url(cco))))
    _switch(people, edited)
    assert db.session.get(Commitment, edited.id).qbo_realm_id != OTHER
    assert "in QuickBooks" not in _row(_text(client.get(_list_url(edited))), "SC-1042")
    assert "In QuickBooks" not in _erp(_text(client.get(_cco_url(cco))))


def test_a_cards_drift_line_counts_the_waiting_cco_and_flags_what_it_does_not_explain(
        two_synced, people, approver, factory, sandbox):
    """An approved CCO waiting for Accept is the expected difference: the card's drift line is
    not flagged while QuickBooks holds the rest. QuickBooks holding another total is flagged."""
    from decimal import Decimal

    from workflow.cards import Cards

    edited, _agreeing = two_synced
    qbo_drift.poll()
    waiting = factory.change_order(edited, status="approved",
                                   lines=((edited.sov_lines[0], "2500.00"),
                                          (edited.sov_lines[1], "100.25")),
                                   reviewer=people.project_admin, title="Added footing")
    drift = Cards([waiting], approver).facts(waiting)["drift"]
    assert [cco.grand_total for cco in drift.not_sent] == [Decimal("2600.25")]
    assert drift.differs is False
    state = qbo_drift.drift_of(edited).state
    state.total -= Decimal("1.00")  # QuickBooks holds a dollar less than it should
    db.session.flush()
    assert Cards([waiting], approver).facts(waiting)["drift"].differs is True
