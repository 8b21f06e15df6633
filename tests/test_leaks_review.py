"""An adversarial review of what the drift line, the approver's cards and the ERP routes tell
someone who may not see a private CCO or another project's records (README, "People and
permissions"). QuickBooks' own total includes Synced private CCOs (known and accepted);
nothing else may say a private CCO's amount, number or words to someone who may not open it."""

from __future__ import annotations

import re
from html import unescape

import pytest

from extensions import db
from models import ErpPermission, ErpStatus
from qbo_sandbox import DEMO_REALM_ID
from tests import test_cco_export as cco_tests
from tests import test_drift_everywhere as drift_tests
from tests.test_cco_export import _approved_cco, _send_accept
from tests.test_drift_everywhere import _cco_url, _edit_in_quickbooks, _erp
from workflow import qbo_drift

R = DEMO_REALM_ID
new_code = cco_tests.new_code  # the fixture: a cost code mapped to a QuickBooks item
two_synced = drift_tests.two_synced  # the fixture: SC-1042 and SC-1043 in QuickBooks


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return " ".join(unescape(response.get_data(as_text=True)).split())


def _commitment_url(commitment) -> str:
    return f"/projects/{commitment.project_id}/commitments/{commitment.id}"


def _here(page: str) -> str:
    match = re.search(r"· here (\$[\d,.\-()]+)", page)
    assert match, "no drift line"
    return match.group(1)


@pytest.fixture
def private_waiting(two_synced, people, factory):
    """SC-1042 in QuickBooks and edited there by the bookkeeper; CCO 001 (public, +$2,500.00)
    and CCO 002 (private to its project admin author, +$777.00), both Approved, not sent."""
    edited, _agreeing = two_synced
    line = edited.sov_lines[0]
    public = factory.change_order(edited, status="approved", lines=((line, "2500.00"),),
                                  reviewer=people.project_admin, title="Added footing")
    secret = factory.change_order(edited, status="approved", lines=((line, "777.00"),),
                                  reviewer=people.project_admin, creator=people.project_admin,
                                  private=True, title="Secret settlement")
    return edited, public, secret


def test_the_drift_line_leaves_out_a_private_cco_the_viewer_may_not_see(
        client, auth, people, sandbox, private_waiting):
    """"here" is the commitment's revised total as this viewer's totals say it: a private CCO
    they may not open is not added in (else "here" less the page's revised total is its
    amount), on the commitment's page and on each of its CCOs' pages."""
    edited, public, _secret = private_waiting
    _edit_in_quickbooks(sandbox, edited)
    auth.login(people.read_only)
    commitment_page = _text(client.get(_commitment_url(edited)))
    cco_panel = _erp(_text(client.get(_cco_url(public))))
    # 185,000.00 + 96,500.50 + the public 2,500.00; never + 777.00
    assert _here(commitment_page) == "$284,000.50"
    assert _here(cco_panel) == "$284,000.50"
    assert "777" not in commitment_page and "285,777.50" not in cco_panel
    auth.logout()
    auth.login(people.project_admin)  # who may see it: its amount is in
    assert _here(_text(client.get(_commitment_url(edited)))) == "$284,777.50"
    assert _here(_erp(_text(client.get(_cco_url(public))))) == "$284,777.50"


@pytest.fixture
def private_synced(synced, people, approver, factory, new_code):
    """SC-1042 in QuickBooks with CCO 001, private to its project admin author, Synced: it
    changed SOV line 1 by +$640.00 and added the line "Vault ladder" $250.00."""
    cco = _approved_cco(factory, synced, changes=((synced.sov_lines[0], "640.00"),),
                        new=(("Vault ladder", "250.00", *new_code),), title="Secret settlement")
    cco.private = True
    cco.created_by = people.project_admin
    db.session.commit()
    done = _send_accept(cco, people, approver)
    assert done.erp_status == ErpStatus.SYNCED
    qbo_drift.poll()
    return synced, done


def test_a_synced_private_cco_is_no_difference_to_one_who_may_not_see_it(
        client, auth, people, private_synced):
    """QuickBooks' total holds the private CCO (accepted); "here" leaves it out for the read
    only member, and that gap alone is no "differs" warning."""
    commitment, _cco = private_synced
    auth.login(people.read_only)
    page = _text(client.get(_commitment_url(commitment)))
    assert "here $281,500.50" in page  # 185,000.00 + 96,500.50: not + 890.00
    assert "drift-differs" not in page and "Changed in QuickBooks" not in page


def test_a_private_ccos_line_changed_in_quickbooks_is_not_named_to_others(
        client, auth, people, sandbox, private_synced, factory):
    """The bookkeeper changes the line a private CCO added: the drift says a line changed
    (and an ERP admin acts on it) but never the CCO's number, its words or our amount to
    someone who may not open it, nor in the history that every member reads."""
    commitment, cco = private_synced
    added = next(line for line in cco.lines if line.sov_line_id is None)
    sandbox.edit_purchase_order(R, commitment.qbo_purchase_order_id,
                                lines={added.qbo_line_id: {"Amount": 300}})
    qbo_drift.poll()
    erp_admin = factory.user(name="Erin ERP admin", erp=ErpPermission.ADMIN, can_push=True)
    for viewer, where in ((people.read_only, _commitment_url(commitment)),
                          (erp_admin, "/erp/quickbooks-changes")):
        auth.logout()
        auth.login(viewer)
        page = _text(client.get(where))
        assert "Changed in QuickBooks" in page or "QuickBooks $300.00" in page
        assert "Vault ladder" not in page and f"CCO {cco.number}" not in page
        assert "$250.00" not in page
        assert "A private CCO's line: QuickBooks $300.00 (changed in QuickBooks" in page
    auth.logout()
    auth.login(people.company_admin)  # the ERP admin keeps QuickBooks' version: the history
    response = client.post(f"{_commitment_url(commitment)}/erp/quickbooks-changes/acknowledge")
    assert response.status_code in (200, 303), response.status_code
    auth.logout()
    auth.login(people.read_only)
    page = _text(client.get(_commitment_url(commitment)))
    assert "quickbooks changes acknowledged — a private cco's line" in page.lower()
    assert "Vault ladder" not in page and "$250.00" not in page


def _erp_routes(app):
    """Every ERP Integrations route that names a record, with the method it answers."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("erp.") and rule.arguments - {"kind"}:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method


@pytest.mark.parametrize("who", ["outsider", "read_only", "company_admin"])
def test_no_erp_route_answers_a_crafted_id_with_a_server_error(app, client, auth, people, who):
    """Ids that name nothing, and kinds that are none: a 404 or 403, never a 500, whoever
    asks (the company admin holds every ERP permission)."""
    auth.login(getattr(people, who))
    checked = 0
    for rule, method in _erp_routes(app):
        for kind in ("commitments", "change-orders", "nonsense"):
            values = {name: 2147483647 for name in rule.arguments if name != "kind"}
            if "kind" in rule.arguments:
                values["kind"] = kind
            url = rule.build(values, append_unknown=False)[1]
            response = client.open(url, method=method, data={"comment": "x", "reason": "x"})
            assert response.status_code in (403, 404), (method, url, response.status_code)
            checked += 1
    assert checked >= 12
